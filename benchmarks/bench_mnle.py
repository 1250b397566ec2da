"""MNLE against SNLE on problems with spike counts next to continuous voltage features.

Two noisy leaky integrate-and-fire problems (``--problem``):

``steps``
    Unknowns ``gL`` and ``C``; two 40 ms current steps; the spike count of each step (0-12
    spikes) next to the mean and standard deviation of ``v`` per step. The voltage statistics
    carry most of the information.
``sparse``
    Unknowns ``gL`` and the threshold ``VT``; four short (15 ms) steps near threshold; the
    spike count of each step (0-4 spikes, many zeros) and the mean of ``v`` over each trace.
    Small counts carry the information about ``VT``: the case for a categorical model of the
    counts instead of a continuous flow on integers.

For each budget and training seed, one set of prior simulations trains every backend
(this package's defaults); each then gives the posterior of the same test observations,
simulated from prior draws. Reported per backend, over the test observations: the error of
the posterior mean and the posterior standard deviation (fractions of the prior width, mean
over parameters and observations), the coverage of the 90% central credible interval (should
be about 0.9) and the times; with several seeds, their mean and the spread (max - min) of the
error.

Run from the repository root::

    python -m benchmarks.bench_mnle                                 # steps, 1,000 and 3,000
    python -m benchmarks.bench_mnle --problem sparse --sizes 500 1000 2000 --seeds 0 1 2
    python -m benchmarks.bench_mnle --sizes 1000 --tests 10         # quick look
    python -m benchmarks.bench_mnle --features spike_count mean     # fewer continuous features
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from brian2 import Quantity, ms, mV, nA, nS, pF, second

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import EphysFeatures
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

LEVEL = 0.9
NOISE = 1 * mV / ms**0.5


@dataclass(frozen=True)
class LIFProblem:
    """A noisy LIF neuron, its protocol (one current step per trace), unknowns and features."""

    model: str
    namespace: dict
    truth: dict
    bounds: dict
    amplitudes: tuple[float, ...]  # nA, one step per trace
    onset: int  # time steps of 0.1 ms
    duration: int
    n_steps: int
    features: tuple[str, ...]
    #: EphysFeatures' ``stimulus`` (onset, end) for the features measured relative to it.
    stimulus: tuple | None = None

    def current(self) -> Quantity:
        current = np.zeros((len(self.amplitudes), self.n_steps))
        for i, amplitude in enumerate(self.amplitudes):
            current[i, self.onset : self.onset + self.duration] = amplitude
        return current * nA


PROBLEMS = {
    "steps": LIFProblem(
        model="""
dv/dt = (gL*(EL - v) + I)/C + sigma*xi : volt (unless refractory)
gL : siemens (constant)
C : farad (constant)
""",
        namespace={"EL": -70 * mV, "VT": -50 * mV, "sigma": NOISE},
        truth={"gL": 10 * nS, "C": 150 * pF},
        bounds={"gL": [2 * nS, 20 * nS], "C": [50 * pF, 300 * pF]},
        amplitudes=(0.3, 0.6), onset=100, duration=400, n_steps=600,
        features=("spike_count", "mean", "std"),
    ),
    "sparse": LIFProblem(
        model="""
dv/dt = (gL*(EL - v) + I)/C + sigma*xi : volt (unless refractory)
gL : siemens (constant)
VT : volt (constant)
""",
        namespace={"EL": -70 * mV, "C": 150 * pF, "sigma": NOISE},
        truth={"gL": 10 * nS, "VT": -52 * mV},
        bounds={"gL": [5 * nS, 20 * nS], "VT": [-60 * mV, -45 * mV]},
        amplitudes=(0.15, 0.25, 0.35, 0.45), onset=50, duration=150, n_steps=250,
        features=("spike_count", "steady_state"),
        stimulus=(5 * ms, 20 * ms),
    ),
}


def make_inferencer(
    problem: LIFProblem, features: tuple[str, ...] | None = None, truth: dict | None = None
) -> Inferencer:
    """The problem's Inferencer with a recording simulated at ``truth`` (default: its own)."""
    truth = problem.truth if truth is None else truth
    n_traces = len(problem.amplitudes)
    kwargs = dict(
        input_var="I", input=problem.current(), dt=0.1 * ms, threshold="v > VT",
        reset="v = EL", refractory=2 * ms, param_init={"v": -70 * mV},
        namespace=problem.namespace,
    )
    blank = {"v": np.zeros((n_traces, problem.n_steps)) * mV,
             "spikes": [np.array([]) * second] * n_traces}
    names = sorted(problem.bounds)
    model = Problem.from_arguments(problem.model, output_var=["v", "spikes"], output=blank,
                                   **kwargs)
    sim = ChunkSimulator(model, names, 1, Recording(("v",), True))
    result = sim.run(np.array([[float(truth[n]) for n in names]]), seed=1)
    output = {"v": result.traces["v"][0] * 1000 * mV,
              "spikes": [t * second for t in result.spike_trains()[0]]}
    return Inferencer(problem.model, output_var=["v", "spikes"], output=output, **kwargs,
                      features=EphysFeatures(list(features or problem.features),
                                             stimulus=problem.stimulus))


