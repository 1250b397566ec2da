"""The result methods of :class:`~brian2modelfitting_sbi.Inferencer`: short delegations.

Each method hands the work to the :class:`~brian2modelfitting_sbi.posterior.Posterior` at the
observed data (``result``) or to a function of :mod:`~brian2modelfitting_sbi.posterior`; they
read only the Inferencer's public state (``result``, ``space``, ``problem``, ``features``,
``target``, ``x``, ``x_o``, ``feature_names``, ``backend``, ``rounds``, ``sequential``,
``x_to_torch``) and change none of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity

from ..archive import SavedFeatures
from ..errors import ProblemError, check_count, renamed, require_fitted
from ..posterior import AmortizedResults, Posterior, TrainedEstimator, posteriors_from_features
from ..posterior.amortization import amortization_status
from ..posterior.conditioning import check_options
from ..posterior.diagnostics import check_calibration_options, run_calibration
from ..posterior.predictive import plot_predictive, simulate_outputs
from ..posterior.recordings import recording_features
from ..posterior.summary import PosteriorSummary
from ..posterior.trust import TrustBudget, TrustReport
from ..upstream import plots as upstream_plots
from ..upstream import results as upstream_results
from ..upstream.arguments import is_shape, is_upstream_pairplot, is_upstream_traces
from .options import SimulationOptions, TrainingOptions
from .simulate import simulate_prior_tests
from .trust import run_trust_report

__all__ = ["ResultMethods"]


class ResultMethods:
    """Results, predictive checks, diagnostics and amortized conditioning of an inference."""

    def _require_result(self) -> Posterior:
        require_fitted(self.result, "posterior", "infer()")
        return self.result

    # ------------------------------------------------------------------ results
    def sample_array(self, n: int, seed: int | None = None, threads: int | None = 1) -> np.ndarray:
        """``n`` posterior draws as SI floats ``(n, d)`` (see :meth:`Posterior.draw
        <brian2modelfitting_sbi.posterior.Posterior.draw>`)."""
        result = self._require_result()
        return result.draw(check_count("n", n, 1), seed, threads)

    def sample(self, n: int | tuple, seed: int | None = None, **options: Any) -> Any:
        """``n`` posterior draws as a dict name → Quantity array.

        With a shape (``sample((10_000,))``, brian2modelfitting's form), an array ``shape +
        (d,)`` of SI floats, columns in ``param_names`` order (see
        :func:`~brian2modelfitting_sbi.upstream.results.sample`).
        """
        if is_shape(n) or options:
            return upstream_results.sample(self, n, seed=seed, **options)
        result = self._require_result()
        return result.sample(check_count("n", n, 1), seed)

    def map(self, **options: Any) -> dict[str, Quantity]:
        """Search the MAP (cached for ``best_params``), see :meth:`Posterior.map
        <brian2modelfitting_sbi.posterior.Posterior.map>`."""
        return self._require_result().map(**options)

    @property
    def best_params(self) -> dict[str, Quantity]:
        """The MAP estimate as a dict name → Quantity, like ``fitter.best_params``."""
        return self._require_result().best_params

    def log_prob(self, params: Mapping[str, Quantity]) -> np.ndarray | float:
        """Posterior log density at ``params`` (see :meth:`Posterior.log_prob
        <brian2modelfitting_sbi.posterior.Posterior.log_prob>`)."""
        return self._require_result().log_prob(params)

    def summary(
        self, n_draws: int | None = None, level: float = 0.9, seed: int | None = 0, *,
        n_samples: int | None = None,
    ) -> PosteriorSummary:
        """Mean, std, median and central credible interval of each parameter, with units, from
        ``n_draws`` (default 2000; old spelling ``n_samples``) fresh draws."""
        n = renamed("n_draws", n_draws, "n_samples", n_samples, 2000)
        check_count("n_samples" if n_samples is not None else "n_draws", n, 2)
        return self._require_result().summarize(n, level, seed)

    def pairplot(self, n_draws: Any = None, *, n_samples: int | None = None,
                 **options: Any) -> Any:
        """Posterior marginals and pairwise histograms (see :meth:`Posterior.pairplot
        <brian2modelfitting_sbi.posterior.Posterior.pairplot>`).

        brian2modelfitting's form (a samples array first, or its keywords ``samples``,
        ``labels``, ``ticks``, ``subset`` and sbi's plot options) draws on a pyplot figure and
        returns ``(fig, axes)``, see :func:`~brian2modelfitting_sbi.upstream.plots.pairplot`.
        """
        if is_upstream_pairplot(n_draws, options):
            return upstream_plots.pairplot(self, n_draws, **options)
        n = renamed("n_draws", n_draws, "n_samples", n_samples, 2000)
        check_count("n_samples" if n_samples is not None else "n_draws", n, 2)
        return self._require_result().pairplot(n, **options)

    def conditional_pairplot(self, condition: Mapping[str, Quantity] | None = None,
                             **options: Any) -> Any:
        """Density slices through ``condition`` (default: the MAP), see
        :meth:`Posterior.conditional_pairplot
        <brian2modelfitting_sbi.posterior.Posterior.conditional_pairplot>`.

        brian2modelfitting's form (an array ``condition``, e.g. from ``sample((1,))``, or its
        keywords ``labels``, ``ticks``, ``subset``, ``density``...) draws on a pyplot figure
        and returns ``(fig, axes)``, see
        :func:`~brian2modelfitting_sbi.upstream.plots.conditional_pairplot`.
        """
        if set(options) - {"resolution", "limits", "points"} or not (
            condition is None or isinstance(condition, Mapping)
        ):
            return upstream_plots.conditional_pairplot(self, condition, **options)
        return self._require_result().conditional_pairplot(condition, **options)

    def conditional_corrcoef(self, condition: Mapping[str, Quantity] | None = None,
                             **options: Any) -> Any:
        """Correlations of the 2-D conditional densities, see
        :meth:`Posterior.conditional_corrcoef
        <brian2modelfitting_sbi.posterior.Posterior.conditional_corrcoef>`."""
        return self._require_result().conditional_corrcoef(condition, **options)

    def to_arviz(self, n_draws: int | None = None, seed: int | None = 0, *,
                 n_samples: int | None = None) -> Any:
        """``n_draws`` (default 2000) posterior draws as an ArviZ ``InferenceData``."""
        n = renamed("n_draws", n_draws, "n_samples", n_samples, 2000)
        check_count("n_samples" if n_samples is not None else "n_draws", n, 1)
        return self._require_result().to_arviz(n, seed)

    def check_observation(self, z_limit: float | None = None) -> list[Any]:
        """Observed features outside the training features (see
        :func:`~brian2modelfitting_sbi.posterior.diagnostics.check_observation`)."""
        require_fitted(self.rounds, "simulations", "simulate() (or infer())")
        result = self.result or Posterior(
            None, self.space, self.x_o, self.feature_names, training_x=self.x
        )
        return result.check_observation(z_limit)

    # ------------------------------------------------------------------ predictive
    def generate_traces(self, *args: Any, **kwargs: Any) -> Any:
        """Simulate posterior parameters for every input.

        With a dict as first argument or any of our keywords (``params``, ``n_draws``,
        ``variables``, ``seed``, ``return_params``), this is :meth:`predictive_traces`.
        Otherwise it is brian2modelfitting's ``generate_traces(n_samples=1, posterior=None,
        output_var=None, param_init=None)``: one simulation at the mean of ``n_samples``
        posterior draws, a Quantity ``(n_traces, n_steps)`` (a dict for several outputs); see
        :func:`~brian2modelfitting_sbi.upstream.results.generate_traces`.
        """
        if is_upstream_traces(args, kwargs):
            return upstream_results.generate_traces(self, *args, **kwargs)
        return self.predictive_traces(*args, **kwargs)

    def predictive_traces(
        self, params: Mapping[str, Quantity] | None = None, n_draws: int | None = None, *,
        variables: Sequence[str] | None = None, seed: int | None = None,
        return_params: bool = False, n_samples: int | None = None,
        n_jobs: int | None = None, executor: Any = None,
    ) -> Any:
        """Simulate parameter sets for every input: posterior predictive traces and spikes.

        ``params`` (dict name → Quantity scalar or array), or ``n_draws`` (default 20; old
        spelling ``n_samples``) posterior draws; ``variables``: outputs to record (default:
        every observed one); ``seed``: of the draws, of the model's noise and of the measurement
        noise (the traces get it as in training, see ``measurement_noise``). Returns
        ``{var: Quantity (n, n_traces, n_steps)}`` (and ``{'spikes': [[trains of each
        trace] for each draw]}``), with the simulated parameters if ``return_params``;
        ``n_jobs`` (the Inferencer's warm pool) or ``executor``: where the chunks run.
        """
        require_fitted(self.space, "parameter space", "infer() (or set_bounds())")
        if params is None:
            n = renamed("n_draws", n_draws, "n_samples", n_samples, 20)
            check_count("n_samples" if n_samples is not None else "n_draws", n, 1)
            theta = self._require_result().draw(n, seed=seed)
        else:
            if not isinstance(params, Mapping):
                raise ProblemError(
                    f"params: expected a dict name -> Quantity for {self.space.names}, "
                    f"got {params!r}"
                )
            theta = np.atleast_2d(self.space.to_array(params))
        where = self._pooled(SimulationOptions(n_jobs=n_jobs, executor=executor)).executor
        outputs = simulate_outputs(self.problem, self.space.names, theta, variables=variables,
                                   target=self.target, seed=seed, measurement=self.measurement,
                                   executor=where)
        return (outputs, self.space.to_quantities(theta)) if return_params else outputs

    def plot_predictive(self, outputs: dict[str, Any] | None = None, n_draws: int | None = None,
                        *, level: float = 0.9, traces: Sequence[int] | None = None,
                        seed: int | None = None, n_samples: int | None = None) -> Any:
        """Observed data overlaid with the predictive median and ``level`` band, from
        ``outputs`` of :meth:`predictive_traces` or ``n_draws`` (default 50) fresh draws."""
        if outputs is None:
            n = renamed("n_draws", n_draws, "n_samples", n_samples, 50)
            outputs = self.predictive_traces(n_draws=n, seed=seed)
        return plot_predictive(self.problem, outputs, level=level, traces=traces)

    # ------------------------------------------------------------------ diagnostics
    def calibrate(
        self, n_tests: int = 200, method: str = "sbc", *, n_posterior_samples: int = 200,
        seed: int | None = None, n_jobs: int | None = None, executor: Any = None,
        progress: bool = False, threads: int | None = 1,
    ) -> Any:
        """SBC or TARP on ``n_tests`` fresh simulations from the prior (not kept for training).

        Returns a :class:`~brian2modelfitting_sbi.posterior.CalibrationResult` with a
        ``summary`` dict, a ``figure`` and the raw arrays; ``print()`` it for a report.
        """
        check_calibration_options(method, n_tests, n_posterior_samples)
        result = self._require_result()
        if len(self.rounds) > 1:
            warnings.warn(
                "calibrate: the posterior comes from several (sequential) rounds and is trained "
                "for the observed data; on test data drawn from the prior it is expected to be "
                "miscalibrated", RuntimeWarning, stacklevel=2,
            )
        options = self._pooled(SimulationOptions(n_jobs=n_jobs, executor=executor,
                                                 progress=progress))
        theta, x = simulate_prior_tests(self.problem, self.features, self.space, int(n_tests),
                                        seed=seed, target=self.target, options=options,
                                        measurement=self.measurement)
        keep = np.all(np.isfinite(x), axis=1)
        if keep.sum() < 2:
            raise RuntimeError(
                f"calibrate: only {int(keep.sum())} of {n_tests} test simulations gave finite "
                f"features"
            )
        return run_calibration(
            result.estimate, self.space, theta[keep], self.x_to_torch(x[keep]), method,
            n_posterior_samples=n_posterior_samples, seed=seed, progress=progress,
            threads=threads,
        )

    def trust_report(
        self, posterior: Posterior | None = None, *, n_predictive: int = 200,
        n_local: int = 100, n_local_sampled: int = 10, n_local_draws: int = 200,
        n_draws: int = 500, agreement: bool = True, seed: int = 0,
        training: TrainingOptions | Mapping[str, Any] | None = None, verbose: bool = True,
        **simulation: Any,
    ) -> TrustReport:
        """Is this posterior right? Observation, predictive, local calibration and estimator
        agreement checks, each with a verdict and a suggestion (see
        :mod:`~brian2modelfitting_sbi.posterior.trust`).

        ``posterior``: a :meth:`condition` result (default: the observed data's); the sizes
        bound the cost (printed first, with ``verbose``): ``n_predictive`` simulations at
        posterior draws, ``n_local`` (``n_local_sampled`` for MCMC/rejection backends)
        calibration tests of ``n_local_draws`` draws, one more training (``agreement``,
        with ``training``: the first estimator's settings if None) compared on ``n_draws``
        draws. ``simulation``: ``n_jobs``, ``executor``, ``store``, ``chunk_size``...
        """
        budget = TrustBudget(n_predictive, n_local, n_local_sampled, n_local_draws, n_draws,
                             agreement)
        target = self._require_result() if posterior is None else posterior
        options = SimulationOptions.of(simulation, progress=simulation.get("progress", False))
        fit = None if training is None else TrainingOptions.of(training)
        return run_trust_report(self, self._trained(), target, budget=budget, seed=seed,
                                simulation=options, training=fit, verbose=verbose)

    # ------------------------------------------------------------------ amortized
    def _trained(self) -> TrainedEstimator:
        self._require_result()
        return TrainedEstimator(
            self.backend, self.posterior, self.space, self.feature_names, self.x,
            self.x_to_torch, len(self.rounds), self.sequential,
        )

    def condition_many(
        self, outputs: Any, output_var: str | Sequence[str] | None = None, *,
        input: Any = None, input_var: str | Sequence[str] | None = None,  # noqa: A002
        dt: Quantity | None = None, names: Sequence[Any] | None = None,
        n_draws: int | None = None, n_samples: int | None = None, **options: Any,
    ) -> AmortizedResults:
        """Posteriors of new recordings made with the training protocol, without simulating.

        A single-round SNPE is amortized: each posterior costs a pass of the trained network.
        SNLE/SNRE sample each recording by MCMC or rejection (a ``RuntimeWarning`` says how
        long that takes); multi-round SNPE is refused (its posterior is valid only at the
        training observation).

        ``outputs``: recordings like the constructor's ``output`` (or one array
        ``(n_recordings, n_traces, n_steps)``); ``input``/``input_var``/``dt``: the
        recordings' protocol, refused if it differs from the training one; ``names``
        (default ``'0'``, ``'1'``...); ``n_draws`` (default 1000; old spelling
        ``n_samples``) per recording; ``options``: ``level`` (0.9), ``seed`` (0: each
        recording gets a seed from its features, so the same samples alone or in a batch),
        ``batched`` (SNPE: one network call per chunk), ``with_map`` (True), ``z_limit``
        (flag features this many training standard deviations away), ``threads``.

        Returns
        -------
        AmortizedResults
            One :class:`~brian2modelfitting_sbi.posterior.Posterior` per recording;
            ``.to_dataframe()``/``.to_csv(path)`` give the per-recording table.
        """
        n = renamed("n_draws", n_draws, "n_samples", n_samples, 1000)
        trained = self._trained()
        amortization_status(trained)  # refuse early, before any feature is computed
        check_options(n, options.get("level", 0.5), options.get("z_limit"))
        if isinstance(self.features, SavedFeatures):
            raise ProblemError(
                "features: this Inferencer was loaded without its feature code; load it with "
                "Inferencer.load(path, features=...) to compute the features of new recordings"
            )
        x, names = recording_features(self.problem, self.features, outputs, output_var,
                                      input=input, input_var=input_var, dt=dt, names=names)
        return posteriors_from_features(trained, x, names, n_draws=n, **options)

    def condition(self, output: Any, output_var: str | Sequence[str] | None = None, *,
                  name: Any = "0", **options: Any) -> Posterior:
        """The :class:`~brian2modelfitting_sbi.posterior.Posterior` of one new recording
        (see :meth:`condition_many` for the options)."""
        return self.condition_many([output], output_var, names=[name], **options)[0]

