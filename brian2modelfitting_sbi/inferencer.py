"""The user-facing :class:`Inferencer`: fitter-style arguments in, a posterior out."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import torch
from brian2 import Quantity

from .backends import get_backend
from .features import as_provider
from .priors import ParameterSpace
from .problem import Problem, ProblemError
from .simulation import ChunkTask, SimulationResult, default_chunk_size, simulate_features
from .training import torch_threads

logger = logging.getLogger(__name__)

_INVALID_POLICIES = ("drop", "keep")


@dataclass
class Round:
    """Record of one round of simulations."""

    index: int
    n_simulations: int
    n_invalid: int
    invalid_ranges: dict[str, tuple[Quantity, Quantity]]


class Inferencer:
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
    ) -> None:
        self.problem = Problem.from_arguments(
            model, input_var=input_var, input=input, output_var=output_var, output=output,
            dt=dt, method=method, threshold=threshold, reset=reset, refractory=refractory,
            param_init=param_init, namespace=namespace, level=1,
        )
        self.features = as_provider(features, self.problem)
        self.target = target
        observed = SimulationResult.from_observed(self.problem)
        self.x_o = np.asarray(self.features.compute(observed), dtype=float)
        if not np.all(np.isfinite(self.x_o)):
            bad = [n for n, v in zip(self.feature_names, self.x_o[0], strict=True)
                   if not np.isfinite(v)]
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

    # ------------------------------------------------------------------ properties
    @property
    def feature_names(self) -> list[str]:
        """Names of the summary features, in column order."""
        return self.features.names(self.problem.n_traces)

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
        invalid: str = "drop",
        progress: bool = True,
        device: str = "cpu",
        threads: int | None = 1,
        backend_options: dict[str, Any] | None = None,
        **bounds: Sequence[Quantity],
    ) -> Any:
        """Simulate, train and return the posterior at the observed data.

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
        chunk_size : int, optional
            Parameter sets simulated at once (default: from a memory budget).
        n_jobs : int, optional
            Simulate in a local pool of this many processes.
        executor : concurrent.futures.Executor, optional
            Where to run simulation chunks (a Dask client's executor works too).
        invalid : {'drop', 'keep'}
            What to do with simulations whose features are NaN or infinite.
        progress : bool
            Show a progress bar over simulations.
        device : str
            Torch device for training.
        threads : int or None
            Torch threads while training and sampling (None: leave torch's setting).
        backend_options : dict, optional
            Passed to the backend: ``estimator``, ``estimator_options``, ``embedding_net``,
            ``training``, ``sampling``.
        **bounds
            ``name=[lower, upper]`` with units, for every parameter to infer.

        Returns
        -------
        posterior
            The sbi posterior at the observed features (also ``self.posterior``).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 1:
            raise ProblemError(f"n_samples: expected an integer >= 1, got {n_samples!r}")
        if isinstance(n_rounds, bool) or not isinstance(n_rounds, int | np.integer) or n_rounds < 1:
            raise ProblemError(f"n_rounds: expected an integer >= 1, got {n_rounds!r}")
        if invalid not in _INVALID_POLICIES:
            raise ProblemError(f"invalid: expected one of {_INVALID_POLICIES}, got {invalid!r}")
        if n_jobs is not None and executor is not None:
            raise ProblemError("n_jobs/executor: give one or the other, not both")
        backend_cls = get_backend(backend)
        space = ParameterSpace.from_bounds(self.problem, bounds)
        if restart or self.backend is None or space != self.space or not isinstance(
            self.backend, backend_cls
        ):
            self._start(space, backend_cls, device, backend_options or {}, threads)
        recording = self.features.recording()
        size = chunk_size or default_chunk_size(self.problem, recording, n_samples)
        task = ChunkTask(self.problem, tuple(space.names), int(size), recording, self.target,
                         cloudpickle.dumps(self.features))
        own_pool = None
        if n_jobs is not None and n_jobs > 1:
            own_pool = executor = cf.ProcessPoolExecutor(n_jobs)
        try:
            for _ in range(n_rounds):
                self._round(task, n_samples, seed, executor, invalid, progress, threads)
        finally:
            if own_pool is not None:
                own_pool.shutdown()
        return self.posterior

    def _start(self, space: ParameterSpace, backend_cls: type, device: str,
               options: dict[str, Any], threads: int | None) -> None:
        self.space = space
        with torch_threads(threads):
            self.backend = backend_cls(space.prior(device), device, **options)
        self.posterior = None
        self.rounds = []
        self.theta = np.empty((0, space.dim))
        self.x = np.empty((0, self.x_o.shape[1]))

    def _round(self, task: ChunkTask, n: int, seed: int | None, executor: cf.Executor | None,
               invalid: str, progress: bool, threads: int | None) -> None:
        index = len(self.rounds)
        round_seed = None if seed is None else seed + 1000 * index
        proposal = self.posterior
        if proposal is None:
            theta = self.space.sample_prior(n, np.random.default_rng(round_seed))
        else:
            if round_seed is not None:
                torch.manual_seed(round_seed)
            with torch_threads(threads):
                theta = proposal.sample((n,), show_progress_bars=False).double().numpy()
        x = simulate_features(task, theta, executor=executor, seed=round_seed, progress=progress)
        valid = np.all(np.isfinite(x), axis=1)
        self.rounds.append(self._report(index, theta, valid))
        self.theta = np.concatenate([self.theta, theta])
        self.x = np.concatenate([self.x, x])
        if invalid == "drop":
            theta, x = theta[valid], x[valid]
        if len(theta) == 0:
            raise RuntimeError(
                f"round {index + 1}: all {n} simulations gave invalid (NaN/inf) features; "
                f"check the bounds and the features"
            )
        if round_seed is not None:
            torch.manual_seed(round_seed)
        with torch_threads(threads):
            self.backend.append_simulations(
                torch.as_tensor(theta, dtype=torch.float32),
                torch.as_tensor(x, dtype=torch.float32),
                proposal,
            )
            self.backend.train()
            self.posterior = self.backend.build_posterior(
                torch.as_tensor(self.x_o, dtype=torch.float32)
            )

    def _report(self, index: int, theta: np.ndarray, valid: np.ndarray) -> Round:
        bad = theta[~valid]
        ranges = {}
        if len(bad):
            lo = self.space.to_quantities(bad.min(axis=0))
            hi = self.space.to_quantities(bad.max(axis=0))
            ranges = {name: (lo[name], hi[name]) for name in self.space.names}
            where = ", ".join(f"{k} in [{a}, {b}]" for k, (a, b) in ranges.items())
            warnings.warn(
                f"round {index + 1}: {len(bad)} of {len(theta)} simulations gave NaN/inf "
                f"features ({where})",
                RuntimeWarning,
                stacklevel=4,
            )
        return Round(index + 1, len(theta), len(bad), ranges)

    # ------------------------------------------------------------------ results
    def _require_posterior(self) -> None:
        if self.posterior is None:
            raise RuntimeError("no posterior yet: call infer() first")

    def sample_array(self, n: int, seed: int | None = None, threads: int | None = 1) -> np.ndarray:
        """``n`` posterior samples as SI floats ``(n, d)``, columns in ``space.names`` order."""
        self._require_posterior()
        if seed is not None:
            torch.manual_seed(seed)
        with torch_threads(threads):
            samples = self.posterior.sample((int(n),), show_progress_bars=False)
        return samples.double().numpy()

    def sample(self, n: int, seed: int | None = None) -> dict[str, Quantity]:
        """``n`` posterior samples as a dict name → Quantity array."""
        return self.space.to_quantities(self.sample_array(n, seed))
