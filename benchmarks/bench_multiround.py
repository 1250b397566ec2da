"""Multi-round SNPE: truncated proposals, combined loss and atomic loss, for time and quality.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_multiround.py upstream [--n 2000]
        [--modes truncated combined atomic] [--json out.json]
    OMP_NUM_THREADS=1 python benchmarks/bench_multiround.py passive [--n 1000]
        [--observations 3]
    OMP_NUM_THREADS=1 python benchmarks/bench_multiround.py hh4 [--n 1000] [--tests 20]
        [--first 0]

Every run is two rounds of ``--n`` simulations with ``training={'multi_round': mode}``
(``--variant scratch``: round 2 retrains from scratch, ``patience5``: round 2 stops after 5
epochs without improvement; the default continues from round 1's network, as sbi does).

``upstream``
    The workload of :mod:`bench_upstream_workload` (HH, 4 parameters, 7 per-trace callables,
    MDN). Round 1 is simulated once; every mode trains on the same round 1, then draws and
    simulates its own round 2. Reported: training time per round, epochs and seconds per
    epoch, the time to draw round 2's parameters, and the quality of the final posterior
    against the recording: the RMS difference (mV) between the recorded traces and the traces
    simulated at the posterior mean and at 20 posterior draws (median), and the number of
    spikes they fire against the recording's.
``passive``
    The validation problem (:mod:`validation.problem`, exact posterior on a grid): C2ST of
    2,000 posterior draws against exact draws at ``--observations`` noisy observations.
``hh4``
    :mod:`validation.hh`'s hh4: ``--tests`` observations simulated at parameters drawn from
    the prior, each its own two-round inference; the coverage of the truth by each
    parameter's central 50% and 90% posterior intervals (calibrated: 0.5 and 0.9), and the
    posterior's width (std over the prior width).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MODES = ("truncated", "combined", "atomic")
VARIANTS = {
    "warm": {},
    "scratch": {"retrain_from_scratch": True},
    "patience5": {"stop_after_epochs": 5},
}


def _training(mode: str, variant: str, later: bool) -> dict:
    return {"multi_round": mode, **(VARIANTS[variant] if later else {})}


def _epochs(inf) -> tuple[int, float]:
    summary = inf.backend.trainer.summary
    epochs = int(summary["epochs_trained"][-1])
    durations = summary["epoch_durations_sec"][-epochs:] if epochs else [float("nan")]
    return epochs, float(np.mean(durations))


def _two_rounds(inf, n: int, mode: str, variant: str, seed: int, first=None, **train) -> dict:
    """Round 1 (simulated, or ``first = (theta, x)``), round 2 from the mode's proposal."""
    row = {"mode": mode, "variant": variant}
    if first is None:
        t0 = time.perf_counter()
        inf.simulate(n, seed=seed, progress=False)
        row["simulate_1_s"] = time.perf_counter() - t0
    else:
        inf.add_round(*first)
    for r in (1, 2):
        if r == 2:
            t0 = time.perf_counter()
            inf.simulate(n, seed=seed + 1, progress=False)
            row["simulate_2_s"] = time.perf_counter() - t0
            timings = inf.rounds[-1].timings
            row["simulate_2_workers_s"] = sum(t.simulate_s + t.features_s for t in timings)
            proposal = inf.rounds[-1].proposal
            row["acceptance"] = getattr(proposal, "acceptance", None)
        t0 = time.perf_counter()
        if r == 2:  # the round-1 backend continues: give it round 2's settings
            inf.backend.update_settings(training=_training(mode, variant, True))
        inf.train("snpe", seed=seed + r, training=_training(mode, variant, r == 2), **train)
        inf.build_posterior()
        row[f"train_{r}_s"] = time.perf_counter() - t0
        row[f"epochs_{r}"], row[f"epoch_{r}_s"] = _epochs(inf)
    return row


def _print(row: dict, keys: list[str]) -> None:
    print("  ".join(f"{k}={row[k]:.3g}" if isinstance(row[k], float) else f"{k}={row[k]}"
                    for k in keys if k in row), flush=True)


TIMES = ["mode", "variant", "train_1_s", "epochs_1", "epoch_1_s", "simulate_2_s",
         "simulate_2_workers_s", "acceptance", "train_2_s", "epochs_2", "epoch_2_s"]


# ---------------------------------------------------------------------- upstream workload
def upstream(args) -> list[dict]:
    import bench_upstream_workload as w

    w.prefs.codegen.target = "cython"
    inf = w.make_inferencer()
    t0 = time.perf_counter()
    theta, x = inf.simulate(args.n, seed=1, progress=False)
    simulate_1 = time.perf_counter() - t0
    rows = []
    for mode in args.modes:
        inf.set_bounds(restart=True)
        row = _two_rounds(inf, args.n, mode, args.variant, 1, first=(theta, x), estimator="mdn")
        row["simulate_1_s"] = simulate_1
        row.update(w.trace_quality(inf))
        _print(row, TIMES + ["rms_mean_mV", "rms_draws_mV", "spikes_mean", "spikes_data"])
        rows.append(row)
    return rows


