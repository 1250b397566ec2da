"""MNLE against SNLE on a problem with spike counts next to continuous voltage features.

A noisy leaky integrate-and-fire neuron (unknowns ``gL`` and ``C``) receives two current
steps; the features are the spike count of each step (integers: discrete for ``mnle``) and
the mean and standard deviation of ``v`` per step (continuous). For each budget, one set of
prior simulations trains both backends (this package's defaults); each then gives the
posterior of the same test observations, simulated from prior draws. Reported per backend,
over the test observations: the error of the posterior mean and the posterior standard
deviation (fractions of the prior width, mean over parameters and observations), the
coverage of the 90% central credible interval (should be about 0.9), and the times.

Run from the repository root::

    python -m benchmarks.bench_mnle                          # budgets 1,000 and 3,000
    python -m benchmarks.bench_mnle --sizes 1000 --tests 10  # quick look
    python -m benchmarks.bench_mnle --features spike_count mean   # fewer continuous features
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from brian2 import ms, mV, nA, nS, pF, second

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import EphysFeatures
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

LIF = """
dv/dt = (gL*(EL - v) + I)/C + sigma*xi : volt (unless refractory)
gL : siemens (constant)
C : farad (constant)
"""
NAMESPACE = {"EL": -70 * mV, "VT": -50 * mV, "sigma": 1 * mV / ms**0.5}
TRUTH = {"gL": 10 * nS, "C": 150 * pF}
BOUNDS = {"gL": [2 * nS, 20 * nS], "C": [50 * pF, 300 * pF]}
LEVEL = 0.9
#: Default features: the spike count (discrete) and voltage statistics of each step.
FEATURES = ("spike_count", "mean", "std")


def make_inferencer(features: tuple[str, ...] = FEATURES) -> Inferencer:
    """The LIF problem with a recording simulated at :data:`TRUTH`."""
    current = np.zeros((2, 600))
    current[0, 100:500], current[1, 100:500] = 0.3, 0.6
    kwargs = dict(
        input_var="I", input=current * nA, dt=0.1 * ms, threshold="v > VT", reset="v = EL",
        refractory=2 * ms, param_init={"v": -70 * mV}, namespace=NAMESPACE,
    )
    blank = {"v": np.zeros((2, 600)) * mV, "spikes": [np.array([]) * second] * 2}
    problem = Problem.from_arguments(LIF, output_var=["v", "spikes"], output=blank, **kwargs)
    sim = ChunkSimulator(problem, ["C", "gL"], 1, Recording(("v",), True))
    result = sim.run(np.array([[float(TRUTH["C"]), float(TRUTH["gL"])]]), seed=1)
    output = {"v": result.traces["v"][0] * 1000 * mV,
              "spikes": [t * second for t in result.spike_trains()[0]]}
    return Inferencer(LIF, output_var=["v", "spikes"], output=output, **kwargs,
                      features=EphysFeatures(list(features)))


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
    return {
        "error": float(np.mean(errors)),
        "sd": float(np.mean(sds)),
        "coverage": float(np.mean(inside)),
        "sample_s": float(np.mean(seconds)),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    """Command-line entry point: prints one row per budget and backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--tests", type=int, default=20, help="test observations")
    parser.add_argument("--draws", type=int, default=500, help="posterior draws each")
    parser.add_argument("--backends", nargs="+", default=["mnle", "snle"])
    parser.add_argument("--features", nargs="+", default=list(FEATURES),
                        help="EphysFeatures names (spike_count is the discrete one)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    tests = make_inferencer(tuple(args.features))
    tests.set_bounds(**BOUNDS)
    theta_test, x_test = tests.simulate(args.tests, seed=999, progress=False)
    keep = np.all(np.isfinite(x_test), axis=1)
    theta_test, x_test = theta_test[keep], x_test[keep]
    rows = []
    print("sims    backend  train s  error   sd      coverage  s/posterior")
    for n in args.sizes:
        inf = make_inferencer(tuple(args.features))
        inf.set_bounds(**BOUNDS)
        inf.simulate(n, seed=n, progress=False)
        for backend in args.backends:
            t0 = time.process_time()
            inf.train(backend, seed=0)
            train_s = time.process_time() - t0
            row = {"n": n, "backend": backend, "train_s": train_s,
                   **score(inf, theta_test, x_test, args.draws)}
            rows.append(row)
            print(f"{n:<7d} {backend:8s} {train_s:7.1f}  {row['error']:.3f}   {row['sd']:.3f}"
                  f"   {row['coverage']:.2f}      {row['sample_s']:.2f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
