"""Simulation throughput with a local process pool: n_jobs=2 against n_jobs=1.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_parallel.py [N] [--jobs 1 2]

N HH samples (1 s, dt = 0.05 ms, cython), default chunk sizes. "cold" includes starting the
workers and building their networks (what one ``simulate(n_jobs=...)`` call costs); "warm"
reuses a pool whose workers already built their network (later rounds). Goal: >= 1.7x with
2 jobs on a 2-core machine — which needs both cores free: other processes on the machine lower
the measured figure. So the CPU seconds the chunks took in their workers are reported too:
if running in parallel adds no work per simulation, the CPU per simulation stays the same, and
``n_jobs x CPU(1 job) / CPU(n jobs)`` is the speedup that free cores would give (an estimate,
labelled as such).
"""

from __future__ import annotations

import argparse
import time

import cloudpickle
import numpy as np
from bench_simulation_hh import NAMES, HandfulOfFeatures, draw, problem, use_cython

import brian2modelfitting_sbi.simulation.runner as runner
from brian2modelfitting_sbi.simulation import (
    ChunkTask,
    clear_cache,
    default_chunk_size,
    process_pool,
    simulate_features,
)

_run_chunk = runner.run_chunk


def timed_run_chunk(task, start, theta, seed):  # noqa: ANN001, ANN201 - mirrors run_chunk
    """``run_chunk`` that appends the chunk's CPU seconds per simulation as a last column."""
    cpu = time.process_time()
    start, x = _run_chunk(task, start, theta, seed)
    per_sim = (time.process_time() - cpu) / len(theta)
    return start, np.column_stack([x, np.full(len(x), per_sim)])


def task_for(n: int, jobs: int) -> ChunkTask:
    pb, provider = problem(), HandfulOfFeatures()
    size = default_chunk_size(pb, provider.recording(), n, n_workers=jobs)
    return ChunkTask(pb, NAMES, size, provider.recording(), None, cloudpickle.dumps(provider))


def timed(task: ChunkTask, theta: np.ndarray, pool) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds, CPU seconds summed over the chunks) of one simulate_features call."""
    start = time.perf_counter()
    x = simulate_features(task, theta, executor=pool, seed=0, progress=False)
    return time.perf_counter() - start, float(x[:, -1].sum())


def run(n: int, jobs: int) -> dict[str, float]:
    """Cold and warm wall/CPU seconds for ``jobs`` workers."""
    theta = draw(n, seed=2)
    task = task_for(n, jobs)
    out: dict[str, float] = {"chunk": task.chunk_size}
    if jobs == 1:
        clear_cache()
        out["cold"], _ = timed(task, theta, None)
        out["warm"], out["cpu"] = timed(task, theta, None)
        return out
    with process_pool(jobs) as pool:
        out["cold"], _ = timed(task, theta, pool)
        out["warm"], out["cpu"] = timed(task, theta, pool)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=4000)
    parser.add_argument("--jobs", nargs="*", type=int, default=[1, 2])
    args = parser.parse_args()
    use_cython()
    runner.run_chunk = timed_run_chunk  # workers receive it by reference to this module
    simulate_features(task_for(4, 1), draw(4), progress=False)  # fill the compilation cache
    print(f"{'n_jobs':>6} {'chunk':>6} {'cold s':>7} {'warm s':>7} {'warm sims/s':>12} "
          f"{'speedup':>8} {'CPU ms/sim':>11} {'free-core estimate':>19}")  # fmt: skip
    base = None
    for jobs in args.jobs:
        r = run(args.n, jobs)
        base = base or r
        speedup = base["warm"] / r["warm"]
        estimate = jobs * base["cpu"] / r["cpu"]
        print(f"{jobs:>6} {r['chunk']:>6.0f} {r['cold']:>7.1f} {r['warm']:>7.1f} "
              f"{args.n / r['warm']:>12.0f} {speedup:>8.2f} {1e3 * r['cpu'] / args.n:>11.2f} "
              f"{estimate:>19.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
