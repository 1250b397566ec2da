"""Where chunks run: this process, a local process pool, or a Dask cluster.

Local pools start their workers with ``forkserver`` (``spawn`` where it does not exist), not
``fork``: the caller typically has torch loaded, a tqdm monitor thread and perhaps Dask
threads, and forking a multi-threaded process can deadlock the child. The fork server imports
this package once, so workers start without re-importing Brian 2 and torch; as with any
``spawn``/``forkserver`` pool, a script that simulates in parallel must guard its entry point
with ``if __name__ == "__main__":``. Each worker runs one simulation thread and limits torch
and BLAS to one thread, so ``n_jobs`` workers use ``n_jobs`` cores.

A Dask ``distributed.Client`` is used through its ``concurrent.futures`` executor
(``client.get_executor()``); its workers rebuild the network from the plain data of the task
(equations as Brian objects, arrays, units) and keep it for later chunks.

Faults: a local :class:`WorkerPool` whose worker dies (``BrokenProcessPool``) is replaced by a
fresh one and the unfinished chunks are run again (a bounded number of times, see
:mod:`.runner`); Dask reschedules the chunks of a lost worker itself, and :func:`live_workers`
tells the runner when a cluster has no worker left.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
from collections.abc import Iterator
from typing import Any

from ..problem import ProblemError

#: Environment of local workers: one thread for every numerical library.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker() -> None:
    """Process-pool initializer: one thread per worker for torch and BLAS."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)


def _context() -> mp.context.BaseContext:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # Import Brian 2 and this package once in the server, not in every worker.
        ctx.set_forkserver_preload(["__main__", "brian2modelfitting_sbi.simulation.runner"])
        return ctx
    return mp.get_context("spawn")


def _check_n_jobs(n_jobs: Any) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ProblemError(f"n_jobs: expected an integer >= 1, got {n_jobs!r}")


def process_pool(n_jobs: int) -> cf.ProcessPoolExecutor:
    """A pool of ``n_jobs`` local worker processes set up for simulation."""
    _check_n_jobs(n_jobs)
    return cf.ProcessPoolExecutor(n_jobs, mp_context=_context(), initializer=_init_worker)


class WorkerPool(cf.Executor):
    """A local process pool that can be replaced when one of its workers dies.

    Workers start on the first :meth:`submit` and stay up (with the networks they built) until
    :meth:`shutdown`, so that successive runs (rounds, calibration, predictive simulations)
    reuse them. :meth:`restart` drops a broken pool and starts a fresh one.

    Parameters
    ----------
    n_jobs : int
        Worker processes.
    """

    def __init__(self, n_jobs: int) -> None:
        _check_n_jobs(n_jobs)
        self._max_workers = int(n_jobs)
        self._pool: cf.ProcessPoolExecutor | None = None
        #: How many times a broken pool was replaced.
        self.restarts = 0

    @property
    def started(self) -> bool:
        """Whether worker processes are up."""
        return self._pool is not None

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(...)`` in a worker (starting the workers on first use)."""
        if self._pool is None:
            self._pool = process_pool(self._max_workers)
        return self._pool.submit(fn, *args, **kwargs)

    def restart(self) -> None:
        """Replace the pool (e.g. after a worker died); pending chunks are dropped."""
        self._drop(wait=False)
        self.restarts += 1

    def _drop(self, wait: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers (pending chunks are cancelled); a later submit starts new ones."""
        self._drop(wait=wait)


def live_workers(executor: Any) -> int | None:
    """Workers a Dask executor's scheduler knows now; None for other executors (or unknown)."""
    client = executor if _is_dask_client(executor) else getattr(executor, "_client", None)
    if client is None or not hasattr(client, "nthreads"):
        return None
    try:
        return len(client.nthreads())
    except Exception:  # noqa: BLE001 - a scheduler that does not answer is not a verdict
        return None


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "get_executor")


def as_executor(executor: Any) -> cf.Executor:
    """An executor from what the user passed: an Executor, or a Dask ``Client``."""
    if isinstance(executor, cf.Executor):
        return executor
    if _is_dask_client(executor):
        return executor.get_executor()
    raise ProblemError(
        f"executor: expected a concurrent.futures.Executor or a dask.distributed.Client, got "
        f"{executor!r}"
    )


def n_workers(executor: Any) -> int:
    """How many chunks ``executor`` runs at once (1 if unknown or serial)."""
    if executor is None:
        return 1
    client = executor if _is_dask_client(executor) else getattr(executor, "_client", None)
    if client is not None and hasattr(client, "nthreads"):
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 1)))


@contextlib.contextmanager
def chunk_executor(n_jobs: int | None, executor: Any) -> Iterator[Any]:
    """The executor to simulate with: ``executor``, a pool of ``n_jobs``, or None (serial).

    A :class:`WorkerPool` created here is shut down on exit (pending chunks cancelled on
    errors); one passed as ``executor`` is left running.
    """
    if n_jobs is not None and executor is not None:
        raise ProblemError("n_jobs/executor: give one or the other, not both")
    if executor is not None:
        yield as_executor(executor)
        return
    if n_jobs is not None:
        _check_n_jobs(n_jobs)
    if n_jobs is None or n_jobs == 1:
        yield None
        return
    pool = WorkerPool(n_jobs)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
