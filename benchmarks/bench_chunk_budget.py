"""Time per simulation and peak memory against the chunk size, on the upstream HH workload.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_chunk_budget.py [--n 10000]
        [--sizes 250 500 1000 2000 5000 10000] [--repeat 1] [--full-collection]

Each chunk size runs in a fresh process: build the Inferencer of
:mod:`bench_upstream_workload`, simulate one chunk of that size to build and compile the
network (not timed), then
``simulate(n, chunk_size=K)`` serially, and report the wall seconds per simulation, the peak
RSS (``ru_maxrss``) and the RSS the same process had before simulating (imports, network
build). The default memory budget of a chunk (:data:`~brian2modelfitting_sbi.simulation.runner.
DEFAULT_CHUNK_BYTES`) is chosen from these figures: the smallest chunk whose time per
simulation is within 5% of the fastest.

``--full-collection`` runs every size a second time, alternating, with Brian's own garbage
collection at the start of each chunk's run scanning the whole process (the package hides the
objects that exist before a run from it, :mod:`brian2modelfitting_sbi._heap`): the fixed cost
per chunk that the default avoids, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, resource, sys, time, warnings
sys.path.insert(0, {here!r})
warnings.simplefilter("ignore")
import contextlib
import bench_upstream_workload as w
import brian2modelfitting_sbi.simulation.network as network
from brian2modelfitting_sbi.simulation.runner import bytes_per_sample
if {full}:
    network.frozen_heap = contextlib.nullcontext  # Brian's collection scans everything
w.prefs.codegen.target = "cython"
inf = w.make_inferencer()
inf.simulate({size}, seed=0, chunk_size={size}, progress=False)  # build + compile, not timed
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = rss()
start = time.perf_counter()
inf.simulate({n}, seed=1, chunk_size={size}, progress=False)
seconds = time.perf_counter() - start
per = bytes_per_sample(inf.problem, inf.features.recording())
print(json.dumps(dict(size={size}, n={n}, seconds=seconds, before=before, peak=rss(), full={full},
                      chunk_mb=per * {size} / 2**20, per_sample=per,
                      features=sum(t.features_s for t in inf.rounds[-1].timings))))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[250, 500, 1000, 2000, 5000,
                                                                    10_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--full-collection", action="store_true",
                        help="also time each size with Brian's full collection per chunk")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(here).parent), here])}
    print(f"load average before: {os.getloadavg()}")
    print(f"{'chunk':>6} {'collection':>10} {'chunk MB':>9} {'ms/sim':>7} {'features s':>10} "
          f"{'RSS before MB':>14} {'peak RSS MB':>12}")  # fmt: skip
    results = []
    modes = [False, True] if args.full_collection else [False]
    for size in args.sizes:
        for _ in range(args.repeat):
            for full in modes:
                code = CHILD.format(here=here, n=args.n, size=min(size, args.n), full=full)
                done = subprocess.run([sys.executable, "-c", code], env=env,
                                      capture_output=True, text=True, check=True)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                results.append(r)
                print(f"{r['size']:>6} {'full' if full else 'new':>10} {r['chunk_mb']:>9.0f} "
                      f"{1e3 * r['seconds'] / r['n']:>7.3f} {r['features']:>10.1f} "
                      f"{r['before']:>14.0f} {r['peak']:>12.0f}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    per_sim = {}
    for r in results:
        if not r["full"]:
            per_sim.setdefault(r["size"], []).append(r["seconds"] / r["n"])
    median = {size: statistics.median(v) for size, v in per_sim.items()}
    fastest = min(median.values())
    chosen = min(size for size, t in median.items() if t <= 1.05 * fastest)
    budget = chosen * results[0]["per_sample"] / 2**20
    print(f"smallest chunk within 5% of the fastest time per simulation: {chosen} "
          f"(a memory budget of {budget:.0f} MiB by bytes_per_sample)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
