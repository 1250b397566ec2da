"""Shared fixtures: a tiny passive-membrane problem with a synthetic recording."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA, nS, pF, prefs

from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

# Tiny networks compile faster than they run: the numpy target avoids per-model compilation.
prefs.codegen.target = "numpy"

# The passive membrane of the issue, plus membrane noise so that features carry a proper
# likelihood (deterministic simulations put x on a 2-D manifold, where NLE/NRE are ill-posed).
PASSIVE_EQS = """
dv/dt = (gL*(EL - v) + I)/C + sigma*xi : volt
gL : siemens (constant)
C : farad (constant)
"""
EL = -70 * mV
SIGMA = 0.05 * mV / ms**0.5
TRUTH = {"gL": 10 * nS, "C": 200 * pF}
BOUNDS = {"gL": [1 * nS, 30 * nS], "C": [50 * pF, 400 * pF]}
#: Small, fast training settings for tests (real sizes live in benchmarks/).
FAST_TRAINING = {"max_num_epochs": 60, "stop_after_epochs": 10}
FAST_ESTIMATOR = {"hidden_features": 20, "num_transforms": 2}


def passive_inputs(n_steps: int = 300) -> np.ndarray:
    """Two step currents (0.2 and 0.5 nA), on from step 50 to 250."""
    current = np.zeros((2, n_steps))
    current[0, 50:250] = 0.2
    current[1, 50:250] = 0.5
    return current * nA


def window_features():
    """Per-trace callables: window means of v while rising, at the plateau and decaying.

    (The resting value before the step would be constant over all simulations: useless, and
    harmful for likelihood/ratio estimators.)
    """

    def early(v):
        return v[50:70].mean()

    def rise(v):
        return v[70:100].mean()

    def late(v):
        return v[100:150].mean()

    def plateau(v):
        return v[200:250].mean()

    def decay(v):
        return v[255:300].mean()

    return [early, rise, late, plateau, decay]


@pytest.fixture(scope="session")
def passive():
    """Arguments of a 2-parameter passive-membrane problem and its ground truth."""
    current = passive_inputs()
    dt = 0.1 * ms
    placeholder = np.full(current.shape, -70.0) * mV
    problem = Problem.from_arguments(
        PASSIVE_EQS, input_var="I", input=current, output_var="v", output=placeholder, dt=dt,
        param_init={"v": EL}, namespace={"EL": EL, "sigma": SIGMA},
    )
    sim = ChunkSimulator(problem, ["C", "gL"], 1, Recording(("v",)))
    truth = np.array([[float(TRUTH["C"]), float(TRUTH["gL"])]])
    recording = sim.run(truth, seed=12345).traces["v"][0]
    return {
        "model": PASSIVE_EQS,
        "input_var": "I",
        "input": current,
        "output_var": "v",
        "output": recording * 1000 * mV,
        "dt": dt,
        "param_init": {"v": EL},
        "namespace": {"EL": EL, "sigma": SIGMA},
        "truth": TRUTH,
        "bounds": BOUNDS,
    }


def fitter_args(passive: dict) -> dict:
    """The constructor arguments of a passive fixture (without truth and bounds)."""
    return {k: v for k, v in passive.items() if k not in ("truth", "bounds")}