# ---------------------------------------------------------------------- passive membrane
def passive(args) -> list[dict]:
    import torch
    from sbi.utils.metrics import c2st
    from validation import problem as P
    from validation.run import _box, _scaled, exact_reference

    rows = []
    lower, upper = _box()
    for k in range(args.observations):
        reference, _ = exact_reference(P.make_inferencer(seed=k), 2000, seed=k)
        for mode in args.modes:
            inf = P.make_inferencer(seed=k)
            inf.set_bounds(**P.BOUNDS)
            row = _two_rounds(inf, args.n, mode, args.variant, 10 * k)
            torch.manual_seed(0)
            samples = inf.sample_array(2000, seed=k)
            row["observation"] = k
            row["c2st"] = float(c2st(_scaled(reference, lower, upper),
                                     _scaled(samples, lower, upper)))
            _print(row, ["observation", *TIMES, "c2st"])
            rows.append(row)
    for mode in args.modes:
        mine = [r for r in rows if r["mode"] == mode]
        print(f"{mode:>10}: mean C2ST {np.mean([r['c2st'] for r in mine]):.3f}, train "
              f"{np.mean([r['train_1_s'] + r['train_2_s'] for r in mine]):.1f} s", flush=True)
    return rows


# ---------------------------------------------------------------------- hh4 coverage
def _hh4_inferencer(truth: np.ndarray, seed: int):
    from brian2 import Quantity, mV, volt
    from validation import hh

    from brian2modelfitting_sbi import Inferencer
    from brian2modelfitting_sbi.problem import Problem
    from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

    args = hh.arguments("hh4")
    features = args.pop("features")
    placeholder = np.full(np.shape(args["input"]), -65.0) * mV
    problem = Problem.from_arguments(output_var="v", output=placeholder, **args)
    names = sorted(hh.HH4_BOUNDS)
    sim = ChunkSimulator(problem, names, 1, Recording(("v",)), "cython")
    v = sim.run(truth[None, :], seed=seed).traces["v"][0]
    return Inferencer(output_var="v", output=Quantity(v, dim=volt.dim), features=features,
                      target="cython", **args)


def hh4(args) -> list[dict]:
    from validation import hh

    names = sorted(hh.HH4_BOUNDS)
    lower = np.array([float(hh.HH4_BOUNDS[k][0]) for k in names])
    upper = np.array([float(hh.HH4_BOUNDS[k][1]) for k in names])
    rng = np.random.default_rng(12345)
    truths = lower + (upper - lower) * rng.random((args.first + args.tests, len(names)))
    rows = []
    for k, truth in enumerate(truths):
        if k < args.first:
            continue
        for mode in args.modes:
            inf = _hh4_inferencer(truth, seed=k)
            inf.set_bounds(**hh.HH4_BOUNDS)
            try:
                row = _two_rounds(inf, args.n, mode, args.variant, 100 * k)
            except RuntimeError as exc:  # e.g. every simulation invalid
                print(f"test {k} {mode}: {exc}", flush=True)
                continue
            samples = inf.sample_array(1000, seed=k)
            rank = (samples < truth).mean(axis=0)
            row.update(test=k, rank=rank.tolist(),
                       width=(samples.std(axis=0) / (upper - lower)).tolist())
            _print(row, ["test", *TIMES])
            rows.append(row)
    for mode in args.modes:
        mine = [r for r in rows if r["mode"] == mode]
        if not mine:
            continue
        ranks = np.array([r["rank"] for r in mine])
        c50 = np.mean(np.abs(ranks - 0.5) < 0.25, axis=0)
        c90 = np.mean(np.abs(ranks - 0.5) < 0.45, axis=0)
        width = np.mean([r["width"] for r in mine], axis=0)
        train = np.mean([r["train_1_s"] + r["train_2_s"] for r in mine])
        print(f"{mode:>10} ({len(mine)} tests): 50% coverage "
              f"{' '.join(f'{n}={c:.2f}' for n, c in zip(names, c50, strict=True))}; 90% "
              f"{' '.join(f'{n}={c:.2f}' for n, c in zip(names, c90, strict=True))}; width "
              f"{np.round(width, 3).tolist()}; train {train:.1f} s per inference", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("upstream", "passive", "hh4"))
    parser.add_argument("--n", type=int, default=None, help="simulations per round")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--variant", default="warm", choices=sorted(VARIANTS))
    parser.add_argument("--observations", type=int, default=3)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="hh4: skip the first tests")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    args.n = args.n or {"upstream": 2000, "passive": 1000, "hh4": 1000}[args.workload]
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("brian2").setLevel(logging.ERROR)
    rows = {"upstream": upstream, "passive": passive, "hh4": hh4}[args.workload](args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
