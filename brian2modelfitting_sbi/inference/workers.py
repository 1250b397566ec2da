"""One warm local process pool per Inferencer, and the warning about slow user features.

An :class:`~brian2modelfitting_sbi.Inferencer` simulating with ``n_jobs > 1`` starts its pool
on the first such call and keeps it: later rounds, calibration tests and predictive runs reuse
the workers and the networks they built, instead of paying worker start and network build
again. The pool is shut down by :meth:`WorkerMethods.close`, at the end of a ``with`` block, or
when the Inferencer is garbage collected (and at interpreter exit).
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..features.callables import CallableFeatures
from ..features.catalogue import FEATURES
from ..simulation import ChunkTiming, WorkerPool
from .options import SimulationOptions

__all__ = ["WorkerMethods", "WorkerPools", "report_timings"]

LOG = logging.getLogger("brian2modelfitting_sbi.simulation")
#: Feature providers already warned about (by their feature names), so the warning comes once.
_WARNED: set[tuple[str, ...]] = set()


class WorkerPools:
    """The local pool of one Inferencer: started lazily, replaced if ``n_jobs`` changes."""

    def __init__(self) -> None:
        self.pool: WorkerPool | None = None

    def get(self, n_jobs: int) -> WorkerPool:
        """A pool of ``n_jobs`` workers (the warm one if it has that size)."""
        if self.pool is not None and self.pool._max_workers != n_jobs:
            self.close()
        if self.pool is None:
            self.pool = WorkerPool(n_jobs)
        return self.pool

    def close(self) -> None:
        """Shut the pool's workers down (a later run starts a new pool)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class WorkerMethods:
    """The Inferencer's warm pool: :meth:`close` and the context manager."""

    @property
    def _pools(self) -> WorkerPools:
        pools = self.__dict__.get("_worker_pools")
        if pools is None:
            pools = self.__dict__["_worker_pools"] = WorkerPools()
            weakref.finalize(self, pools.close)
        return pools

    def _pooled(self, options: SimulationOptions) -> SimulationOptions:
        """``options`` with ``n_jobs > 1`` turned into this Inferencer's warm pool."""
        if options.executor is not None or options.n_jobs in (None, 1):
            return options
        return replace(options, n_jobs=None, executor=self._pools.get(options.n_jobs))

    def close(self) -> None:
        """Shut down the worker processes kept for ``n_jobs > 1`` (restarted when needed)."""
        self._pools.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def report_timings(features: Any, timings: Sequence[ChunkTiming], n_traces: int) -> None:
    """Log where a round's time went; warn once if the user's features cost more than the
    simulations (with the measured share, and the library features that do it compiled)."""
    if not timings:
        return
    sim = sum(t.simulate_s for t in timings)
    feat = sum(t.features_s for t in timings)
    workers = sorted({t.worker for t in timings})
    LOG.debug(
        "%d chunks on %d worker(s): simulation %.2f s, features %.2f s (summed over workers); "
        "per worker %s", len(timings), len(workers), sim, feat,
        {w: round(sum(t.simulate_s + t.features_s for t in timings if t.worker == w), 2)
         for w in workers},
    )
    key = tuple(features.names(n_traces))
    if feat <= sim or key in _WARNED:
        return
    _WARNED.add(key)
    kind = "your feature functions" if isinstance(features, CallableFeatures) else "the features"
    warnings.warn(
        f"{kind} took {feat:.1f} s of this round's {sim + feat:.1f} s "
        f"({100 * feat / (sim + feat):.0f}%, more than the simulations). Library features "
        f"compute common ones in compiled code over whole chunks: EphysFeatures("
        f"{', '.join(repr(n) for n in list(FEATURES)[:8])}, ...) — see features.FEATURES; "
        f"a function marked @vectorized gets the whole (traces, steps) block in one call.",
        RuntimeWarning,
        stacklevel=4,
    )
