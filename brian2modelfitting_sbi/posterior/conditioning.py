"""Amortized inference: one trained estimator, the posteriors of many recordings.

A single-round neural posterior estimator (SNPE) learns ``p(theta | x)`` for every ``x`` the
prior can produce: once trained, the posterior of a new recording made with the same stimulus
protocol costs a forward pass, not a new inference. :func:`posteriors_from_features` gives
one :class:`~brian2modelfitting_sbi.posterior.Posterior` per row of features (the same type
as the posterior at the observed data), gathered in :class:`AmortizedResults` (a table of
medians and credible intervals, CSV export, ArviZ);
:mod:`~brian2modelfitting_sbi.posterior.recordings` checks the recordings and computes their
features.

Methods that are not amortized still work, at a cost that is said: SNLE and SNRE sample every
recording's posterior by MCMC or rejection (a warning gives the measured time per recording);
multi-round SNPE is refused, since its proposal-corrected posterior is valid only at the
observation it was trained for.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from brian2 import Quantity

from ..errors import NotAmortizedError, ProblemError
from ..priors import ParameterSpace
from ..threads import torch_threads
from .amortization import amortization_status, zoom_region
from .batch import MAP_STARTS, batched_map, content_seed, draw_batched
from .diagnostics import Z_LIMIT, check_observation
from .result import Posterior
from .sampling import direct_at, draw_one, is_direct, map_estimate

__all__ = [
    "AmortizedResults",
    "NotAmortizedError",
    "TrainedEstimator",
    "check_options",
    "posteriors_from_features",
]


@dataclass(frozen=True)
class TrainedEstimator:
    """What conditioning new observations needs from a trained inference.

    Attributes
    ----------
    backend : InferenceBackend
        The trained backend (its ``amortized`` flag and ``build_posterior``).
    posterior : sbi posterior
        The posterior at the training observation.
    space : ParameterSpace
        The parameters.
    feature_names : list of str
        Names of the features.
    training_x : numpy.ndarray
        Training features ``(n, k)`` (flags are computed against them).
    to_torch : callable
        Features ``(n, k)`` in SI units → the scaled tensor the estimator saw.
    n_rounds : int
        Rounds trained on.
    sequential : bool
        Whether some round was drawn from a posterior proposal (not the prior).
    """

    backend: Any
    posterior: Any
    space: ParameterSpace
    feature_names: list[str]
    training_x: np.ndarray
    to_torch: Callable[[np.ndarray], torch.Tensor]
    n_rounds: int
    sequential: bool


class AmortizedResults(Sequence):
    """The posteriors of a batch of recordings: a sequence of
    :class:`~brian2modelfitting_sbi.posterior.Posterior`.

    Index it by position (``results[0]``) or by name (``results['cell-7']``), or iterate;
    :meth:`to_dataframe` and :meth:`to_csv` give one row per recording and parameter.
    """

    COLUMNS = (
        "recording",
        "parameter",
        "unit",
        "median",
        "lower",
        "upper",
        "level",
        "misspecified",
        "flagged_features",
    )

    def __init__(self, recordings: Sequence[Posterior], info: Mapping[str, Any]) -> None:
        self.recordings = list(recordings)
        #: How the posteriors were obtained: backend, sampling mode, timings.
        self.info = dict(info)

    def __len__(self) -> int:
        return len(self.recordings)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            for rec in self.recordings:
                if rec.name == index:
                    return rec
            raise KeyError(f"no recording named {index!r}; names: {self.names[:10]}")
        if isinstance(index, slice):
            return AmortizedResults(self.recordings[index], self.info)
        return self.recordings[index]

    def __iter__(self) -> Iterator[Posterior]:
        return iter(self.recordings)

    @property
    def names(self) -> list[str]:
        """Names of the recordings, in order."""
        return [r.name for r in self.recordings]

    @property
    def misspecified(self) -> list[str]:
        """Names of the recordings with flagged features."""
        return [r.name for r in self.recordings if r.misspecified]

    def best_params(self) -> list[dict[str, Quantity]]:
        """The MAP estimate of every recording."""
        return [r.best_params for r in self.recordings]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per recording and parameter, keys :attr:`COLUMNS`; values in ``unit``."""
        rows = []
        for rec in self.recordings:
            s = rec.summary
            flagged = ";".join(rec.flagged_features)
            for j, (name, unit) in enumerate(zip(s.names, s.units, strict=True)):
                scale = float(unit)
                rows.append(
                    {
                        "recording": rec.name,
                        "parameter": name,
                        "unit": str(unit),
                        "median": float(s.median[j]) / scale,
                        "lower": float(s.lower[j]) / scale,
                        "upper": float(s.upper[j]) / scale,
                        "level": s.level,
                        "misspecified": rec.misspecified,
                        "flagged_features": flagged,
                    }
                )
        return rows

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one row per recording and parameter (:attr:`COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(self.COLUMNS))

    def to_csv(self, path: Any) -> None:
        """Write :meth:`to_dataframe` to ``path`` (no index column)."""
        self.to_dataframe().to_csv(path, index=False)

    def to_arviz(self) -> dict[str, Any]:
        """One ArviZ ``InferenceData`` per recording, keyed by recording name."""
        return {r.name: r.to_arviz() for r in self.recordings}

    def __str__(self) -> str:
        n_flag = len(self.misspecified)
        head = (
            f"{len(self)} recordings ({self.info.get('backend', '?')}, "
            f"{self.info.get('mode', '?')} sampling, {self.info.get('seconds', 0.0):.3g} s); "
            f"{n_flag} flagged"
        )
        return head + "\n" + self.to_dataframe().to_string(index=False)

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html(index=False)


def check_options(n_draws: Any, level: Any, z_limit: Any) -> None:
    """Refuse sampling options of :func:`posteriors_from_features` before any work."""
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 2:
        raise ProblemError(f"n_samples: expected an integer >= 2, got {n_draws!r}")
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ProblemError(f"level: expected a probability in (0, 1), got {level!r}")
    if z_limit is not None and (not isinstance(z_limit, float | int) or not z_limit > 0):
        raise ProblemError(f"z_limit: expected a positive number, got {z_limit!r}")


def posteriors_from_features(
    trained: TrainedEstimator,
    x: np.ndarray,
    names: Sequence[str],
    *,
    n_draws: int = 1000,
    level: float = 0.9,
    seed: int | None = 0,
    batched: bool = False,
    with_map: bool = True,
    z_limit: float | None = None,
    threads: int | None = 1,
    within_region: bool = False,
) -> AmortizedResults:
    """The posterior of every row of features ``x`` ``(B, k)`` from the trained estimator.

    See :meth:`Inferencer.condition_many <brian2modelfitting_sbi.Inferencer.condition_many>`
    for the parameters. Features must be finite (SI units, like the training features).
    ``within_region``: see
    :func:`~brian2modelfitting_sbi.posterior.amortization.amortization_status` (for
    features simulated at parameters inside a zoomed estimator's box); batched draws are then
    the estimator's raw draws, not restricted to the box.
    """
    amortized, reason = amortization_status(trained, within_region)
    space, feature_names = trained.space, list(trained.feature_names)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.ndim != 2 or x.shape[1] != len(feature_names) or not np.all(np.isfinite(x)):
        raise ProblemError(
            f"x: expected finite features (n_recordings, {len(feature_names)}), got an array "
            f"of shape {x.shape}"
        )
    if len(names) != len(x):
        raise ProblemError(f"names: expected {len(x)} names (one per recording), got {len(names)}")
    check_options(n_draws, level, z_limit)
    limit = Z_LIMIT if z_limit is None else float(z_limit)
    flags = [check_observation(trained.training_x, row, feature_names, limit) for row in x]
    x_t = trained.to_torch(x)  # the scaled float32 features the estimator saw
    backend_name = type(trained.backend).__name__
    posterior = trained.posterior
    direct = amortized and is_direct(posterior)
    start = time.perf_counter()
    seconds = np.zeros(len(x))
    maps: list[np.ndarray | None] = [None] * len(x)
    searches: list[Callable[[], np.ndarray] | None] = [None] * len(x)
    estimates: list[Any] = [None] * len(x)
    if direct:
        if batched and hasattr(posterior, "sample_batched"):
            mode = "batched"
            # inside a zoomed estimator's box: its raw draws (features from elsewhere would
            # stall sbi's rejection at the box; draws outside it count against coverage)
            raw = within_region and zoom_region(trained.backend) is not None
            unit_samples = draw_batched(posterior, x_t, n_draws, seed, threads,
                                        within_prior=not raw)
        else:
            mode = "per-recording"
            unit_samples = torch.stack(
                [
                    draw_one(posterior, x_t[i : i + 1], n_draws, content_seed(seed, x[i]), threads)
                    for i in range(len(x))
                ]
            )
        for i in range(len(x)):
            estimates[i] = direct_at(posterior, x_t[i : i + 1])
            searches[i] = _direct_map_fn(posterior, x_t[i : i + 1], unit_samples[i], space, threads)
        if with_map:
            best = batched_map(posterior.posterior_estimator, x_t, unit_samples, threads=threads)
            maps = list(space.from_torch(best))
        seconds[:] = (time.perf_counter() - start) / len(x)
    else:
        # one posterior per recording: MCMC or rejection sampling (SNLE, SNRE), or a plugin
        # backend that builds its posterior for one observation at a time
        mode = "per-recording"
        unit_list = []
        for i in range(len(x)):
            t0 = time.perf_counter()
            with torch_threads(threads):
                estimates[i] = trained.backend.build_posterior(x_t[i : i + 1])
            unit_list.append(
                draw_one(estimates[i], None, n_draws, content_seed(seed, x[i]), threads)
            )
            searches[i] = _lazy_map(estimates[i], space, unit_list[-1], seed, threads)
            if with_map:
                maps[i] = searches[i]()
            seconds[i] = time.perf_counter() - t0
            if i == 0 and not amortized:
                _warn_cost(reason, trained.backend, seconds[0], len(x))
        unit_samples = torch.stack(unit_list)
    total = time.perf_counter() - start
    results = [
        Posterior(
            estimates[i],
            space,
            x[i],
            feature_names,
            name=str(name),
            draws=space.from_torch(unit_samples[i]),
            level=level,
            map_array=maps[i],
            map_search=searches[i],
            flags=flags[i],
            seconds=float(seconds[i]),
            attrs={"backend": backend_name},
        )
        for i, name in enumerate(names)
    ]
    _warn_flagged(results)
    info = {"backend": backend_name, "mode": mode, "amortized": amortized, "seconds": total}
    return AmortizedResults(results, info)


def _direct_map_fn(
    posterior: Any, x: torch.Tensor, samples: torch.Tensor, space: Any, threads: int | None
) -> Callable[[], np.ndarray]:
    def search() -> np.ndarray:
        best = batched_map(posterior.posterior_estimator, x, samples[None], threads=threads)
        return space.from_torch(best)[0]

    return search


def _lazy_map(
    posterior: Any, space: Any, samples: torch.Tensor, seed: int | None, threads: int | None
) -> Callable[[], np.ndarray]:
    def search() -> np.ndarray:
        return map_estimate(
            posterior,
            space,
            seed=seed,
            threads=threads,
            init_method=samples,
            num_to_optimize=min(MAP_STARTS, len(samples)),
        )

    return search


def _warn_cost(reason: str, backend: Any, seconds: float, n: int) -> None:
    how = (getattr(backend, "last_sampling", None) or {}).get("sample_with")
    sampler = f" ({how} sampling)" if how else ""
    rest = f"; about {seconds * n:.3g} s for all {n} recordings" if n > 1 else ""
    warnings.warn(
        f"{reason}: {seconds:.3g} s for the first recording{sampler}{rest}. An amortized "
        f"single-round SNPE gives each posterior in milliseconds",
        RuntimeWarning,
        stacklevel=5,
    )


def _warn_flagged(results: Sequence[Posterior]) -> None:
    flagged = [r for r in results if r.flags]
    if not flagged:
        return
    shown = "; ".join(
        f"{r.name}: {', '.join(r.flagged_features[:3])}"
        + (f" (+{len(r.flags) - 3})" if len(r.flags) > 3 else "")
        for r in flagged[:5]
    )
    more = f"; and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    warnings.warn(
        f"{len(flagged)} of {len(results)} recordings have features outside the training "
        f"simulations ({shown}{more}); their posteriors extrapolate and are marked "
        f"misspecified (see .flags)",
        RuntimeWarning,
        stacklevel=5,
    )