def score(inf: Inferencer, theta: np.ndarray, x: np.ndarray, n_draws: int) -> dict:
    """Posterior-mean error, posterior sd and coverage over the test pairs ``(theta, x)``."""
    width = inf.space.upper - inf.space.lower
    errors, sds, inside, seconds = [], [], [], []
    for k in range(len(theta)):
        t0 = time.perf_counter()
        posterior = inf.backend.build_posterior(inf.x_to_torch(x[k : k + 1]))
        torch.manual_seed(k)
        draws = inf.space.from_torch(posterior.sample((n_draws,), show_progress_bars=False))
        seconds.append(time.perf_counter() - t0)
        errors.append(np.abs(draws.mean(0) - theta[k]) / width)
        sds.append(draws.std(0) / width)
        lo, hi = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
        inside.append((lo <= theta[k]) & (theta[k] <= hi))
    errors, sds, inside = np.array(errors), np.array(sds), np.array(inside)
    return {
        "error": float(errors.mean()),
        "sd": float(sds.mean()),
        "coverage": float(inside.mean()),
        "error_by_param": errors.mean(0).tolist(),
        "sd_by_param": sds.mean(0).tolist(),
        "sample_s": float(np.mean(seconds)),
    }


def grid_score(inf: Inferencer, theta: np.ndarray, x: np.ndarray, n_grid: int) -> dict:
    """The scores of :func:`score` from the exact posterior of the learned likelihood.

    Two unknowns with a uniform prior: the backend's potential (log likelihood + log prior)
    on an ``n_grid`` x ``n_grid`` grid over the prior box, normalised, gives the posterior
    without a sampler's noise; also its log density at the truth (``log_score``, in units of
    the prior width: 0 for the prior, higher is better; a proper score of calibration and
    sharpness together).
    """
    if inf.space.dim != 2:
        raise SystemExit("--score grid needs two unknowns")
    lower, width = inf.space.lower, inf.space.upper - inf.space.lower
    centres = (np.arange(n_grid) + 0.5) / n_grid
    unit = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
    grid = inf.space.to_torch(lower + unit * width)
    errors, sds, inside, scores, seconds = [], [], [], [], []
    for k in range(len(theta)):
        t0 = time.perf_counter()
        posterior = inf.backend.build_posterior(inf.x_to_torch(x[k : k + 1]))
        with torch.no_grad():
            log_p = posterior.potential(grid).double().numpy().reshape(n_grid, n_grid)
        seconds.append(time.perf_counter() - t0)
        p = np.exp(log_p - log_p.max())
        p /= p.sum()
        truth = (theta[k] - lower) / width
        marginals = [p.sum(1), p.sum(0)]
        mean = np.array([m @ centres for m in marginals])
        sd = np.sqrt(np.array([m @ centres**2 for m in marginals]) - mean**2)
        cell = np.minimum((truth * n_grid).astype(int), n_grid - 1)
        scores.append(float(np.log(p[cell[0], cell[1]] * n_grid**2 + 1e-300)))
        errors.append(np.abs(mean - truth))
        sds.append(sd)
        ok = []
        for j, m in enumerate(marginals):
            cdf = np.cumsum(m)
            lo = centres[np.searchsorted(cdf, (1 - LEVEL) / 2)]
            hi = centres[min(np.searchsorted(cdf, (1 + LEVEL) / 2), n_grid - 1)]
            ok.append(lo - 0.5 / n_grid <= truth[j] <= hi + 0.5 / n_grid)
        inside.append(ok)
    errors, sds, inside = np.array(errors), np.array(sds), np.array(inside)
    return {
        "error": float(errors.mean()),
        "sd": float(sds.mean()),
        "coverage": float(inside.mean()),
        "log_score": float(np.mean(scores)),
        "error_by_param": errors.mean(0).tolist(),
        "sd_by_param": sds.mean(0).tolist(),
        "sample_s": float(np.mean(seconds)),
    }


