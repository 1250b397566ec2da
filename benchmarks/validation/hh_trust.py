"""The trust report on ``hh4``: a well-specified inference, and the mistake of noise-free
simulations against a recording with 1 mV of noise (``python -m benchmarks.validation.hh_trust``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from brian2 import Quantity, volt

from brian2modelfitting_sbi import Inferencer

from . import hh


def main(n_simulations: int = 2000, target: str = "cython") -> None:
    """Print both reports and their timings."""
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    problem = hh.PROBLEMS["hh4"]
    inf = problem.make_inferencer(target=target)
    start = time.perf_counter()
    inf.infer(n_simulations, seed=0, progress=False, **problem.bounds)
    print(f"well specified: infer {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    report = inf.trust_report()
    print(f"report {time.perf_counter() - start:.0f} s\n{report}\n")
    # the same truth, recorded with 1 mV of noise, inferred with noise-free simulations
    args = hh.arguments("hh4")
    args.pop("features")
    clean = np.asarray(inf.problem.outputs["v"])
    recording = clean + np.random.default_rng(5).normal(0.0, 1e-3, clean.shape)
    noise_free = hh.GoncalvesFeatures(hh.HH4_ON, hh.HH4_OFF, 0.0)
    wrong = Inferencer(output_var="v", output=Quantity(recording, dim=volt.dim),
                       features=noise_free, target=target, **args)
    wrong.infer(n_simulations, seed=0, progress=False, **problem.bounds)
    print(f"noise-free simulations, noisy recording:\n{wrong.trust_report()}")


if __name__ == "__main__":
    main()
