"""Simulate many parameter sets in chunks and reduce each chunk to features where it ran.

Only ``(theta, x)`` travel back from a chunk; its traces are dropped as soon as its features
are computed, so memory is bounded by the chunk size and not by the number of simulations.
Chunks go to any :class:`concurrent.futures.Executor` (serial by default, see
:mod:`.executors` for process pools and Dask).

Reproducibility: a round's ``seed`` fixes everything random in it. ``xi`` noise is drawn per
sample (see :mod:`.noise`), so it does not depend on the chunking, the workers or the device;
Brian's own generator, when a model still needs it, is seeded per chunk from the seed and the
chunk's first sample (reproducible for a given chunk size).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np

from ..problem import Problem, ProblemError
from . import executors
from .dispatch import ChunkTiming, dispatch
from .measurement import MeasurementPlan
from .network import DEVICES, LOCK, Recording
from .noise import plan_noise, uses_brian_random
from .simulators import get_simulator
from .standalone import check_standalone

#: Default memory budget (bytes) of one simulating process for what its chunk holds: the
#: recorded traces, one temporary copy for the features and the pre-drawn noise. Each worker
#: of a pool (or Dask cluster) has this budget; it bounds chunks of long recordings.
DEFAULT_CHUNK_BYTES = 512 * 2**20
#: Neurons (parameter sets x traces) that make a chunk's fixed cost (Brian's Python loop over
#: the time steps, ~7 us a step, and the run's setup) a few per cent of its neurons' time;
#: both grow with the steps, so neurons is the measure. 4,000 ran 3.8 % slower than 20,000
#: on brian2modelfitting's HH example (1,497 steps, 4 traces; bench_chunk_budget.py).
TARGET_NEURONS = 4096
#: Upper bound on a chunk, so that progress is reported regularly.
MAX_CHUNK_SIZE = 10_000


def bytes_per_sample(problem: Problem, recording: Recording) -> int:
    """Memory one parameter set takes while its chunk runs (traces, a copy, noise)."""
    n_records = math.ceil(problem.n_steps / recording.step_ratio(problem.dt))
    plan = plan_noise(problem)
    n_noise = len(plan.variables) if plan is not None else 0
    per_trace = 2 * n_records * len(recording.variables) + problem.n_steps * n_noise
    return 8 * problem.n_traces * max(1, per_trace)


def default_chunk_size(
    problem: Problem,
    recording: Recording,
    n_samples: int,
    memory_budget: int = DEFAULT_CHUNK_BYTES,
    n_workers: int = 1,
) -> int:
    """A chunk size for ``n_samples`` simulations: fast enough, within ``memory_budget``.

    A chunk holds :data:`TARGET_NEURONS` neurons (enough that its fixed cost is a few per
    cent), or fewer parameter sets where that would exceed ``memory_budget`` bytes per
    worker. The number of chunks is then rounded up to a multiple of ``n_workers``, so that
    the workers get equal shares, and the samples are split evenly, so that the last chunk is
    not mostly padding. Larger chunks cost memory and checkpoint less often, for no speed.
    """
    n_workers = max(1, int(n_workers))
    per_sample = bytes_per_sample(problem, recording)
    enough = math.ceil(TARGET_NEURONS / max(1, problem.n_traces))
    largest = int(max(1, min(MAX_CHUNK_SIZE, enough, int(memory_budget) // per_sample)))
    n_chunks = math.ceil(n_samples / largest)
    if n_workers > 1:
        n_chunks = min(n_samples, n_workers * math.ceil(n_chunks / n_workers))
    return int(math.ceil(n_samples / max(1, n_chunks)))


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to simulate one chunk (plain, picklable data).

    Attributes
    ----------
    problem : Problem
        Model, inputs and simulation settings.
    parameter_names : tuple of str
        Columns of theta.
    chunk_size : int
        Parameter sets per chunk (the size the network is built for).
    recording : Recording
        What to record for the features.
    target : str or None
        Brian code generation target on the runtime device (None: the caller's
        ``prefs.codegen.target``, so that workers use the same).
    features : bytes
        The cloudpickled FeatureProvider (user lambdas survive the trip).
    device : str
        ``'runtime'`` or ``'cpp_standalone'``.
    fingerprint : str
        ``problem.fingerprint()`` (computed once here; workers key their cache on it).
    measurement : MeasurementPlan, optional
        Measurement noise added to the traces before the features (see :mod:`.measurement`);
        its inferred levels are columns of theta named in ``parameter_names``.
    """

    problem: Problem
    parameter_names: tuple[str, ...]
    chunk_size: int
    recording: Recording
    target: str | None
    features: bytes
    device: str = "runtime"
    fingerprint: str = ""
    measurement: MeasurementPlan | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ProblemError(f"device: expected one of {DEVICES}, got {self.device!r}")
        if isinstance(self.chunk_size, bool) or int(self.chunk_size) < 1:
            raise ProblemError(f"chunk_size: expected an integer >= 1, got {self.chunk_size!r}")
        self.recording.step_ratio(self.problem.dt)  # a bad recording dt fails here
        if self.device == "cpp_standalone":
            check_standalone(self.problem)
        elif uses_brian_random(self.problem, plan_noise(self.problem)):
            warnings.warn(
                "this model draws random numbers from Brian's own generator (rand()/randn(), or "
                f"xi with method={self.problem.method!r}, not 'euler'/'heun'): a seed makes "
                "them reproducible for the same chunk size only",
                RuntimeWarning,
                stacklevel=3,
            )
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", self.problem.fingerprint())
        if self.target is None:
            # Workers (other processes, Dask) use the caller's target, not their own default.
            from brian2 import prefs

            object.__setattr__(self, "target", prefs.codegen.target)


