"""The main job (``make demo``): the quickstart on the bundled Hodgkin–Huxley recording.

Infers the sodium and potassium conductances of a Hodgkin–Huxley neuron from a synthetic
recording made with known values (bundled with the package), with SNPE on electrophysiology
features of simulations that carry the recording's own measurement noise (estimated by
:attr:`Inferencer.recording_noise`); prints the posterior summary next to the truth and
writes the figures.

Run ``python -m brian2modelfitting_sbi.demo --help`` for the options; the environment variable
``B2MF_SBI_SCALE`` (default 1) scales the simulation budget (the test suite runs it small).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from brian2 import ms, mV

from .datasets import load_hh_recording
from .features import EphysFeatures
from .inferencer import Inferencer

#: Simulations at scale 1: enough for a sharp 2-parameter posterior, minutes on 2 cores.
N_SIMULATIONS = 4000

#: Skewness and kurtosis matter: without them only the ratio g_na/g_kd is identified (the
#: posterior stays a ridge across the prior box, even after two rounds).
FEATURES = EphysFeatures(
    [
        "spike_count", "first_spike_latency", "isi_mean", "ap_peak", "ap_width",
        "mean", "std", "skewness", "kurtosis",
    ],
    threshold=0 * mV,
    stimulus=(10 * ms, 110 * ms),
)


def budget(n: int) -> int:
    """``n`` scaled by ``B2MF_SBI_SCALE`` (at least 200)."""
    return max(200, int(n * float(os.environ.get("B2MF_SBI_SCALE", "1"))))


def run(out: Path, n_simulations: int, seed: int = 1, progress: bool = True) -> Inferencer:
    """Run the quickstart, print the summary and write figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = load_hh_recording()
    truth, bounds = data.pop("truth"), data.pop("bounds")
    # simulated traces get the recording's own noise level, so that their features compare
    noise = Inferencer(**data, features=FEATURES).recording_noise
    inferencer = Inferencer(**data, features=FEATURES, measurement_noise={"v": noise["v"]})
    print(f"measurement noise of the recording: {noise['v'].in_best_unit(3)}")
    t0 = time.perf_counter()
    inferencer.infer(n_simulations, backend="snpe", seed=seed, progress=progress, **bounds)
    elapsed = time.perf_counter() - t0
    print(f"\nSNPE on {n_simulations} simulations: {elapsed:.1f} s "
          f"({inferencer.rounds[-1].n_invalid} invalid)\n")
    summary = inferencer.summary()
    print(summary)
    print("\ntruth (the values the recording was made with):")
    for j, name in enumerate(summary.names):
        unit = summary.units[j]
        inside = summary.lower[j] <= float(truth[name]) <= summary.upper[j]
        print(f"  {name:6s} {float(truth[name] / unit):10.3f} {unit!s:4s}  "
              f"{'inside' if inside else 'OUTSIDE'} the {summary.level:.0%} credible interval")
    print(f"\nMAP: {inferencer.best_params}")

    fig = inferencer.pairplot(points=truth)
    fig.savefig(out / "pairplot.png", dpi=100)
    fig = inferencer.plot_predictive(n_samples=20, seed=seed)
    fig.savefig(out / "predictive.png", dpi=100)
    print(f"\nfigures written to {out}/pairplot.png and {out}/predictive.png")
    return inferencer


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="figure folder")
    parser.add_argument("--n", type=int, default=None, help="number of simulations")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    np.set_printoptions(precision=3)
    run(args.out, args.n or budget(N_SIMULATIONS), seed=args.seed)


if __name__ == "__main__":
    main()
