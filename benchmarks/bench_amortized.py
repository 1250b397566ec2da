"""Amortized SNPE on many recordings against one brian2modelfitting fit per recording.

Problem: a passive membrane with membrane noise (``sigma*xi``), three unknowns (``gL``, ``C``,
``EL``), two step currents; features are window means of ``v`` per trace. ``--n-cells``
synthetic recordings are simulated from parameters drawn from the prior (the truth is known).

SBI: one round of SNPE on ``--n-train`` simulations, then the posterior of every recording with
:meth:`Inferencer.condition_many` (samples, summaries, misspecification flags and the MAP),
timed in both sampling modes. Coverage: the fraction of (recording, parameter) pairs whose
true value lies in the 90% central credible interval (calibrated: about 90%).

Fitting: ``TraceFitter`` + ``NevergradOptimizer('DE')`` + ``MSEMetric`` per recording at the
same simulation budget per cell as the whole SNPE training (``--per-round`` samples ×
``n_train / per_round`` rounds). Fitting all cells takes long on a small machine, so only
``--n-fits`` cells are fitted and the time per cell is extrapolated to all of them (the
output says so).

Run (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_amortized
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_amortized --n-fits 100  # all fits
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from brian2 import Quantity, ms, mV, nA, nS, pF, prefs

from brian2modelfitting_sbi import Inferencer, vectorized

EQUATIONS = """
dv/dt = (gL*(EL - v) + I)/C + sigma*xi : volt
gL : siemens (constant)
C : farad (constant)
EL : volt (constant)
"""
#: Membrane noise (module level: brian2modelfitting reads constants from the caller).
sigma = 0.1 * mV / ms**0.5
DT = 0.1 * ms
N_STEPS = 1000
V0 = -70 * mV
#: Step currents (nA) per trace, on from step ON to step OFF.
AMPLITUDES = (0.1, 0.3)
ON, OFF = 200, 700
#: Windows (start, stop) in steps whose mean voltage is a feature.
WINDOWS = {
    "rest": (100, 200),
    "rise": (210, 260),
    "climb": (260, 400),
    "plateau": (550, 700),
    "fall": (710, 760),
    "decay": (800, 1000),
}
BOUNDS = {"gL": [2 * nS, 30 * nS], "C": [50 * pF, 400 * pF], "EL": [-80 * mV, -60 * mV]}
LEVEL = 0.9


def currents() -> Quantity:
    """The two step currents ``(2, N_STEPS)``."""
    out = np.zeros((len(AMPLITUDES), N_STEPS))
    for k, amplitude in enumerate(AMPLITUDES):
        out[k, ON:OFF] = amplitude
    return out * nA


def window_features() -> list:
    """Vectorized window means of v (one function per window)."""
    funcs = []
    for name, (start, stop) in WINDOWS.items():

        def mean(block: np.ndarray, start: int = start, stop: int = stop) -> np.ndarray:
            return block[:, start:stop].mean(axis=1)

        mean.__name__ = name
        funcs.append(vectorized(mean))
    return funcs


def make_inferencer(target: str) -> Inferencer:
    placeholder = np.full((len(AMPLITUDES), N_STEPS), -70.0) * mV
    return Inferencer(
        EQUATIONS,
        input_var="I",
        input=currents(),
        output_var="v",
        output=placeholder,
        dt=DT,
        method="euler",
        param_init={"v": V0},
        features=window_features(),
        namespace={"sigma": sigma},
        target=target,
    )


def fit_one(recording: Quantity, budget: int, per_round: int, seed: int) -> tuple[dict, float]:
    """brian2modelfitting: DE + MSE on one recording; returns (best params, seconds)."""
    from brian2modelfitting import MSEMetric, NevergradOptimizer, TraceFitter

    np.random.seed(seed)  # noqa: NPY002 - nevergrad and Brian's noise draw from it
    start = time.perf_counter()
    fitter = TraceFitter(
        model=EQUATIONS,
        input_var="I",
        input=currents(),
        output_var="v",
        output=recording,
        dt=DT,
        n_samples=per_round,
        method="euler",
        param_init={"v": V0},
    )
    best, _ = fitter.fit(
        optimizer=NevergradOptimizer(method="DE"),
        metric=MSEMetric(),
        n_rounds=budget // per_round,
        callback=None,
        **BOUNDS,
    )
    return best, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-fits", type=int, default=10, help="cells fitted with DE")
    parser.add_argument("--per-round", type=int, default=40, help="DE population per round")
    parser.add_argument("--n-samples", type=int, default=1000, help="posterior samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", default="cython")
    args = parser.parse_args()
    prefs.codegen.target = args.target
    warnings.filterwarnings("ignore", category=UserWarning)

    inf = make_inferencer(args.target)
    space = inf.set_bounds(**BOUNDS)
    truth = space.sample_prior(args.n_cells, np.random.default_rng(args.seed))
    t0 = time.perf_counter()
    outputs = inf.generate_traces(params=space.to_quantities(truth), seed=args.seed)["v"]
    t_data = time.perf_counter() - t0
    recordings = [outputs[i] for i in range(args.n_cells)]

    t0 = time.perf_counter()
    inf.simulate(args.n_train, seed=args.seed + 1, progress=False)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    inf.train("snpe", seed=args.seed + 2)
    with warnings.catch_warnings():
        # the constructor's placeholder recording (flat -70 mV) is not a real observation
        warnings.simplefilter("ignore", RuntimeWarning)
        inf.build_posterior()
    t_train = time.perf_counter() - t0

    timings = {}
    results = None
    for label, kwargs in (
        ("per-recording (exact seeds)", {}),
        ("batched (sample_batched)", {"batched": True}),
        ("per-recording, no MAP", {"with_map": False}),
        ("batched, no MAP", {"batched": True, "with_map": False}),
    ):
        t0 = time.perf_counter()
        res = inf.condition_many(
            recordings, n_samples=args.n_samples, level=LEVEL, seed=args.seed, **kwargs
        )
        timings[label] = time.perf_counter() - t0
        if results is None:
            results = res

    lower = np.array([r.summary.lower for r in results])
    upper = np.array([r.summary.upper for r in results])
    median = np.array([r.summary.median for r in results])
    maps = np.array([r.map_array() for r in results])
    inside = (truth >= lower) & (truth <= upper)
    flagged = len(results.misspecified)

    # ---- fitting a subset with brian2modelfitting
    n_fits = min(args.n_fits, args.n_cells)
    fits, fit_times = [], []
    for i in range(n_fits):
        best, seconds = fit_one(recordings[i], args.n_train, args.per_round, args.seed + i)
        fits.append([float(best[name]) for name in space.names])
        fit_times.append(seconds)
    fits = np.array(fits)

    # ---- report
    width = space.width
    sbi_fixed = t_sim + t_train
    sbi_condition = timings["per-recording (exact seeds)"]
    sbi_total = sbi_fixed + sbi_condition
    fit_per_cell = float(np.mean(fit_times)) if fit_times else float("nan")
    print(
        f"\nPassive membrane with noise, {space.dim} parameters ({', '.join(space.names)}), "
        f"{len(AMPLITUDES)} traces x {N_STEPS} steps, {len(inf.feature_names)} features; "
        f"target={args.target}"
    )
    print(f"{args.n_cells} synthetic recordings from the prior (simulated in {t_data:.1f} s)\n")
    print("SBI (one SNPE round, then condition_many)")
    print(f"  simulate {args.n_train:>6} sims      {t_sim:8.1f} s")
    print(f"  train SNPE                {t_train:8.1f} s")
    for label, seconds in timings.items():
        print(
            f"  {args.n_cells} posteriors, {label:<28} {seconds:7.2f} s "
            f"({1000 * seconds / args.n_cells:.1f} ms per recording)"
        )
    print(
        f"  total to {args.n_cells} posteriors (exact mode, with MAP): {sbi_total:.1f} s "
        f"= {sbi_total / args.n_cells:.2f} s per cell\n"
    )
    print(f"brian2modelfitting TraceFitter + DE + MSE, {args.n_train} simulations per cell")
    print(
        f"  fitted {n_fits} of {args.n_cells} cells: {fit_per_cell:.1f} s per cell "
        f"(min {min(fit_times, default=float('nan')):.1f}, max "
        f"{max(fit_times, default=float('nan')):.1f})"
    )
    extrapolated = "" if n_fits == args.n_cells else " (extrapolated from the fitted cells)"
    print(f"  {args.n_cells} cells: {fit_per_cell * args.n_cells:.0f} s{extrapolated}")
    speedup = fit_per_cell * args.n_cells / sbi_total
    print(f"  speed-up of SBI over fitting, all cells: {speedup:.1f}x\n")

    print(f"Coverage of the truth by the {LEVEL:.0%} credible intervals ({args.n_cells} cells)")
    for j, name in enumerate(space.names):
        print(f"  {name:<4} {inside[:, j].mean():6.1%}")
    print(f"  all  {inside.mean():6.1%}   (calibrated: about {LEVEL:.0%}; goal 80-98%)")
    print(f"  recordings flagged as outside the training simulations: {flagged}\n")

    print("Error against the truth, in % of the prior width (median over cells)")
    print(f"  {'':<26}" + "".join(f"{n:>8}" for n in space.names))
    rows = [
        (f"SBI posterior median ({args.n_cells})", median, truth),
        (f"SBI MAP ({args.n_cells})", maps, truth),
    ]
    if n_fits:
        rows += [
            (f"SBI posterior median ({n_fits})", median[:n_fits], truth[:n_fits]),
            (f"DE fit ({n_fits})", fits, truth[:n_fits]),
        ]
    for label, estimate, true in rows:
        err = np.median(np.abs(estimate - true) / width, axis=0) * 100
        print(f"  {label:<26}" + "".join(f"{e:8.2f}" for e in err))


if __name__ == "__main__":
    main()