_PROVIDERS: dict[bytes, Any] = {}
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _provider(blob: bytes) -> Any:
    provider = _PROVIDERS.get(blob)
    if provider is None:
        _PROVIDERS.clear()  # keep only the latest provider
        provider = _PROVIDERS[blob] = cloudpickle.loads(blob)
    return provider


def run_chunk(
    task: ChunkTask, start: int, theta: np.ndarray, seed: int | None
) -> tuple[int, Any, tuple[str, float, float]]:
    """Simulate one chunk; runs in the worker.

    Returns ``(start, provider.compute(result), (worker, simulate_s, features_s))``: the
    features and where and how long the chunk ran (``host:pid``, wall seconds of the Brian
    run and of the features). ``seed`` is the round's seed (see :func:`resolve_seed`);
    ``start`` the index of ``theta[0]`` in the round.
    """
    with LOCK:
        provider = _provider(task.features)
        names, model_theta, noise = task.parameter_names, theta, task.measurement
        if noise is not None:  # measurement-noise levels are not the model's parameters
            names, model_theta = noise.model_part(names, theta)
        sim = get_simulator(
            task.problem,
            names,
            task.chunk_size,
            task.recording,
            task.target,
            task.device,
            task.fingerprint,
        )
        t0 = time.perf_counter()
        result = sim.run(
            model_theta, seed=chunk_seed(seed, start), start=start, entropy=seed, copy=False
        )
        if noise is not None:
            entropy = seed if seed is not None else resolve_seed(None)
            result = noise.apply(result, task.parameter_names, theta, entropy, start)
        t1 = time.perf_counter()
        x = provider.compute(result)
        timing = (_WORKER, t1 - t0, time.perf_counter() - t1)
        return start, x, timing


def make_task(
    problem: Problem,
    parameter_names: Sequence[str],
    provider: Any,
    n_samples: int,
    *,
    chunk_size: int | None = None,
    executor: Any = None,
    target: str | None = None,
    device: str = "runtime",
    recording: Recording | None = None,
    measurement: MeasurementPlan | None = None,
) -> ChunkTask:
    """The :class:`ChunkTask` of ``n_samples`` simulations reduced by ``provider``.

    The one place that sizes chunks for a run (training data, calibration tests, predictive
    simulations): ``chunk_size``, else :func:`default_chunk_size` for the executor's workers.
    ``recording`` defaults to what the provider asks for; ``measurement`` is the measurement
    noise added to the traces before ``provider`` sees them.
    """
    recording = provider.recording() if recording is None else recording
    workers = 1 if executor is None else executors.n_workers(executor)
    size = chunk_size or default_chunk_size(problem, recording, n_samples, n_workers=workers)
    return ChunkTask(
        problem,
        tuple(parameter_names),
        int(size),
        recording,
        target,
        cloudpickle.dumps(provider),
        device=device,
        measurement=measurement,
    )


