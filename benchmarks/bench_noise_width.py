"""Posterior width against the simulation budget on the bundled HH recording, with and
without the recording's measurement noise in the simulations.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_noise_width.py [--sizes 4000 20000]
        [--noise recording none] [--extra-features] [--seed 1 2 3] [--ensemble 5]
        [--rounds 2] [--patience 30] [--box reference|tight] [--json out.json]

The demo's setup (:mod:`brian2modelfitting_sbi.demo`: SNPE on electrophysiology features,
bounds and truth of :func:`~brian2modelfitting_sbi.datasets.load_hh_recording`). With
``--noise recording`` the simulations get white measurement noise at the level that
:attr:`Inferencer.recording_noise` estimates from the recording; ``none`` is the old,
noise-free setup. ``--extra-features`` adds ``min`` and ``max`` of ``v`` (which the noise
moves). For each budget: the posterior std and 90% interval of every parameter, whether the
truth is inside, and the wall time. The goal: with the noise, the std of g_na changes by less
than 25% between 4,000 and 20,000 simulations and the truth stays inside the interval.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from brian2 import ms, mV, uS

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.datasets import load_hh_recording
from brian2modelfitting_sbi.demo import FEATURES
from brian2modelfitting_sbi.features import EphysFeatures


def features(extra: bool):
    """The demo's features, plus ``min``/``max`` of v if ``extra``."""
    if not extra:
        return FEATURES
    return EphysFeatures(
        [
            "spike_count", "first_spike_latency", "isi_mean", "ap_peak", "ap_width",
            "mean", "std", "skewness", "kurtosis", "min", "max",
        ],
        threshold=0 * mV,
        stimulus=(10 * ms, 110 * ms),
    )


#: A box that holds essentially all the posterior's mass (more than 5 posterior std around
#: the truth in each direction at every budget measured): the posterior under the uniform
#: prior on this box equals the posterior under the tutorials' box restricted to it, and
#: simulations spent inside it give a reference width (``--box reference``).
REFERENCE_BOX = {"g_na": [16 * uS, 24 * uS], "g_kd": [4.8 * uS, 7.2 * uS]}
#: A tighter box, about 8 posterior std either side of the reference posterior's median
#: (``--box tight``): a reference that does not depend on resolving a box 120 std wide.
TIGHT_BOX = {"g_na": [19.4 * uS, 20.5 * uS], "g_kd": [5.9 * uS, 6.1 * uS]}
BOXES = {"reference": REFERENCE_BOX, "tight": TIGHT_BOX}


def one(n: int, noise: str, extra: bool, seed: int, ensemble: int = 1, rounds: int = 1,
        training: dict | None = None, box: str = "tutorial") -> dict:
    data = load_hh_recording()
    truth, bounds = data.pop("truth"), data.pop("bounds")
    if box in BOXES:
        bounds = dict(BOXES[box])
    probe = Inferencer(**data, features=features(extra))
    level = probe.recording_noise["v"]
    measurement = {"v": level} if noise == "recording" else None
    inf = Inferencer(**data, features=features(extra), measurement_noise=measurement)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf.infer(n // rounds, n_rounds=rounds, backend="snpe", seed=seed, progress=False,
                  ensemble=ensemble, training=training or None, **bounds)
    wall = time.perf_counter() - start
    samples = inf.sample_array(10_000, seed=0)
    row = {"n": n, "noise": noise, "level_mV": float(level / mV), "extra": extra,
           "wall_s": wall, "invalid": inf.rounds[-1].n_invalid, "ensemble": ensemble,
           "seed": seed, "rounds": rounds, "training": training or {}, "box": box}
    for j, name in enumerate(inf.space.names):
        lo, hi = np.percentile(samples[:, j], [5, 95])
        t = float(truth[name])
        row[name] = {"std": float(samples[:, j].std()), "median": float(np.median(samples[:, j])),
                     "lower": float(lo), "upper": float(hi), "truth": t,
                     "inside": bool(lo <= t <= hi)}
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 20000])
    parser.add_argument("--noise", nargs="+", default=["recording"], choices=["recording", "none"])
    parser.add_argument("--extra-features", action="store_true")
    parser.add_argument("--seed", type=int, nargs="+", default=[1])
    parser.add_argument("--ensemble", type=int, default=1,
                        help="estimators per inference (ensemble=k of infer)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="spend each budget in this many rounds (truncated proposals)")
    parser.add_argument("--patience", type=int, default=None,
                        help="training={'stop_after_epochs': P} (default: the package's)")
    parser.add_argument("--box", default="tutorial", choices=["tutorial", *BOXES],
                        help="prior box: the tutorials', or REFERENCE_BOX / TIGHT_BOX around "
                        "the posterior")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = []
    for noise in args.noise:
        for seed in args.seed:
            for n in args.sizes:
                training = {} if args.patience is None else {"stop_after_epochs": args.patience}
                row = one(n, noise, args.extra_features, seed, args.ensemble, args.rounds,
                          training, args.box)
                rows.append(row)
                g = row["g_na"]
                print(f"{noise:9s} seed {seed} n={n:6d}  g_na std {g['std'] * 1e6:.3f} uS, 90% "
                      f"[{g['lower'] * 1e6:.2f}, {g['upper'] * 1e6:.2f}] uS (truth "
                      f"{g['truth'] * 1e6:.2f}, {'inside' if g['inside'] else 'OUTSIDE'}); "
                      f"level {row['level_mV']:.3f} mV; {row['wall_s']:.0f} s", flush=True)
    for noise in args.noise:
        for seed in args.seed:
            sub = [r for r in rows if r["noise"] == noise and r["seed"] == seed]
            if len(sub) >= 2:
                a, b = sub[0]["g_na"]["std"], sub[-1]["g_na"]["std"]
                print(f"{noise} seed {seed} ensemble {args.ensemble} rounds {args.rounds}: "
                      f"g_na std {sub[0]['n']} -> {sub[-1]['n']}: {(b - a) / a:+.0%}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
