"""Simulate many parameter sets in chunks and reduce each chunk to features where it ran.

Only ``(theta, x)`` travel back from a chunk; its traces are dropped as soon as its features
are computed, so memory is bounded by the chunk size and not by the number of simulations.
Chunks go to any :class:`concurrent.futures.Executor` (serial by default).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cloudpickle
import numpy as np

from ..problem import Problem
from .network import Recording, get_simulator

#: Default memory budget for the traces of one chunk (bytes).
DEFAULT_CHUNK_BYTES = 256 * 2**20
#: Upper bound on a chunk, so that progress is reported regularly.
MAX_CHUNK_SIZE = 2000


def default_chunk_size(
    problem: Problem, recording: Recording, n_samples: int, memory_budget: int = DEFAULT_CHUNK_BYTES
) -> int:
    """Largest chunk whose recorded traces fit ``memory_budget`` (at least 1).

    Brian's monitors hold float64 values and the feature code may make about one temporary
    copy, hence the factor 2.
    """
    per_sample = 2 * 8 * problem.n_traces * problem.n_steps * max(1, len(recording.variables))
    return int(max(1, min(n_samples, MAX_CHUNK_SIZE, memory_budget // per_sample)))


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to simulate one chunk (plain, picklable data)."""

    problem: Problem
    parameter_names: tuple[str, ...]
    chunk_size: int
    recording: Recording
    target: str | None
    features: bytes  # cloudpickled FeatureProvider (user lambdas survive the trip)


def run_chunk(
    task: ChunkTask, start: int, theta: np.ndarray, seed: int | None
) -> tuple[int, np.ndarray]:
    """Simulate one chunk and return ``(start, features)``; runs in the worker."""
    provider = cloudpickle.loads(task.features)
    sim = get_simulator(
        task.problem, task.parameter_names, task.chunk_size, task.recording, task.target
    )
    result = sim.run(theta, seed=seed)
    x = np.asarray(provider.compute(result), dtype=float)
    if x.shape[0] != len(theta):
        raise ValueError(f"features returned {x.shape[0]} rows for {len(theta)} simulations")
    return start, x


class _SerialExecutor(cf.Executor):
    """Runs each task at submission, in this process."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> cf.Future:  # noqa: D102
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def chunk_seed(seed: int | None, start: int) -> int | None:
    """Brian 2 seed for the chunk starting at sample ``start`` (None: unseeded)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, start]).generate_state(1)[0])


def iter_chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks covering ``range(n)``."""
    for start in range(0, n, chunk_size):
        yield start, min(n, start + chunk_size)


def simulate_features(
    task: ChunkTask,
    theta: np.ndarray,
    *,
    executor: cf.Executor | None = None,
    seed: int | None = None,
    progress: bool = True,
    on_chunk: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
    skip: Callable[[int], np.ndarray | None] | None = None,
) -> np.ndarray:
    """Features of every row of ``theta``, computed chunk by chunk.

    Parameters
    ----------
    task : ChunkTask
        What to simulate and how to reduce it.
    theta : numpy.ndarray
        Parameter sets ``(n, d)`` in SI units.
    executor : concurrent.futures.Executor, optional
        Where chunks run; serial in this process if None.
    seed : int, optional
        Base seed for Brian 2's random numbers (one derived seed per chunk).
    progress : bool
        Show a tqdm bar over simulations.
    on_chunk : callable, optional
        ``on_chunk(start, theta_chunk, x_chunk)`` called as each chunk finishes (e.g. a store).
    skip : callable, optional
        ``skip(start)`` returns already known features for a chunk, which is then not run.
    """
    from tqdm.auto import tqdm

    n = len(theta)
    executor = executor or _SerialExecutor()
    out: np.ndarray | None = None
    bar = tqdm(total=n, unit="sim", desc="simulating", disable=not progress, smoothing=0)
    futures = {}
    try:
        for start, stop in iter_chunks(n, task.chunk_size):
            known = skip(start) if skip is not None else None
            if known is not None:
                out = _place(out, start, known, n)
                bar.update(stop - start)
                continue
            fut = executor.submit(
                run_chunk, task, start, theta[start:stop], chunk_seed(seed, start)
            )
            futures[fut] = (start, stop)
        for fut in cf.as_completed(futures):
            start, x = fut.result()
            stop = futures[fut][1]
            out = _place(out, start, x, n)
            if on_chunk is not None:
                on_chunk(start, theta[start:stop], x)
            bar.update(stop - start)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()
    assert out is not None  # n >= 1
    return out


def _place(out: np.ndarray | None, start: int, x: np.ndarray, n: int) -> np.ndarray:
    if out is None:
        out = np.full((n, x.shape[1]), np.nan)
    out[start : start + len(x)] = x
    return out
