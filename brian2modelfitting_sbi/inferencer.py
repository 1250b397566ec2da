"""The user-facing :class:`Inferencer`: fitter-style arguments in, a posterior out."""

from __future__ import annotations

import concurrent.futures as cf
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import torch
from brian2 import Quantity

from .backends import get_backend
from .diagnostics import warn_if_outside
from .features import as_provider
from .features.embedding import check_backend_features, learned_features
from .priors import ParameterSpace
from .problem import Problem, ProblemError
from .results import draw
from .scaling import feature_scale, x_to_torch
from .simulation import (
    ChunkTask,
    SimulationResult,
    SimulationStore,
    apply_invalid,
    check_invalid,
    chunk_executor,
    default_chunk_size,
    describe_invalid,
    n_workers,
    resolve_device,
    resolve_seed,
    simulate_features,
    store_identity,
)
from .simulation.measurement import noise_warning, plan_measurement, recording_noise
from .training import torch_threads
from .workflow import PosteriorWorkflow


@dataclass
class Round:
    """Record of one round of simulations."""

    index: int
    n_simulations: int
    n_invalid: int
    invalid_ranges: dict[str, tuple[Quantity, Quantity]]


class Inferencer(PosteriorWorkflow):
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
        Initial values of state variables, e.g. ``{'v': -70*mV}``.
    features : list of callables, dict, FeatureProvider, Metric or None
        How simulations are summarized (see :func:`~brian2modelfitting_sbi.features.as_provider`).
    namespace : dict, optional
        Values of external constants of the model; captured from the caller if None.
    target : str, optional
        Brian 2 code generation target for the simulations (``'cython'``, ``'numpy'``).
    measurement_noise : dict, optional
        Gaussian noise added to simulated traces before their features, per output
        variable: a level (``{'v': 0.5*mV}``), a
        :class:`~brian2modelfitting_sbi.MeasurementNoise` (``tau=`` for coloured noise), or
        the name of a parameter to infer (``{'v': 'sigma_v'}``, bounds given like any other
        parameter's). See :mod:`~brian2modelfitting_sbi.simulation.measurement` and
        :attr:`recording_noise`.
    """

    def __init__(
        self,
        model: Any,
        input_var: str | Sequence[str] | None = None,
        input: Any = None,  # noqa: A002 - the fitters' name
        output_var: str | Sequence[str] | None = None,
        output: Any = None,
        dt: Quantity | None = None,
        method: str | None = None,
        threshold: str | None = None,
        reset: str | None = None,
        refractory: Any = False,
        param_init: dict[str, Quantity] | None = None,
        features: Any = None,
        namespace: dict[str, Any] | None = None,
        target: str | None = None,
        measurement_noise: dict[str, Any] | None = None,
    ) -> None:
        self.problem = Problem.from_arguments(
            model,
            input_var=input_var,
            input=input,
            output_var=output_var,
            output=output,
            dt=dt,
            method=method,
            threshold=threshold,
            reset=reset,
            refractory=refractory,
            param_init=param_init,
            namespace=namespace,
            level=1,
        )
        self.features = as_provider(features, self.problem)
        self.target = target
        self.measurement = plan_measurement(self.problem, measurement_noise)
        observed = SimulationResult.from_observed(self.problem)
        self.x_o = np.asarray(self.features.compute(observed), dtype=float)
        if not np.all(np.isfinite(self.x_o)):
            bad = [
                n
                for n, v in zip(self.feature_names, self.x_o[0], strict=True)
                if not np.isfinite(v)
            ]
            raise ProblemError(
                f"features: the observed data give non-finite values for {bad}; choose features "
                f"defined for the recordings (e.g. no spike-based feature without spikes)"
            )
        self.space: ParameterSpace | None = None
        self.backend = None
        self.posterior = None
        self.rounds: list[Round] = []
        self.theta = np.empty((0, 0))
        self.x = np.empty((0, self.x_o.shape[1]))
        self._proposals: list[Any] = []
        self._appended = 0

    # ------------------------------------------------------------------ properties
    @property
    def feature_names(self) -> list[str]:
        """Names of the summary features, in column order."""
        return self.features.names(self.problem.n_traces)

    @property
    def x_scale(self) -> np.ndarray:
        """Per-feature scale applied before torch (see :mod:`~brian2modelfitting_sbi.scaling`).

        Derived from the first round of simulations, so it is fixed once training starts.
        """
        if not self.rounds:
            raise RuntimeError("no simulations yet: the feature scale comes from the first round")
        return feature_scale(self.x[: self.rounds[0].n_simulations])

    def x_to_torch(self, x: np.ndarray) -> torch.Tensor:
        """Features ``(n, k)`` in SI units → the float32 tensor the estimator sees."""
        return x_to_torch(np.atleast_2d(x), self.x_scale)

    @property
    def recording_noise(self) -> dict[str, Quantity]:
        """Measurement noise estimated from each observed trace output (a Quantity per variable).

        A robust estimate from the high-frequency residual of the recordings (see
        :func:`~brian2modelfitting_sbi.simulation.measurement.estimate_noise`); use it as
        ``measurement_noise``.
        """
        return recording_noise(self.problem)

    @property
    def n_simulations(self) -> int:
        """Simulations run so far (all rounds, invalid ones included)."""
        return sum(r.n_simulations for r in self.rounds)

    # ------------------------------------------------------------------ inference
    def infer(
        self,
        n_samples: int,
        backend: str | type = "snpe",
        *,
        n_rounds: int = 1,
        seed: int | None = None,
        restart: bool = False,
        chunk_size: int | None = None,
        n_jobs: int | None = None,
        executor: cf.Executor | None = None,
        store: str | os.PathLike | None = None,
        standalone: bool | None = None,
        invalid: str = "drop",
        fill_value: Any = None,
        progress: bool = True,
        device: str = "cpu",
        threads: int | None = 1,
        estimator: str | None = None,
        estimator_options: dict[str, Any] | None = None,
        embedding_net: torch.nn.Module | None = None,
        training: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
        prior: torch.distributions.Distribution | None = None,
        **bounds: Sequence[Quantity],
    ) -> Any:
        """Simulate, train and return the posterior at the observed data.

        Equivalent to :meth:`set_bounds`, then ``n_rounds`` times :meth:`simulate`,
        :meth:`train` and :meth:`build_posterior`. Calling it again continues from the current
        posterior (the next round draws from it) unless ``restart=True``.

        Parameters
        ----------
        n_samples : int
            Simulations per round.
        backend : str or class
            Inference method: a registered name (``'snpe'``, ``'snle'``, ``'snre'``, plugins)
            or a backend class.
        n_rounds : int
            Rounds of sequential inference; round ``r > 1`` draws from the posterior at the
            observed data.
        seed : int, optional
            Makes prior draws, Brian 2 noise and training reproducible.
        restart : bool
            Forget earlier rounds and start from the prior.
        chunk_size, n_jobs, executor, store, standalone, progress
            Simulation settings, see :meth:`simulate`.
        invalid, fill_value
            What training does with simulations whose features are NaN or infinite, see
            :meth:`train`.
        device : str
            Torch device for training.
        threads : int or None
            Torch threads while training and sampling (None: leave torch's setting).
        estimator, estimator_options, embedding_net, training, sampling
            Passed to the backend, see :meth:`train`.
        prior : torch.distributions.Distribution, optional
            Prior over the parameters in SI units replacing the box, see :meth:`set_bounds`.
        **bounds
            ``name=[lower, upper]`` with units, for every parameter to infer
            (``[lower, upper, 'log']`` or ``LogUniform(lower, upper)``: log-uniform).

        Returns
        -------
        posterior
            The sbi posterior at the observed features (also ``self.posterior``).
        """
        _check_count("n_samples", n_samples)
        _check_count("n_rounds", n_rounds)
        check_invalid(invalid, fill_value, self.feature_names)
        # unknown names, and backends that cannot learn from these features, fail before
        # anything runs
        check_backend_features(
            self.features, get_backend(backend), self.x_o.shape[1], embedding_net
        )
        if restart or self.space is None or bounds or prior is not None:
            self.set_bounds(restart=restart, prior=prior, **bounds)
        for _ in range(n_rounds):
            # one seed per round index, so that a continued infer() repeats no round's draws
            round_seed = None if seed is None else seed + 1000 * len(self.rounds)
            self.simulate(
                n_samples,
                seed=round_seed,
                chunk_size=chunk_size,
                n_jobs=n_jobs,
                executor=executor,
                store=store,
                standalone=standalone,
                progress=progress,
                threads=threads,
            )
            self.train(
                backend,
                device=device,
                threads=threads,
                invalid=invalid,
                fill_value=fill_value,
                seed=round_seed,
                estimator=estimator,
                estimator_options=estimator_options,
                embedding_net=embedding_net,
                training=training,
                sampling=sampling,
            )
            self.build_posterior(threads=threads)
        return self.posterior

    def set_bounds(
        self,
        restart: bool = False,
        prior: torch.distributions.Distribution | None = None,
        **bounds: Sequence[Quantity],
    ) -> ParameterSpace:
        """Set the prior; a new prior (or ``restart``) forgets simulations and posterior.

        Without bounds, the current box is kept (``set_bounds(restart=True)`` starts over).

        Parameters
        ----------
        restart : bool
            Forget simulations and posterior even if the prior is unchanged.
        prior : torch.distributions.Distribution, optional
            A prior over the parameters in SI units (siemens, farad...), event shape
            ``(d,)`` with columns in sorted name order, replacing the uniform box; its mass
            must lie inside the bounds (checked before anything runs).
        **bounds
            ``name=[lower, upper]`` (uniform), ``name=[lower, upper, 'log']`` or
            ``name=LogUniform(lower, upper)`` (log-uniform, bounds > 0), with units.
        """
        extra = self.measurement.parameter_units if self.measurement is not None else None
        if not bounds and self.space is not None:
            space = self.space if prior is None else self.space.with_prior(prior)
        else:
            space = ParameterSpace.from_bounds(self.problem, bounds, prior=prior, extra=extra)
        if restart or space != self.space:
            self.space = space
            self.backend = None
            self.posterior = None
            self.rounds = []
            self.theta = np.empty((0, space.dim))
            self.x = np.empty((0, self.x_o.shape[1]))
            self._proposals: list[Any] = []
            self._appended = 0
        return space

    def simulate(
        self,
        n_samples: int,
        *,
        seed: int | None = None,
        chunk_size: int | None = None,
        n_jobs: int | None = None,
        executor: cf.Executor | None = None,
        store: str | os.PathLike | None = None,
        standalone: bool | None = None,
        progress: bool = True,
        threads: int | None = 1,
        **bounds: Sequence[Quantity],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run one round of simulations from the current proposal and keep its features.

        The proposal is the prior (the box of bounds) before any posterior exists, else the
        current posterior at the observed data.

        Parameters
        ----------
        n_samples : int
            Number of parameter sets to simulate.
        seed : int, optional
            Seed of the parameter draws and of Brian 2's random numbers (``xi`` noise
            included): the same seed gives the same theta and x whatever the chunking, the
            workers or the device.
        chunk_size : int, optional
            Parameter sets simulated at once (default: from a memory budget, see
            :func:`~brian2modelfitting_sbi.simulation.default_chunk_size`).
        n_jobs : int, optional
            Simulate in a local pool of this many processes.
        executor : concurrent.futures.Executor or dask.distributed.Client, optional
            Where to run simulation chunks.
        store : str or path-like, optional
            Directory where each finished chunk is saved; the same call on the same store
            resumes (finished chunks are loaded, not simulated again). A store of other
            simulations is refused.
        standalone : bool, optional
            Simulate on Brian's C++ standalone device (compiled once per process). None
            follows ``set_device``: standalone if the script selected ``'cpp_standalone'``.
        progress : bool
            Show a progress bar over simulations.
        threads : int or None
            Torch threads while drawing from a posterior proposal.
        **bounds
            Prior bounds, if not set before.

        Returns
        -------
        theta, x : numpy.ndarray
            This round's parameters (SI floats) and features (NaN rows included).
        """
        _check_count("n_samples", n_samples)
        if chunk_size is not None:
            _check_count("chunk_size", chunk_size)
        entropy = resolve_seed(seed)
        device_name = resolve_device(standalone)
        if bounds or self.space is None:
            self.set_bounds(**bounds)
        proposal = self.posterior
        message = noise_warning(self.problem, self.measurement)
        if message:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        recording = self.features.recording()
        with chunk_executor(n_jobs, executor) as pool:
            size = chunk_size or default_chunk_size(
                self.problem, recording, n_samples, n_workers=n_workers(pool)
            )
            rnd = theta = None
            if store is not None:
                identity = store_identity(
                    self.problem.fingerprint(),
                    self.feature_names,
                    self.x_o,
                    self.space.to_json(),
                    measurement=None if self.measurement is None else self.measurement.to_json(),
                )
                rnd = SimulationStore(store, identity).round(
                    len(self.rounds),
                    n_samples=n_samples,
                    seed=seed,
                    entropy=entropy,
                    chunk_size=size,
                    chunk_size_given=chunk_size is not None,
                    proposal="prior" if proposal is None else type(self.backend).__name__,
                )
                size, entropy, theta = rnd.chunk_size, rnd.entropy, rnd.load_theta()
            task = ChunkTask(
                self.problem,
                tuple(self.space.names),
                int(size),
                recording,
                self.target,
                cloudpickle.dumps(self.features),
                device=device_name,
                measurement=self.measurement,
            )
            if theta is None:
                theta = self._draw(proposal, n_samples, seed, threads)
                if rnd is not None:
                    rnd.save_theta(theta)
            x = simulate_features(
                task,
                theta,
                executor=pool,
                seed=entropy,
                progress=progress,
                on_chunk=None if rnd is None else rnd.save_chunk,
                skip=None if rnd is None else rnd.load_chunk,
            )
        valid = np.all(np.isfinite(x), axis=1)
        self.rounds.append(self._report(len(self.rounds), theta, valid, x))
        self._proposals.append(proposal)
        self.theta = np.concatenate([self.theta, theta])
        self.x = np.concatenate([self.x, x])
        return theta, x

    def _draw(
        self, proposal: Any, n_samples: int, seed: int | None, threads: int | None
    ) -> np.ndarray:
        """``n_samples`` parameter sets from the prior box or a posterior proposal."""
        if proposal is None:
            return self.space.sample_prior(n_samples, np.random.default_rng(seed))
        return draw(proposal, self.space, n_samples, seed, threads)

    def train(
        self,
        backend: str | type = "snpe",
        *,
        device: str = "cpu",
        threads: int | None = 1,
        invalid: str = "drop",
        fill_value: Any = None,
        seed: int | None = None,
        estimator: str | None = None,
        estimator_options: dict[str, Any] | None = None,
        embedding_net: torch.nn.Module | None = None,
        training: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> Any:
        """Train the backend on every round simulated so far.

        A backend of another kind than the current one is created afresh and trained on all
        stored rounds, so one set of simulations can train SNPE, SNLE and SNRE in turn; so is
        one trained again without new simulations (e.g. with other settings).

        Parameters
        ----------
        backend : str or class
            Registered backend name or backend class.
        device : str
            Torch device.
        threads : int or None
            Torch threads during training.
        invalid : {'drop', 'keep', 'fill'}
            Simulations with NaN/inf features are left out (default), kept as they are, or
            their non-finite values replaced by ``fill_value``.
        fill_value : float, sequence, dict or str, optional
            With ``invalid='fill'``: one value, one per feature (sequence or ``{name: value}``),
            or a per-feature statistic of the finite values (``'min'``, ``'max'``, ``'mean'``,
            ``'median'``).
        seed : int, optional
            Seed of the network initialisation and training batches.
        estimator : str, optional
            Network type (e.g. ``'maf'``, ``'nsf'``, ``'mdn'``; ``'resnet'`` for SNRE).
        estimator_options : dict, optional
            Builder options (``hidden_features``, ``num_transforms``, ...).
        embedding_net : torch.nn.Module, optional
            Embedding of x; the feature provider's default (if any) when None.
        training : dict, optional
            Training settings overriding the defaults (see :mod:`~brian2modelfitting_sbi.training`).
        sampling : dict, optional
            Posterior settings overriding the defaults.

        Returns
        -------
        backend
            The trained backend (also ``self.backend``).
        """
        check_invalid(invalid, fill_value, self.feature_names)
        if not self.rounds:
            raise RuntimeError("no simulations yet: call simulate() (or infer()) first")
        cls = get_backend(backend)
        if seed is not None:
            torch.manual_seed(seed)
        with torch_threads(threads):
            # A new backend kind, or no new round since the last training (the user retrains
            # with other settings): start a fresh estimator on every stored round.
            fresh = self._appended == len(self.rounds)
            if self.backend is None or type(self.backend) is not cls or fresh:
                embedding_net, estimator_options = learned_features(
                    self.features, cls, self.x_o.shape[1], embedding_net, estimator_options
                )
                options = {
                    k: v
                    for k, v in dict(
                        estimator=estimator,
                        estimator_options=estimator_options,
                        embedding_net=embedding_net,
                        training=training,
                        sampling=sampling,
                    ).items()
                    if v is not None
                }
                self.backend = cls(self.space.prior(device), device, **options)
                self._appended = 0
            start = 0
            for r, info in enumerate(self.rounds):
                stop = start + info.n_simulations
                if r >= self._appended:
                    theta, x = apply_invalid(
                        self.theta[start:stop],
                        self.x[start:stop],
                        invalid,
                        fill_value,
                        self.feature_names,
                        reference=self.x,
                    )
                    if len(theta) == 0:
                        raise RuntimeError(
                            f"round {r + 1}: all {info.n_simulations} simulations gave invalid "
                            f"(NaN/inf) features; check the bounds and the features"
                        )
                    self.backend.append_simulations(
                        self.space.to_torch(theta),
                        self.x_to_torch(x),
                        self._proposals[r],
                    )
                start = stop
            self._appended = len(self.rounds)
            self.backend.train()
        return self.backend

    def build_posterior(self, threads: int | None = 1) -> Any:
        """Build the posterior of the trained backend at the observed features."""
        if self.backend is None:
            raise RuntimeError("no trained backend yet: call train() (or infer()) first")
        with torch_threads(threads):
            self.posterior = self.backend.build_posterior(
                self.x_to_torch(self.x_o)
            )
        warn_if_outside(self.x, self.x_o, self.feature_names)
        return self.posterior

    def _report(
        self, index: int, theta: np.ndarray, valid: np.ndarray, x: np.ndarray | None = None
    ) -> Round:
        bad = theta[~valid]
        ranges = {}
        if len(bad):
            lo = self.space.to_quantities(bad.min(axis=0))
            hi = self.space.to_quantities(bad.max(axis=0))
            ranges = {name: (lo[name], hi[name]) for name in self.space.names}
            where = ", ".join(f"{k} in [{a}, {b}]" for k, (a, b) in ranges.items())
            if x is not None:
                where += f"; most often non-finite: {describe_invalid(x, self.feature_names)}"
            warnings.warn(
                f"round {index + 1}: {len(bad)} of {len(theta)} simulations gave NaN/inf "
                f"features ({where})",
                RuntimeWarning,
                stacklevel=3,
            )
        return Round(index + 1, len(theta), len(bad), ranges)

    # ------------------------------------------------------------------ results
    def _require_posterior(self) -> None:
        if self.posterior is None:
            raise RuntimeError("no posterior yet: call infer() first")

    def sample_array(self, n: int, seed: int | None = None, threads: int | None = 1) -> np.ndarray:
        """``n`` posterior samples as SI floats ``(n, d)``, columns in ``space.names`` order.

        The same ``seed`` gives the same samples (torch and, for MCMC, numpy are seeded;
        the global random states are restored afterwards).
        """
        self._require_posterior()
        return draw(self.posterior, self.space, n, seed, threads)

    def sample(self, n: int, seed: int | None = None) -> dict[str, Quantity]:
        """``n`` posterior samples as a dict name → Quantity array."""
        return self.space.to_quantities(self.sample_array(n, seed))


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ProblemError(f"{name}: expected an integer >= 1, got {value!r}")
