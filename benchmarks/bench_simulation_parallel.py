"""Simulation throughput with a local process pool: n_jobs=2 against n_jobs=1.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_parallel.py [N] [--jobs 1 2]

N HH samples (1 s, dt = 0.05 ms, cython), default chunk sizes. "cold" includes starting the
workers and building their networks (what one ``simulate(n_jobs=...)`` call costs); "warm"
reuses a pool whose workers already built their network (later rounds). Goal: >= 1.7x with
2 jobs on a 2-core machine — which needs both cores free: other processes on the machine
lower the figure.
"""

from __future__ import annotations

import argparse
import time

import cloudpickle
from bench_simulation_hh import NAMES, HandfulOfFeatures, draw, problem, use_cython

from brian2modelfitting_sbi.simulation import (
    ChunkTask,
    clear_cache,
    default_chunk_size,
    process_pool,
    simulate_features,
)


def task_for(n: int, jobs: int) -> ChunkTask:
    pb, provider = problem(), HandfulOfFeatures()
    size = default_chunk_size(pb, provider.recording(), n, n_workers=jobs)
    return ChunkTask(pb, NAMES, size, provider.recording(), None, cloudpickle.dumps(provider))


def run(n: int, jobs: int) -> tuple[float, float, int]:
    """(cold seconds, warm seconds, chunk size) for ``jobs`` workers."""
    theta = draw(n, seed=2)
    task = task_for(n, jobs)
    if jobs == 1:
        clear_cache()
        start = time.perf_counter()
        simulate_features(task, theta, seed=0, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        simulate_features(task, theta, seed=0, progress=False)
        return cold, time.perf_counter() - start, task.chunk_size
    with process_pool(jobs) as pool:
        start = time.perf_counter()
        simulate_features(task, theta, executor=pool, seed=0, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        simulate_features(task, theta, executor=pool, seed=0, progress=False)
        return cold, time.perf_counter() - start, task.chunk_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=4000)
    parser.add_argument("--jobs", nargs="*", type=int, default=[1, 2])
    args = parser.parse_args()
    use_cython()
    simulate_features(task_for(4, 1), draw(4), progress=False)  # fill the compilation cache
    print(f"{'n_jobs':>6} {'chunk':>6} {'cold s':>7} {'cold sims/s':>12} {'warm s':>7} "
          f"{'warm sims/s':>12} {'speedup (warm)':>15}")  # fmt: skip
    base = None
    for jobs in args.jobs:
        cold, warm, size = run(args.n, jobs)
        base = base or warm
        print(f"{jobs:>6} {size:>6} {cold:>7.1f} {args.n / cold:>12.0f} {warm:>7.1f} "
              f"{args.n / warm:>12.0f} {base / warm:>15.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
