"""Sequential rounds of SNPE, SNLE and SNRE on the passive membrane, at real training sizes.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_workflow_rounds.py [--sims 1000] [--rounds 3]
        [--backends snpe snle snre] [--seed 0]

For each backend and round: the posterior spread (mean std over the prior width; the prior
gives 0.29), the bias of the posterior mean and of the MAP (distance to the ground truth over
the prior width), the wall time of the round (simulation + training + building the
posterior), and after the last round the time to save and load the inference and whether the
loaded one samples the same values. The tests check the direction (round 2 narrower) at tiny
sizes; this prints the figures at sizes where training converges with the default settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from brian2 import prefs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import fitter_args, passive, window_features  # noqa: E402

from brian2modelfitting_sbi import Inferencer  # noqa: E402


def one_backend(backend: str, sims: int, rounds: int, seed: int) -> list[dict]:
    problem = passive.__wrapped__()
    truth = np.array([float(problem["truth"][k]) for k in sorted(problem["truth"])])
    inf = Inferencer(**fitter_args(problem), features=window_features())
    rows = []
    for r in range(rounds):
        start = time.perf_counter()
        inf.infer(sims, backend=backend, seed=seed, progress=False, **problem["bounds"])
        elapsed = time.perf_counter() - start
        samples = inf.sample_array(1000, seed=0)
        best = inf.space.to_array(inf.best_params)
        rows.append(
            {
                "backend": backend,
                "round": r + 1,
                "sims": inf.n_simulations,
                "spread": float(np.mean(samples.std(axis=0) / inf.space.width)),
                "mean_bias": float(np.max(np.abs(samples.mean(axis=0) - truth) / inf.space.width)),
                "map_bias": float(np.max(np.abs(best - truth) / inf.space.width)),
                "seconds": elapsed,
            }
        )
        print(_line(rows[-1]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inference.zip")
        start = time.perf_counter()
        inf.save(path)
        saved = time.perf_counter() - start
        start = time.perf_counter()
        loaded = Inferencer.load(path)
        load_time = time.perf_counter() - start
        same = np.array_equal(loaded.sample_array(200, seed=1), inf.sample_array(200, seed=1))
        size = os.path.getsize(path) / 1024
    print(
        f"  {backend}: save {saved:.2f} s, load {load_time:.2f} s, {size:.0f} KiB, "
        f"same samples after loading: {same}"
    )
    return rows


def _line(row: dict) -> str:
    return (
        f"{row['backend']:>6} {row['round']:>5} {row['sims']:>6} {row['spread']:>8.4f} "
        f"{row['mean_bias']:>9.4f} {row['map_bias']:>8.4f} {row['seconds']:>8.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["snpe", "snle", "snre"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prefs.codegen.target = "numpy"  # tiny network: compiling would cost more than it saves
    print(
        f"{'method':>6} {'round':>5} {'sims':>6} {'spread':>8} {'mean_bias':>9} "
        f"{'map_bias':>8} {'seconds':>8}"
    )
    for backend in args.backends:
        one_backend(backend, args.sims, args.rounds, args.seed)


if __name__ == "__main__":
    main()
