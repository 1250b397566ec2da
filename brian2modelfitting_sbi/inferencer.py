"""The user-facing :class:`Inferencer`: fitter-style arguments in, a posterior out.

A façade: it validates once, keeps the state of one inference (the parameter space, one
:class:`~brian2modelfitting_sbi.inference.rounds.Round` record per round, the trained backend
and the :class:`~brian2modelfitting_sbi.posterior.Posterior` at the observed data) and
delegates the work to :mod:`.inference` (simulating, training, restoring) and to the
Posterior (samples, MAP, summaries, plots).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity

from .backends import get_backend
from .errors import check_count, check_seed, renamed, require_fitted
from .features import as_provider
from .features.base import observed_features
from .inference.fit import backend_kind, check_capabilities, next_proposal, train_backend
from .inference.options import SamplingOptions, SimulationOptions, TrainingOptions, split_keywords
from .inference.persistence import PersistenceMethods
from .inference.results import ResultMethods
from .inference.rounds import History, Round, given_round, make_round
from .inference.simulate import simulate_round
from .inference.space import make_space, warn_noise_free
from .inference.state import StateProperties
from .inference.workers import WorkerMethods
from .posterior import Posterior
from .posterior.diagnostics import warn_if_outside
from .priors import ParameterSpace
from .problem import Problem
from .simulation import check_invalid
from .simulation.measurement import bounded_parameters, plan_measurement
from .threads import torch_threads
from .upstream import UpstreamAttributes, calc_prior, get_param_dict  # noqa: F401 - upstream's
from .upstream import fitting as upstream
from .upstream.arguments import OUR_TRAIN_OPTIONS, hints, split_infer_keywords

__all__ = ["Inferencer"]  # Round stays importable from here (old path)


class Inferencer(StateProperties, ResultMethods, PersistenceMethods, WorkerMethods,
                 UpstreamAttributes):
    """Simulation-based inference for a Brian 2 model, with the fitters' arguments.

    Parameters
    ----------
    model : str or brian2.Equations
        Model equations; parameters to infer are declared as ``name : unit (constant)``.
    input_var : str, optional
        Name of the input variable (``'I'``) when ``input`` is an array.
    input : Quantity array or dict
        Stimuli, ``(n_traces, n_steps)`` with units, or ``{'I': array}``.
    output_var : str or list of str, optional
        Observed variable(s): a state variable (``'v'``) and/or ``'spikes'``.
    output : Quantity array, list of spike-time arrays, or dict
        Recordings matching the inputs, or ``{'v': traces, 'spikes': spike_times}``.
    dt : Quantity
        Time step of inputs, recordings and simulations.
    method : str, optional
        Integration method (Brian 2 chooses if None).
    threshold, reset : str, optional
        Spiking conditions, as for ``NeuronGroup``.
    refractory : bool, str or Quantity
        Refractoriness, as for ``NeuronGroup``.
    param_init : dict, optional
        Initial values of state variables, e.g. ``{'v': -70*mV}``, or string expressions
        evaluated by Brian 2 after the parameters are set (``{'v': 'VT'}``).
    features : list of callables, dict, FeatureProvider, Metric or None
        How simulations are summarized (see :func:`~brian2modelfitting_sbi.features.as_provider`);
        the provider is bound to this problem as a copy (the object given is not changed).
    namespace : dict, optional
        Values of external constants of the model; captured from the caller if None.
    target : str, optional
        Brian 2 code generation target for the simulations (``'cython'``, ``'numpy'``).
    measurement_noise : dict, optional
        Noise added to simulated traces before their features, per output variable: a level
        (``{'v': 0.5*mV}``), a :class:`~brian2modelfitting_sbi.MeasurementNoise` (``tau=``:
        coloured), or a parameter to infer (``{'v': 'sigma_v'}``, bounded like the others);
        see :mod:`~brian2modelfitting_sbi.simulation.measurement` and :attr:`recording_noise`.
    """

    def __init__(
        self, model: Any, input_var: str | Sequence[str] | None = None,
        input: Any = None,  # noqa: A002 - the fitters' name
        output_var: str | Sequence[str] | None = None, output: Any = None,
        dt: Quantity | None = None, method: str | None = None, threshold: str | None = None,
        reset: str | None = None, refractory: Any = False,
        param_init: dict[str, Quantity | str] | None = None, features: Any = None,
        namespace: dict[str, Any] | None = None, target: str | None = None,
        measurement_noise: Mapping[str, Any] | None = None,
    ) -> None:
        self.problem = Problem.from_arguments(
            model, input_var=input_var, input=input, output_var=output_var, output=output,
            dt=dt, method=method, threshold=threshold, reset=reset, refractory=refractory,
            param_init=param_init, namespace=namespace, level=1,
        )
        self.features = as_provider(features, self.problem)
        self.target = target
        self.measurement = plan_measurement(self.problem, measurement_noise)
        self.x_o = observed_features(self.features, self.problem)
        self._space: ParameterSpace | None = None
        self._forget(0)

    def _forget(self, dim: int) -> None:
        """Start over: no rounds, no backend, no posterior."""
        self._history = History(dim, self.x_o.shape[1])
        self._backend: Any = None
        self._appended = 0
        self._result: Posterior | None = None

    # ------------------------------------------------------------------ inference
    def infer(
        self, n_samples: int | None = None, backend: str | type = "snpe", *, n_rounds: int = 1,
        seed: int | None = None, restart: bool = False,
        simulation: SimulationOptions | Mapping[str, Any] | None = None,
        training: TrainingOptions | Mapping[str, Any] | None = None,
        sampling: SamplingOptions | Mapping[str, Any] | None = None,
        n_simulations: int | None = None, prior: Any = None, **options: Any,
    ) -> Any:
        """Simulate, train and return the posterior at the observed data.

        :meth:`set_bounds`, then ``n_rounds`` times :meth:`simulate`, :meth:`train` and
        :meth:`build_posterior`. Calling it again continues from the current posterior (the
        next round draws from it) unless ``restart=True``.

        Parameters
        ----------
        n_samples : int
            Simulations per round (the fitters' name; ``n_simulations=`` is the same).
        backend : str or class
            A registered name (``'snpe'``, ``'snle'``, ``'snre'``, plugins) or a backend class.
        n_rounds : int
            Rounds of sequential inference; round ``r > 1`` draws from the posterior.
        seed : int, optional
            Makes prior draws, Brian 2 noise and training reproducible.
        restart : bool
            Forget earlier rounds and start from the prior.
        simulation : SimulationOptions or dict, optional
            Simulation settings (see :meth:`simulate`).
        training : TrainingOptions or dict, optional
            Training settings; a plain dict overrides the backend's training defaults, as in
            :meth:`train`.
        sampling : SamplingOptions or dict, optional
            Posterior settings; a plain dict overrides the backend's sampler settings.
        prior : torch.distributions.Distribution, optional
            A prior over SI values replacing the box, see :meth:`set_bounds`.
        **options
            ``name=[lower, upper]`` bounds with units for every parameter to infer
            (``[lower, upper, 'log']`` or ``LogUniform(lower, upper)``: log-uniform), and the
            settings of the groups as keywords (``chunk_size``, ``n_jobs``, ``executor``,
            ``store``, ``standalone``, ``progress``, ``device``, ``threads``, ``invalid``,
            ``fill_value``, ``estimator``, ``estimator_options``, ``embedding_net``,
            ``ensemble``); also brian2modelfitting's ``infer`` options (``inference_method``,
            ``density_estimator_model``, ``inference_kwargs``, ``train_kwargs``,
            ``posterior_kwargs``, ``sbi_device``, ``theta``, ``x``), see
            :func:`~brian2modelfitting_sbi.upstream.fitting.infer`. Without ``n_samples``, a
            posterior from earlier rounds is continued with as many simulations per round.

        Returns
        -------
        posterior
            The sbi posterior at the observed features (also ``self.posterior``; the
            :class:`~brian2modelfitting_sbi.posterior.Posterior` is ``self.result``).
        """
        n = renamed("n_samples", n_samples, "n_simulations", n_simulations)
        names = bounded_parameters(self.problem, self.measurement)
        options, legacy = split_infer_keywords(names, options)
        if legacy or n is None:
            if prior is not None:
                self.set_bounds(prior=prior, **{k: v for k, v in options.items() if k in names})
            return upstream.infer(self, n, backend, legacy, dict(
                options, n_rounds=n_rounds, seed=seed, restart=restart, simulation=simulation,
                training=training, sampling=sampling))
        check_count("n_samples" if n_simulations is None else "n_simulations", n, 1)
        check_count("n_rounds", n_rounds, 1)
        check_seed(seed)
        sim, fit, post, bounds = split_keywords(options, simulation, training, sampling)
        self._check_invalid(fit)
        check_capabilities(get_backend(backend), self.features, self.x_o.shape[1], fit, post,
                           sequential=n_rounds > 1 or (self._result is not None and not restart))
        if restart or self._space is None or bounds or prior is not None:
            self.set_bounds(restart=restart, prior=prior, **bounds)
        for _ in range(n_rounds):
            # one seed per round index, so that a continued infer() repeats no round's draws
            round_seed = None if seed is None else seed + 1000 * len(self._history)
            self.simulate(n, seed=round_seed, simulation=sim)
            self.train(backend, seed=round_seed, training=fit, sampling=post)
            self.build_posterior(threads=post.threads)
        return self.posterior

    def _check_invalid(self, fit: TrainingOptions) -> None:
        check_invalid(fit.invalid, fit.fill_value, self.feature_names)

    def set_bounds(self, restart: bool = False, prior: Any = None,
                   **bounds: Sequence[Quantity]) -> ParameterSpace:
        """Set the prior; a new prior (or ``restart``) forgets simulations and posterior.

        ``name=[lower, upper]`` (uniform), ``[lower, upper, 'log']`` or
        ``LogUniform(lower, upper)`` (log-uniform, bounds > 0), with units; ``prior``: a torch
        distribution over SI values (event shape ``(d,)``, columns in sorted name order, mass
        inside the bounds) replacing the box. Without bounds, the current box is kept
        (``set_bounds(restart=True)`` starts over).
        """
        space = make_space(self.problem, self.measurement, self._space, bounds, prior)
        if restart or space != self._space:
            self._space = space
            self._forget(space.dim)
        return space

    def simulate(
        self, n_samples: int | None = None, *, seed: int | None = None,
        simulation: SimulationOptions | Mapping[str, Any] | None = None,
        n_simulations: int | None = None, **options: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run one round of simulations from the current proposal and keep its features.

        The proposal is the prior (the box of bounds) before any posterior exists, else the
        current posterior at the observed data.

        Parameters
        ----------
        n_samples : int
            Parameter sets to simulate (the fitters' name; ``n_simulations=`` is the same).
        seed : int, optional
            Seed of the parameter draws and of Brian 2's random numbers (``xi`` noise
            included): the same seed gives the same theta and x whatever the chunking, the
            workers or the device.
        simulation : SimulationOptions or dict, optional
            Where and how to simulate: ``chunk_size``, ``n_jobs``, ``executor`` (an Executor
            or a Dask client), ``store`` (a directory of finished chunks: the same call
            resumes), ``standalone``, ``progress``, ``threads`` (see
            :class:`~brian2modelfitting_sbi.inference.options.SimulationOptions`).
        **options
            The settings of ``simulation`` as keywords, and prior bounds if not set before.

        Returns
        -------
        theta, x : numpy.ndarray
            This round's parameters (SI floats) and features (NaN rows included).
        """
        n = renamed("n_samples", n_samples, "n_simulations", n_simulations)
        check_count("n_samples" if n_simulations is None else "n_simulations", n, 1)
        check_seed(seed)
        sim, _, _, bounds = split_keywords(options, simulation)
        if bounds or self._space is None:
            self.set_bounds(**bounds)
        proposal = next_proposal(self._backend, self.posterior)
        warn_noise_free(self.problem, self.measurement)
        theta, x = simulate_round(
            self.problem, self.features, self._space, n_simulations=n, proposal=proposal,
            proposal_label="prior" if proposal is None else type(self._backend).__name__,
            round_index=len(self._history), x_o=self.x_o, seed=seed, target=self.target,
            options=self._pooled(sim), measurement=self.measurement, timings=(timings := []),
        )
        record = make_round(len(self._history) + 1, self._space, theta, x, proposal,
                            self.feature_names, timings)
        self._history = self._history.add(record)
        return theta, x

    def add_round(self, theta: Any, x: Any, proposal: Any = None) -> Round:
        """Record ``theta`` ``(n, d)`` (SI floats) and their features ``x`` ``(n, k)``,
        simulated elsewhere, as the next round (``proposal``: the posterior they were drawn
        from, None for the prior); the next :meth:`train` learns from them."""
        require_fitted(self._space, "prior", "set_bounds() (or init_prior())")
        record = given_round(len(self._history) + 1, self._space, theta, x, proposal,
                             self.feature_names)
        self._history = self._history.add(record)
        return record

    def train(
        self, backend: Any = "snpe", *upstream_args: Any, seed: int | None = None,
        training: TrainingOptions | Mapping[str, Any] | None = None,
        sampling: SamplingOptions | Mapping[str, Any] | None = None, **options: Any,
    ) -> Any:
        """Train the backend on every round simulated so far.

        A backend of another kind than the current one is created afresh and trained on all
        stored rounds, so one set of simulations can train SNPE, SNLE and SNRE in turn; so is
        one trained again without new simulations (e.g. with other settings).

        Parameters
        ----------
        backend : str, class or backend object
            Registered backend name or backend class; a backend object (e.g. from
            ``init_inference``) is trained in place on the rounds it has not seen.
        *upstream_args
            brian2modelfitting's ``train(inference, theta, x, proposal=None, **train_kwargs)``:
            ``theta`` and ``x`` become the next round, ``**options`` are sbi's training
            settings (see :func:`~brian2modelfitting_sbi.upstream.fitting.train`).
        seed : int, optional
            Seed of the network initialisation and training batches.
        training : TrainingOptions or dict, optional
            A dict overrides the backend's training defaults (see
            :mod:`~brian2modelfitting_sbi.backends.defaults`); a
            :class:`~brian2modelfitting_sbi.inference.options.TrainingOptions` gives all
            training settings.
        sampling : SamplingOptions or dict, optional
            Posterior settings overriding the backend's defaults.
        **options
            ``device``, ``threads``, ``invalid`` (``'drop'``, ``'keep'`` or ``'fill'``: what
            to do with simulations whose features are NaN/inf), ``fill_value`` (one value,
            one per feature, or ``'min'``/``'max'``/``'mean'``/``'median'``), ``estimator``
            (``'maf'``, ``'nsf'``, ``'mdn'``; ``'resnet'`` for SNRE), ``estimator_options``,
            ``embedding_net`` (the feature provider's default when None), ``ensemble`` (k
            networks trained with k seeds on the same simulations, their posteriors mixed:
            :mod:`~brian2modelfitting_sbi.backends.ensemble`).

        Returns
        -------
        backend
            The trained backend (also ``self.backend``).
        """
        if upstream_args:
            return upstream.train(self, backend, upstream_args, options)
        check_seed(seed)
        _, fit, post, rest = split_keywords(options, None, training, sampling)
        if rest:
            raise TypeError(f"train() got unexpected keyword arguments "
                            f"{hints(sorted(rest), OUR_TRAIN_OPTIONS)}")
        self._check_invalid(fit)
        require_fitted(self._history.rounds, "simulations", "simulate() (or infer())")
        self._backend, self._appended = train_backend(
            backend_kind(backend), self._backend, self._appended, self._history, self._space,
            self.features, self.feature_names, options=fit, sampling=post, seed=seed,
        )
        return self._backend

    def build_posterior(self, inference: Any = None, *, threads: int | None = 1,
                        **posterior_kwargs: Any) -> Any:
        """Build the posterior of the trained backend at the observed features.

        brian2modelfitting's form ``build_posterior(inference, **posterior_kwargs)`` returns
        ``(inference, posterior)``, see
        :func:`~brian2modelfitting_sbi.upstream.fitting.build_posterior`.
        """
        if inference is not None or posterior_kwargs:
            return upstream.build_posterior(self, inference, posterior_kwargs)
        require_fitted(self._backend, "trained backend", "train() (or infer())")
        with torch_threads(threads):
            estimate = self._backend.build_posterior(self.x_to_torch(self.x_o))
        self._adopt(estimate)
        warn_if_outside(self.x, self.x_o, self.feature_names)
        return self.posterior

    def _adopt(self, estimate: Any) -> None:
        self._result = Posterior(
            estimate, self._space, self.x_o, self.feature_names, training_x=self.x,
            attrs={"backend": type(self._backend).__name__,
                   "n_simulations": int(self.n_simulations)},
        )
