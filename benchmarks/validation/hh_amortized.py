"""Time to a calibrated HH-8 posterior, then the cost of each further recording.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.validation.hh_amortized [--n 10000]
        [--estimator nsf] [--ensemble 1] [--recordings 100] [--n-draws 1000] [--seed 1]

Simulates ``--n`` prior draws of the Gonçalves et al. 2020 HH model (:mod:`.hh`, ``hh8``),
trains one round of SNPE (``--estimator``; NSF is what calibrates it, see
``docs/benchmarks.rst``), then simulates ``--recordings`` new recordings at fresh prior draws
(the traces, as a user's new cells) and conditions on all of them with
:meth:`Inferencer.condition_many` (features of each recording, checks, ``--n-draws`` draws
each, one recording at a time and batched through the network; no MAP). Reported: wall time
of simulation and training, milliseconds per further recording in both modes, and the 90%
coverage of the new recordings' true parameters.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from brian2 import Quantity, prefs

from . import hh


def main(argv: list[str] | None = None) -> dict:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--estimator", default="nsf")
    parser.add_argument("--ensemble", type=int, default=1)
    parser.add_argument("--recordings", type=int, default=100)
    parser.add_argument("--n-draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--target", default="cython")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    prefs.codegen.target = args.target
    problem = hh.PROBLEMS["hh8"]
    inf = problem.make_inferencer(target=args.target)
    inf.set_bounds(**problem.bounds)
    began = time.perf_counter()
    inf.simulate(args.n, seed=args.seed, progress=False, n_jobs=args.n_jobs)
    simulated = time.perf_counter() - began
    inf.train("snpe", seed=args.seed, estimator=args.estimator, ensemble=args.ensemble)
    inf.build_posterior()
    trained = time.perf_counter() - began - simulated
    # new cells: traces at fresh prior draws
    truths = inf.space.sample_prior(args.recordings, np.random.default_rng(args.seed + 100))
    traces = inf.generate_traces(params=inf.space.to_quantities(truths), seed=args.seed + 7)
    v = np.asarray(traces["v"])
    recordings = [{"v": Quantity(v[i], dim=traces["v"].dim)} for i in range(len(v))]
    per_recording = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for batched in (False, True):
            inf.condition_many(recordings[:2], n_draws=args.n_draws, with_map=False,
                               batched=batched)  # warm-up
            start = time.perf_counter()
            results = inf.condition_many(recordings, n_draws=args.n_draws, with_map=False,
                                         batched=batched)
            per_recording[results.info["mode"]] = (
                1000 * (time.perf_counter() - start) / len(recordings))
    inside = []
    for result, truth in zip(results, truths, strict=True):
        draws = result.sample_array
        lo, hi = np.percentile(draws, [5, 95], axis=0)
        inside.append((lo <= truth) & (truth <= hi))
    coverage = np.mean(inside, axis=0)
    figures = {
        "n": args.n, "estimator": args.estimator, "ensemble": args.ensemble,
        "simulate_s": simulated, "train_s": trained, "ms_per_recording": per_recording,
        "n_draws": args.n_draws,
        "coverage_90": dict(zip(inf.space.names, coverage.round(3).tolist(), strict=True)),
    }
    print(f"hh8 {args.n} simulations: simulate {simulated:.0f} s, train {trained:.0f} s "
          f"({args.estimator}, ensemble {args.ensemble}); {len(recordings)} further recordings: "
          + ", ".join(f"{ms:.1f} ms each ({mode})" for mode, ms in per_recording.items())
          + f" with {args.n_draws} draws; 90% "
          f"coverage " + ", ".join(f"{k} {c:.2f}" for k, c in figures["coverage_90"].items()))
    return figures


if __name__ == "__main__":
    main()
