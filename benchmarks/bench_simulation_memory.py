"""Peak memory of simulate + features for many 1 s HH traces: bounded and flat in n_samples.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_memory.py [N ...]

Each N runs in a fresh process (cython target, default chunk size, serial) and reports its
peak resident set size (``ru_maxrss``) after the run, with the RSS of the same process before
simulating (imports: Brian 2, torch, sbi) for reference. Goal: < 2 GB, flat in N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import cloudpickle
from bench_simulation_hh import NAMES, HandfulOfFeatures, draw, peak_rss_mb, problem, use_cython
from brian2modelfitting_sbi.simulation import ChunkTask, default_chunk_size, simulate_features
use_cython()
before = peak_rss_mb()
n = {n}
pb, provider = problem(), HandfulOfFeatures()
size = default_chunk_size(pb, provider.recording(), n)
task = ChunkTask(pb, NAMES, size, provider.recording(), None, cloudpickle.dumps(provider))
start = time.perf_counter()
x = simulate_features(task, draw(n), seed=0, progress=False)
seconds = time.perf_counter() - start
print(json.dumps(dict(n=n, chunk=size, before=before, peak=peak_rss_mb(), seconds=seconds,
                      finite=int((x == x).all(axis=1).sum()))))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print(f"{'n_samples':>10} {'chunk':>6} {'RSS after imports MiB':>22} {'peak RSS MiB':>13} "
          f"{'time s':>8} {'sims/s':>7}")  # fmt: skip
    for n in args.n:
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(here=here, n=n)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        row = json.loads(out.stdout.strip().splitlines()[-1])
        assert row["finite"] == n
        print(f"{n:>10} {row['chunk']:>6} {row['before']:>22.0f} {row['peak']:>13.0f} "
              f"{row['seconds']:>8.1f} {n / row['seconds']:>7.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
