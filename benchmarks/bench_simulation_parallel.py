"""Two workers against one: a local process pool and a two-worker Dask cluster, repeated.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_parallel.py [N] [--repeat 5]
        [--kinds pool dask] [--json out.json]

N HH samples (1 s, dt = 0.05 ms, cython; see :mod:`bench_simulation_hh`), default chunk sizes.
Each repetition times, back to back: one job in this process, a fresh 2-process
:class:`~brian2modelfitting_sbi.simulation.WorkerPool`, and a Dask cluster of a scheduler and
two single-threaded workers started as separate processes on loopback (``dask scheduler`` /
``dask worker``, the way users start one). "cold" is the first run (a pool: worker start and
network build; Dask: network build on running workers); "warm" the second run on the same
workers. The machine's own noise is as large as the effect, so the 2-vs-1 ratio is reported for
every repetition with its median and spread (min–max).

Where the second core's time goes: per-chunk timings measured in the workers give each
worker's busy seconds; ``busy`` is their sum over ``jobs x wall`` (1.0: both workers busy all
along), the rest is start-up, waiting for the last chunk, and the parent.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_simulation_hh import NAMES, HandfulOfFeatures, draw, problem, use_cython

from brian2modelfitting_sbi.simulation import (
    WorkerPool,
    clear_cache,
    make_task,
    simulate_features,
)

HERE = Path(__file__).resolve().parent


def timed(n: int, executor) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds, busy fraction of the workers) of one simulate_features call."""
    pb, provider = problem(), HandfulOfFeatures()
    task = make_task(pb, NAMES, provider, n, executor=executor)
    timings: list = []
    start = time.perf_counter()
    simulate_features(task, draw(n, seed=2), executor=executor, seed=0, progress=False,
                      timings=timings)
    wall = time.perf_counter() - start
    workers = max(1, len({t.worker for t in timings}))
    jobs = 1 if executor is None else max(workers, 2)
    busy = sum(t.simulate_s + t.features_s for t in timings) / (jobs * wall)
    return wall, busy


class DaskCluster:
    """A scheduler and two workers, each its own process, on loopback."""

    def __init__(self, n_workers: int = 2) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        cli = [sys.executable, "-m"]
        self.procs = [subprocess.Popen([*cli, "distributed.cli.dask_scheduler", "--host",
                                        "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                       **quiet)]
        self.procs += [
            subprocess.Popen([*cli, "distributed.cli.dask_worker", self.address, "--nthreads",
                              "1", "--no-nanny", "--no-dashboard"], **quiet)
            for _ in range(n_workers)
        ]

    def close(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def one_repeat(n: int, kinds: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    clear_cache()
    out["serial_cold"], _ = timed(n, None)
    out["serial_warm"], _ = timed(n, None)
    if "pool" in kinds:
        with WorkerPool(2) as pool:
            out["pool_cold"], _ = timed(n, pool)
            out["pool_warm"], out["pool_busy"] = timed(n, pool)
    if "dask" in kinds:
        from distributed import Client

        cluster = DaskCluster()
        try:
            with Client(cluster.address, timeout=60) as client:
                client.wait_for_workers(2, timeout=120)
                client.run(use_cython)
                out["dask_cold"], _ = timed(n, client)
                out["dask_warm"], out["dask_busy"] = timed(n, client)
        finally:
            cluster.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", nargs="*", default=["pool", "dask"], choices=["pool", "dask"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    use_cython()
    simulate_features(make_task(problem(), NAMES, HandfulOfFeatures(), 4), draw(4),
                      progress=False)  # fill the compilation cache
    print(f"load average before: {os.getloadavg()}", flush=True)
    runs = []
    for r in range(args.repeat):
        res = one_repeat(args.n, args.kinds)
        runs.append(res)
        line = f"run {r + 1}: 1 job {res['serial_warm']:.1f} s warm"
        for kind in args.kinds:
            line += (f" | {kind}: cold {res['serial_cold'] / res[f'{kind}_cold']:.2f}x, warm "
                     f"{res['serial_warm'] / res[f'{kind}_warm']:.2f}x "
                     f"({res[f'{kind}_warm']:.1f} s, busy {res[f'{kind}_busy']:.2f})")
        print(line, flush=True)
    print(f"load average after: {os.getloadavg()}")
    for kind in args.kinds:
        for when in ("warm", "cold"):
            ratios = [r[f"serial_{when}"] / r[f"{kind}_{when}"] for r in runs]
            print(f"{kind:>4} {when}: 2 vs 1 median {statistics.median(ratios):.2f}x, spread "
                  f"{min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} runs "
                  f"({', '.join(f'{x:.2f}' for x in ratios)})")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
