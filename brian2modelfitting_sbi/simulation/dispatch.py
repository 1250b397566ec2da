"""Hand chunks to an executor, a few at a time, and survive the loss of workers.

The dispatcher behind :func:`~brian2modelfitting_sbi.simulation.runner.run_chunks`:

- a local :class:`~.executors.WorkerPool` whose worker process dies (``BrokenProcessPool``)
  is replaced by a fresh pool and every unfinished chunk runs again, at most
  :data:`MAX_POOL_RESTARTS` times, then :class:`ChunkFailedError` says what finished;
- Dask reschedules the chunks of a lost worker on the others by itself; a chunk that killed
  several workers (``KilledWorker``) ends the run with :class:`ChunkFailedError`, and a cluster
  left without any worker for :data:`WORKER_GRACE_S` seconds with :class:`WorkersLostError`
  (instead of waiting for ever).

A chunk's result depends only on the round's seed and the chunk's first sample, so a chunk run
again (elsewhere) gives the same features: nothing is lost or counted twice, each chunk is
handled exactly once.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from . import executors

#: Fresh pools started for one run after worker processes died, before giving up.
MAX_POOL_RESTARTS = 2
#: Seconds a Dask cluster may have no worker at all before the run stops with an error.
WORKER_GRACE_S = 30.0
#: Seconds between checks on the cluster while waiting for chunks.
POLL_S = 0.5


class ChunkFailedError(RuntimeError):
    """Chunks could not be run: workers kept dying. The message says what finished."""

    def __init__(self, message: str, finished: Sequence[int], unfinished: Sequence[int]) -> None:
        super().__init__(message)
        #: First sample of every chunk that finished (handled) in this run.
        self.finished = sorted(finished)
        #: First sample of every chunk that did not.
        self.unfinished = sorted(unfinished)


class WorkersLostError(ChunkFailedError):
    """Every worker of a Dask cluster is gone while chunks were still to run."""


@dataclass(frozen=True)
class ChunkTiming:
    """Where and how long one chunk ran (measured in the worker).

    Attributes
    ----------
    start, n : int
        First sample and number of samples of the chunk.
    worker : str
        ``host:pid`` of the process that ran it.
    simulate_s, features_s : float
        Wall seconds of the Brian run and of the feature computation.
    """

    start: int
    n: int
    worker: str
    simulate_s: float
    features_s: float


def _resume_hint(finished: Sequence[int], unfinished: Sequence[int]) -> str:
    return (
        f"{len(finished)} chunk(s) finished (first samples {sorted(finished)[:8]}"
        f"{'...' if len(finished) > 8 else ''}), {len(unfinished)} did not. With store=, "
        "finished chunks are saved: the same call with the same store (and seed) resumes from "
        "them and simulates only the rest."
    )


def dispatch(
    submit: Callable[[cf.Executor, int, int], cf.Future],
    chunks: Sequence[tuple[int, int]],
    executor: cf.Executor,
    handle: Callable[[int, int, Any], None],
    *,
    window: int,
    on_done: Callable[[int], None] | None = None,
) -> list[ChunkTiming]:
    """Run ``chunks`` (``(start, stop)`` pairs) and ``handle(start, stop, features)`` each once.

    ``submit(executor, start, stop)`` starts one chunk and returns its future, whose result is
    ``(start, features, (worker, simulate_s, features_s))``; at most ``window`` are in flight.
    ``on_done(n)`` is told of ``n`` more finished simulations (progress). Returns the timings
    of the chunks, in the order they finished.
    """
    todo = deque(chunks)
    pending: dict[cf.Future, tuple[int, int]] = {}
    finished: list[int] = []
    timings: list[ChunkTiming] = []
    restarts = 0
    no_workers_since: float | None = None

    def unfinished() -> list[int]:
        return [s for s, _ in todo] + [s for s, _ in pending.values()]

    try:
        while todo or pending:
            while todo and len(pending) < window:
                start, stop = todo.popleft()
                pending[submit(executor, start, stop)] = (start, stop)
            done, _ = cf.wait(pending, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
            if not done:
                no_workers_since = _check_workers(executor, no_workers_since, finished, unfinished)
                continue
            no_workers_since = None
            broken: list[tuple[int, int]] = []
            for fut in sorted(done, key=lambda f: pending[f][0]):
                start, stop = pending.pop(fut)
                try:
                    _, out, (worker, sim_s, feat_s) = fut.result()
                except BrokenProcessPool:
                    broken.append((start, stop))
                    continue
                except Exception as exc:
                    if type(exc).__name__ == "KilledWorker":
                        raise ChunkFailedError(
                            f"the chunk at sample {start} was running on every worker that "
                            f"died ({exc}); " + _resume_hint(finished, unfinished()),
                            finished, [start, *unfinished()],
                        ) from exc
                    raise
                handle(start, stop, out)
                finished.append(start)
                timings.append(ChunkTiming(start, stop - start, worker, sim_s, feat_s))
                if on_done is not None:
                    on_done(stop - start)
            if broken:
                restarts = _restart(executor, restarts, broken, pending, todo, finished)
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
    return timings


def _restart(
    executor: Any,
    restarts: int,
    broken: list[tuple[int, int]],
    pending: dict[cf.Future, tuple[int, int]],
    todo: deque,
    finished: list[int],
) -> int:
    """Replace a broken local pool and queue its unfinished chunks again (or give up)."""
    lost = sorted(broken + list(pending.values()) + list(todo))
    if not hasattr(executor, "restart") or restarts >= MAX_POOL_RESTARTS:
        tried = "" if not hasattr(executor, "restart") else f" (after {restarts} fresh pools)"
        raise ChunkFailedError(
            f"a worker process died while simulating{tried}; a model or feature that crashes "
            "its process (memory, a native library) would do this. "
            + _resume_hint(finished, [s for s, _ in lost]),
            finished, [s for s, _ in lost],
        )
    warnings.warn(
        f"a worker process died while simulating; starting a fresh pool and running the "
        f"{len(lost)} unfinished chunk(s) again ({restarts + 1} of {MAX_POOL_RESTARTS})",
        RuntimeWarning,
        stacklevel=4,
    )
    for fut in pending:
        fut.cancel()
    pending.clear()
    todo.clear()
    todo.extend(lost)
    executor.restart()
    return restarts + 1


def _check_workers(
    executor: Any,
    since: float | None,
    finished: list[int],
    unfinished: Callable[[], list[int]],
) -> float | None:
    """Raise :class:`WorkersLostError` once a cluster has had no worker for the grace time."""
    if executors.live_workers(executor) != 0:
        return None
    now = time.monotonic()
    since = now if since is None else since
    if now - since >= WORKER_GRACE_S:
        raise WorkersLostError(
            f"all Dask workers are gone (none for {WORKER_GRACE_S:.0f} s) while simulating; "
            + _resume_hint(finished, unfinished()),
            finished, unfinished(),
        )
    return since