def resolve_seed(seed: int | None) -> int:
    """The round's seed as a non-negative int; a fresh random one for None."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ProblemError(f"seed: expected an integer >= 0 or None, got {seed!r}")
    return int(seed)


def chunk_seed(seed: int | None, start: int) -> int | None:
    """Seed of Brian's own generator for the chunk starting at sample ``start``."""
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
    executor: Any = None,
    seed: int | None = None,
    progress: bool = True,
    on_chunk: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
    skip: Callable[[int], np.ndarray | None] | None = None,
    timings: list[ChunkTiming] | None = None,
) -> np.ndarray:
    """Features of every row of ``theta``, computed chunk by chunk.

    Parameters
    ----------
    task : ChunkTask
        What to simulate and how to reduce it.
    theta : numpy.ndarray
        Parameter sets ``(n, d)`` in SI units.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where chunks run; serial in this process if None.
    seed : int, optional
        The round's seed: fixes all random numbers of the simulations (fresh if None).
    progress : bool
        Show a tqdm bar over simulations (with simulations per second).
    on_chunk : callable, optional
        ``on_chunk(start, theta_chunk, x_chunk)`` called as each chunk finishes (e.g. a store).
    skip : callable, optional
        ``skip(start)`` returns already known features for a chunk, which is then not run.
    timings : list, optional
        Extended with a :class:`~.dispatch.ChunkTiming` of every chunk run.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    n = len(theta)
    out: np.ndarray | None = None

    def place(start: int, stop: int, x: Any, known: bool) -> None:
        nonlocal out
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[0] != stop - start:
            raise ValueError(
                f"features returned shape {x.shape} for {stop - start} simulations; expected "
                f"({stop - start}, n_features)"
            )
        out = _place(out, start, x, n)
        if on_chunk is not None and not known:
            on_chunk(start, theta[start:stop], x)

    found = run_chunks(
        task, theta, place, executor=executor, seed=seed, progress=progress, skip=skip
    )
    if timings is not None:
        timings.extend(found)
    assert out is not None  # n >= 1
    return out


def collect_chunks(
    task: ChunkTask, theta: np.ndarray, *, executor: Any = None, seed: int | None = None
) -> list[Any]:
    """What the task's provider returns for each chunk of ``theta``, in chunk order."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    found: dict[int, Any] = {}
    run_chunks(
        task,
        theta,
        lambda start, stop, out, known: found.__setitem__(start, out),
        executor=executor,
        seed=seed,
        progress=False,
    )
    return [found[start] for start in sorted(found)]


def run_chunks(
    task: ChunkTask,
    theta: np.ndarray,
    handle: Callable[[int, int, Any, bool], None],
    *,
    executor: Any = None,
    seed: int | None = None,
    progress: bool = True,
    skip: Callable[[int], Any] | None = None,
) -> list[ChunkTiming]:
    """Run the chunks of ``theta`` and call ``handle(start, stop, output, known)`` for each.

    The one chunk runner of the package: chunks go to ``executor`` (serial if None), a few
    at a time, and are handled as they finish, each exactly once (see :mod:`.dispatch` for
    lost workers); ``skip(start)`` may give a chunk's output without running it
    (``known=True``). ``seed`` is the round's seed (fresh if None). Returns the timings of the
    chunks that ran.
    """
    from tqdm.auto import tqdm

    n = len(theta)
    if n == 0:
        raise ValueError("theta: no parameter sets to simulate")
    seed = resolve_seed(seed)
    serial = executor is None
    executor = _SerialExecutor() if serial else executors.as_executor(executor)
    bar = tqdm(total=n, unit="sim", desc="simulating", disable=not progress, smoothing=0)
    todo = []
    try:
        for start, stop in iter_chunks(n, task.chunk_size):
            known = skip(start) if skip is not None else None
            if known is None:
                todo.append((start, stop))
                continue
            handle(start, stop, known, True)
            bar.update(stop - start)
        if not todo:
            return []
        # Chunks in flight at once: results are handled (stored, counted) as they come, and a
        # serial run stores each chunk before it starts the next one.
        return dispatch(
            lambda ex, start, stop: ex.submit(run_chunk, task, start, theta[start:stop], seed),
            todo,
            executor,
            lambda start, stop, out: handle(start, stop, out, False),
            window=1 if serial else 2 * executors.n_workers(executor),
            on_done=bar.update,
        )
    finally:
        bar.close()


class _SerialExecutor(cf.Executor):
    """Runs each task at submission, in this process."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> cf.Future:  # noqa: D102
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def _place(out: np.ndarray | None, start: int, x: np.ndarray, n: int) -> np.ndarray:
    if out is None:
        out = np.full((n, x.shape[1]), np.nan)
    if x.shape[1] != out.shape[1]:
        raise ValueError(f"chunk at {start}: {x.shape[1]} features, expected {out.shape[1]}")
    out[start : start + len(x)] = x
    return out
