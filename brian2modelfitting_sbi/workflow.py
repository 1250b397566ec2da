"""The posterior workflow methods of :class:`~brian2modelfitting_sbi.Inferencer`.

A mixin of thin methods; the work happens in :mod:`.results`, :mod:`.predictive`,
:mod:`.plotting`, :mod:`.diagnostics`, :mod:`.io` and :mod:`.interop`. It relies on the
Inferencer's state: ``problem``, ``features``, ``space``, ``backend``, ``posterior``,
``rounds``, ``theta``, ``x``, ``x_o``, ``feature_names``, ``target`` and ``sample_array``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from brian2 import Quantity

from .problem import ProblemError


class PosteriorWorkflow:
    """Results, predictive checks, plots, diagnostics, saving and interop of an inference."""

    _map_cache: tuple[Any, np.ndarray] | None = None

    # ------------------------------------------------------------------ helpers
    def _require_posterior(self) -> None:
        if getattr(self, "posterior", None) is None:
            raise RuntimeError("no posterior yet: call infer() first")

    def _condition(self, condition: Mapping[str, Quantity] | None) -> np.ndarray:
        """SI point for conditional views: ``condition`` (complete dict) or the MAP."""
        if condition is None:
            return self._map_array()
        if not isinstance(condition, Mapping):
            raise ProblemError(
                f"condition: expected a dict name -> Quantity for {self.space.names}, "
                f"got {condition!r}"
            )
        return np.asarray(self.space.to_array(condition), dtype=float).reshape(-1)

    # ------------------------------------------------------------------ results
    def _map_array(self, **options: Any) -> np.ndarray:
        from .results import map_estimate

        self._require_posterior()
        cache = self._map_cache
        if options or cache is None or cache[0] is not self.posterior:
            best = map_estimate(self.posterior, self.space, **options)
            self._map_cache = (self.posterior, best)
            return best
        return cache[1]

    def map(self, **options: Any) -> dict[str, Quantity]:
        """Search the maximum a posteriori parameters (and cache them for ``best_params``).

        Parameters
        ----------
        **options
            sbi's ``posterior.map`` settings (``num_iter``, ``num_to_optimize``,
            ``num_init_samples``, ``learning_rate``); ``seed`` (default 0) and ``threads``.
            Defaults: :data:`~brian2modelfitting_sbi.results.DEFAULT_MAP_OPTIONS`.

        Returns
        -------
        dict
            Parameter name → Quantity.
        """
        self._require_posterior()
        return self.space.to_quantities(self._map_array(**options))

    @property
    def best_params(self) -> dict[str, Quantity]:
        """The MAP estimate as a dict name → Quantity, like ``fitter.best_params``.

        Computed on first access with modest settings and cached for this posterior; call
        :meth:`map` to search harder.
        """
        self._require_posterior()
        return self.space.to_quantities(self._map_array())

    def log_prob(self, params: Mapping[str, Quantity]) -> np.ndarray | float:
        """Posterior log density at ``params`` (dict name → Quantity scalars or arrays).

        Per SI unit of each parameter; up to a constant for MCMC-sampled posteriors (SNLE,
        SNRE); ``-inf`` outside the prior box. A float for scalar values, else an array.
        """
        from .results import log_prob

        self._require_posterior()
        return log_prob(self.posterior, self.space, params)

    def summary(self, n_samples: int = 2000, level: float = 0.9, seed: int | None = 0) -> Any:
        """Mean, std, median and central credible interval of each parameter, with units.

        Returns a :class:`~brian2modelfitting_sbi.results.PosteriorSummary`: print it, or use
        ``.to_dataframe()`` / ``.quantities('mean')``.
        """
        from .results import summarize

        _check_count("n_samples", n_samples, 2)
        return summarize(self.space, self.sample_array(n_samples, seed=seed), level)

    # ------------------------------------------------------------------ predictive
    def generate_traces(
        self,
        params: Mapping[str, Quantity] | None = None,
        n_samples: int = 20,
        *,
        variables: Sequence[str] | None = None,
        seed: int | None = None,
        return_params: bool = False,
    ) -> Any:
        """Simulate parameter sets for every input: posterior predictive traces and spikes.

        Parameters
        ----------
        params : dict, optional
            Parameter sets to simulate (name → Quantity scalar or array); by default
            ``n_samples`` draws from the posterior.
        n_samples : int
            Posterior draws when ``params`` is None.
        variables : sequence of str, optional
            Outputs to record (state variables and/or ``'spikes'``); default: every observed
            output.
        seed : int, optional
            Seed of the posterior draws, of the model's noise and of the measurement noise
            (which the simulated traces get as in training, see ``measurement_noise``).
        return_params : bool
            Also return the simulated parameters (dict of Quantity arrays).

        Returns
        -------
        dict
            ``{var: Quantity (n, n_traces, n_steps)}`` and, for spikes,
            ``{'spikes': [[spike times of trace k] for k in traces] for each sample]``.
        """
        from .predictive import simulate_outputs

        if self.space is None:
            raise RuntimeError("no parameter space yet: call infer() (or set_bounds()) first")
        if params is None:
            self._require_posterior()
            _check_count("n_samples", n_samples, 1)
            theta = self.sample_array(n_samples, seed=seed)
        else:
            if not isinstance(params, Mapping):
                raise ProblemError(
                    f"params: expected a dict name -> Quantity for {self.space.names}, "
                    f"got {params!r}"
                )
            theta = np.atleast_2d(self.space.to_array(params))
        outputs = simulate_outputs(
            self.problem,
            self.space.names,
            theta,
            variables=variables,
            target=self.target,
            seed=seed,
            measurement=getattr(self, "measurement", None),
        )
        return (outputs, self.space.to_quantities(theta)) if return_params else outputs

    def plot_predictive(
        self,
        outputs: dict[str, Any] | None = None,
        n_samples: int = 50,
        *,
        level: float = 0.9,
        traces: Sequence[int] | None = None,
        seed: int | None = None,
    ) -> Any:
        """Observed data overlaid with the posterior predictive median and ``level`` band.

        ``outputs`` from :meth:`generate_traces`, or ``n_samples`` fresh posterior draws.
        Returns a matplotlib Figure (not shown).
        """
        from .predictive import plot_predictive

        if outputs is None:
            outputs = self.generate_traces(n_samples=n_samples, seed=seed)
        return plot_predictive(self.problem, outputs, level=level, traces=traces)

    # ------------------------------------------------------------------ plots
    def pairplot(
        self,
        n_samples: int = 2000,
        *,
        points: Any = None,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> Any:
        """Posterior marginals and pairwise histograms, axes ``name [unit]``.

        ``points``: parameter sets to mark (dict name → Quantity, or a list of them, e.g.
        the ground truth); ``limits``: ``{name: [lower, upper]}`` (default: prior bounds).
        Other keyword arguments go to :func:`~brian2modelfitting_sbi.plotting.pairplot`.
        Returns a matplotlib Figure (not shown).
        """
        from .plotting import pairplot

        _check_count("n_samples", n_samples, 2)
        samples = self.sample_array(n_samples, seed=seed)
        return pairplot(self.space, samples, points=points, limits=limits, **kwargs)

    def conditional_pairplot(
        self,
        condition: Mapping[str, Quantity] | None = None,
        *,
        resolution: int = 50,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        points: Any = None,
    ) -> Any:
        """Slices of the posterior density through ``condition`` (default: the MAP).

        Diagonal: each parameter's density with the others fixed at the condition; upper
        triangle: the 2-D slices. Returns a matplotlib Figure (not shown).
        """
        from .plotting import conditional_pairplot

        self._require_posterior()
        point = self._condition(condition)
        return conditional_pairplot(
            self.posterior,
            self.space,
            point,
            resolution=resolution,
            limits=limits,
            points=points,
        )

    def conditional_corrcoef(
        self,
        condition: Mapping[str, Quantity] | None = None,
        *,
        resolution: int = 50,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        plot: bool = False,
    ) -> Any:
        """Correlation matrix of the 2-D conditional densities through ``condition``.

        Returns the ``(d, d)`` array (rows/columns in ``space.names`` order), or with
        ``plot=True`` a labelled heat map of it (matplotlib Figure, not shown).
        """
        from .plotting import conditional_corrcoef, correlation_plot

        self._require_posterior()
        point = self._condition(condition)
        matrix = conditional_corrcoef(
            self.posterior, self.space, point, resolution=resolution, limits=limits
        )
        return correlation_plot(self.space, matrix) if plot else matrix

    # ------------------------------------------------------------------ diagnostics
    def calibrate(
        self,
        n_tests: int = 200,
        method: str = "sbc",
        *,
        n_posterior_samples: int = 200,
        seed: int | None = None,
        n_jobs: int | None = None,
        executor: Any = None,
        progress: bool = False,
    ) -> Any:
        """SBC or TARP on ``n_tests`` fresh simulations from the prior (not kept for training).

        Returns a :class:`~brian2modelfitting_sbi.diagnostics.CalibrationResult` with a
        ``summary`` dict, a ``figure`` and the raw arrays; ``print()`` it for a report.
        """
        from .diagnostics import calibrate

        return calibrate(
            self,
            n_tests,
            method,
            n_posterior_samples=n_posterior_samples,
            seed=seed,
            n_jobs=n_jobs,
            executor=executor,
            progress=progress,
        )

    def check_observation(self, z_limit: float | None = None) -> list[Any]:
        """Observed features outside the training features (see
        :func:`~brian2modelfitting_sbi.diagnostics.check_observation`); empty if none."""
        from .diagnostics import Z_LIMIT, check_observation

        return check_observation(
            self.x, self.x_o, self.feature_names, Z_LIMIT if z_limit is None else z_limit
        )

    # ------------------------------------------------------------------ amortized
    def condition_many(
        self,
        outputs: Any,
        output_var: str | Sequence[str] | None = None,
        *,
        input: Any = None,  # noqa: A002 - the fitters' name
        input_var: str | Sequence[str] | None = None,
        dt: Quantity | None = None,
        names: Sequence[Any] | None = None,
        n_samples: int = 1000,
        level: float = 0.9,
        seed: int | None = 0,
        batched: bool = False,
        with_map: bool = True,
        z_limit: float | None = None,
        threads: int | None = 1,
    ) -> Any:
        """Posteriors of new recordings made with the training protocol, without simulating.

        A single-round SNPE is amortized: each posterior costs a pass of the trained network.
        SNLE/SNRE sample each recording by MCMC or rejection (a ``RuntimeWarning`` says how
        long that takes); multi-round SNPE is refused (its posterior is valid only at the
        training observation). See :mod:`~brian2modelfitting_sbi.amortized`.

        Parameters
        ----------
        outputs : list or Quantity array
            The recordings, each like the constructor's ``output`` (an array
            ``(n_traces, n_steps)`` with units, or a dict ``{'v': ..., 'spikes': ...}``), or
            one array ``(n_recordings, n_traces, n_steps)``.
        output_var : str or list of str, optional
            Output variable(s) of non-dict recordings (default: the training one, if single).
        input, input_var : optional
            The recordings' stimuli, compared with the training ones (refused if they differ);
            None assumes the training protocol.
        dt : Quantity, optional
            The recordings' time step, compared with the training dt.
        names : sequence, optional
            Names of the recordings (e.g. cell ids); default ``'0'``, ``'1'``, ...
        n_samples : int
            Posterior samples per recording.
        level : float
            Probability of the central credible intervals in the summaries.
        seed : int, optional
            Seed of the sampling. Without ``batched``, each recording is sampled with a seed
            derived from ``seed`` and its features: the same recording gets the same samples
            alone or in any batch.
        batched : bool
            SNPE only: draw all recordings' samples in one network call per chunk (sbi's
            ``sample_batched``); statistically the same, but the samples then depend on the
            batch.
        with_map : bool
            Search every MAP now (batched for SNPE); otherwise on first ``best_params``.
        z_limit : float, optional
            Flag features more than this many training standard deviations from the training
            mean (default :data:`~brian2modelfitting_sbi.diagnostics.Z_LIMIT`), or outside the
            training range.
        threads : int or None
            Torch threads while sampling.

        Returns
        -------
        AmortizedResults
            One :class:`~brian2modelfitting_sbi.amortized.RecordingPosterior` per recording;
            ``.to_dataframe()``/``.to_csv(path)`` give the per-recording table.
        """
        from .amortized import condition_recordings

        _check_count("n_samples", n_samples, 2)
        return condition_recordings(
            self,
            outputs,
            output_var,
            input=input,
            input_var=input_var,
            dt=dt,
            names=names,
            n_samples=n_samples,
            level=level,
            seed=seed,
            batched=batched,
            with_map=with_map,
            z_limit=z_limit,
            threads=threads,
        )

    def condition(
        self,
        output: Any,
        output_var: str | Sequence[str] | None = None,
        *,
        name: Any = "0",
        **options: Any,
    ) -> Any:
        """The posterior of one new recording (see :meth:`condition_many` for the options).

        Returns a :class:`~brian2modelfitting_sbi.amortized.RecordingPosterior`:
        ``.samples``, ``.best_params``, ``.summary``, ``.flags``/``.misspecified``,
        ``.to_arviz()``.
        """
        return self.condition_many([output], output_var, names=[name], **options)[0]

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike) -> None:
        """Save problem, parameter space, backend, training data and network weights to
        ``path`` (a zip of JSON, npz and a state dict; see :mod:`~brian2modelfitting_sbi.io`).
        """
        from .io import save

        save(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        features: Any = None,
        namespace: Mapping[str, Any] | None = None,
        backend: Any = None,
        embedding_net: torch.nn.Module | None = None,
        device: str = "cpu",
    ) -> Any:
        """Load a saved inference; it samples the same posterior without simulating.

        Loading runs no code from the file. ``features`` (the same feature code) is needed
        only to simulate more (continue ``infer``, ``calibrate``); ``namespace`` for model
        names that could not be saved; ``backend`` for an unregistered backend class;
        ``embedding_net`` for a saved embedding the features do not provide.
        """
        from .io import load

        return load(
            cls,
            path,
            features=features,
            namespace=namespace,
            backend=backend,
            embedding_net=embedding_net,
            device=device,
        )

    # ------------------------------------------------------------------ interop
    @classmethod
    def from_fitter(
        cls,
        fitter: Any,
        features: Any = None,
        *,
        namespace: Mapping[str, Any] | None = None,
        target: str | None = None,
        level: int = 0,
    ) -> Any:
        """An Inferencer for the model, input and output of a brian2modelfitting fitter.

        Parameters
        ----------
        fitter : TraceFitter or SpikeFitter
            A configured fitter (fitted or not). Its bounds, if it was fitted, become the
            prior box.
        features
            As for the Inferencer.
        namespace : dict, optional
            Values of the model's external constants; captured from the caller if None (the
            fitters also read them at fit time).
        target : str, optional
            Brian 2 code generation target.
        level : int
            How many frames above the caller to capture the namespace from.
        """
        from brian2.core.namespace import get_local_namespace

        from .interop import fitter_arguments, fitter_bounds

        args = fitter_arguments(fitter)
        if namespace is None:
            namespace = get_local_namespace(level + 1)
        inferencer = cls(**args, features=features, namespace=namespace, target=target)
        bounds = fitter_bounds(fitter)
        if bounds:
            inferencer.set_bounds(**bounds)
        return inferencer

    def to_arviz(self, n_samples: int = 2000, seed: int | None = 0) -> Any:
        """Posterior samples as an ArviZ ``InferenceData`` (display units in the variables'
        ``units`` attribute; observed features in ``observed_data``)."""
        from .interop import to_arviz

        _check_count("n_samples", n_samples, 1)
        samples = self.sample_array(n_samples, seed=seed)
        backend = type(self.backend).__name__ if self.backend is not None else ""
        return to_arviz(
            self.space,
            samples,
            x_o=self.x_o,
            feature_names=list(self.feature_names),
            attrs={"backend": backend, "n_simulations": int(self.n_simulations)},
        )


def _check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ProblemError(f"{name}: expected an integer >= {minimum}, got {value!r}")