def summarise(rows: list[dict]) -> dict:
    """Mean over seeds of the scores of one budget and backend, with the error's spread."""
    keys = ("train_s", "error", "sd", "coverage", "log_score", "sample_s")
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    out["error_spread"] = float(np.ptp([r["error"] for r in rows]))
    out["error_by_param"] = np.mean([r["error_by_param"] for r in rows], axis=0).tolist()
    out["sd_by_param"] = np.mean([r["sd_by_param"] for r in rows], axis=0).tolist()
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    """Command-line entry point: prints one row per budget, backend and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="steps")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="simulation and training seeds (one run each)")
    parser.add_argument("--tests", type=int, default=20, help="test observations")
    parser.add_argument("--draws", type=int, default=500, help="posterior draws each")
    parser.add_argument("--backends", nargs="+", default=["mnle", "snle"])
    parser.add_argument("--features", nargs="+", default=None,
                        help="EphysFeatures names (spike_count is the discrete one)")
    parser.add_argument("--train-options", type=json.loads, default=None,
                        help="JSON dict of Inferencer.train options for every backend, e.g. "
                             "'{\"estimator\": \"maf\", \"estimator_options\": {...}}'")
    parser.add_argument("--score", choices=["grid", "samples"], default="grid",
                        help="grid: the learned likelihood on a grid over the prior box "
                             "(two unknowns); samples: the backend's posterior samples")
    parser.add_argument("--grid", type=int, default=80, help="grid points per unknown")
    parser.add_argument("--json", default=None, help="write the rows to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    problem = PROBLEMS[args.problem]
    features = None if args.features is None else tuple(args.features)
    tests = make_inferencer(problem, features)
    tests.set_bounds(**problem.bounds)
    theta_test, x_test = tests.simulate(args.tests, seed=999, progress=False)
    keep = np.all(np.isfinite(x_test), axis=1)
    theta_test, x_test = theta_test[keep], x_test[keep]
    options = args.train_options or {}
    rows = []
    print(f"problem {args.problem}: {tests.feature_names}")
    print("sims    backend  seed  train s  error   sd      coverage  log score  s/posterior")
    for n in args.sizes:
        for seed in args.seeds:
            inf = make_inferencer(problem, features)
            inf.set_bounds(**problem.bounds)
            inf.simulate(n, seed=n + 7919 * seed, progress=False)
            for backend in args.backends:
                t0 = time.process_time()
                inf.train(backend, seed=seed, **options)
                train_s = time.process_time() - t0
                scores = (grid_score(inf, theta_test, x_test, args.grid)
                          if args.score == "grid" else
                          score(inf, theta_test, x_test, args.draws))
                row = {"problem": args.problem, "n": n, "backend": backend, "seed": seed,
                       "options": options, "train_s": train_s, "log_score": float("nan"),
                       **scores}
                rows.append(row)
                print(f"{n:<7d} {backend:8s} {seed:<4d}  {train_s:7.1f}  {row['error']:.3f}"
                      f"   {row['sd']:.3f}   {row['coverage']:.2f}      "
                      f"{row['log_score']:+.2f}     {row['sample_s']:.2f}", flush=True)
    if len(args.seeds) > 1:
        print("\nmean over seeds (error spread = max - min over seeds)")
        print("sims    backend  train s  error (spread)  sd      coverage  log score")
        for n in args.sizes:
            for backend in args.backends:
                s = summarise([r for r in rows if r["n"] == n and r["backend"] == backend])
                print(f"{n:<7d} {backend:8s} {s['train_s']:7.1f}  {s['error']:.3f} "
                      f"({s['error_spread']:.3f})   {s['sd']:.3f}   {s['coverage']:.2f}"
                      f"      {s['log_score']:+.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            command = sys.argv[1:] if argv is None else argv
            json.dump({"argv": command, "problem": args.problem, "rows": rows}, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
