"""Inputs, outputs and parameters in compound units (per area, per sqrt(time)) simulate."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Equations, amp, cm, farad, get_unit, meter, ms, mV, second, siemens, uA, uF, volt
from brian2.units.fundamentalunits import register_new_unit
from conftest import FAST_ESTIMATOR, FAST_TRAINING

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.modelcheck import unit_code
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

# A membrane patch written per area, as HH models usually are; the noise amplitude is a
# parameter in volt/second**0.5.
AREA_EQS = """
dv/dt = (gL*(EL - v) + I)/Cm + sigma*xi : volt
j = gL*(v - EL) : amp/meter**2
gL : siemens/meter**2 (constant)
Cm : farad/meter**2 (constant)
sigma : volt/second**0.5 (constant)
"""
EL = -65 * mV
TRUTH = {"Cm": 1 * uF / cm**2, "gL": 3 * siemens / meter**2, "sigma": 0.5 * mV / ms**0.5}
BOUNDS = {
    "Cm": [0.5 * uF / cm**2, 2 * uF / cm**2],
    "gL": [1 * siemens / meter**2, 10 * siemens / meter**2],
    "sigma": [0.1 * mV / ms**0.5, 1 * mV / ms**0.5],
}


@pytest.mark.parametrize(
    "unit", [amp / meter**2, siemens / meter**2, farad / meter**2, volt / second**0.5]
)
def test_unit_code_parses_back_to_the_same_dimension(unit):
    code = unit_code(unit)
    assert "(" not in code
    eqs = Equations(f"x : {code}")
    assert eqs["x"].dim == unit.dim


@pytest.fixture(scope="module")
def area():
    # As in a user's script: these units, once written, are what Brian names the dimensions
    # (their repr has parentheses, which Brian's equation parser refuses after a ':').
    for unit in (amp / meter**2, siemens / meter**2, farad / meter**2, volt / second**0.5):
        register_new_unit(unit)
    assert "(" in repr(get_unit((uA / cm**2).dim))
    current = np.zeros((2, 200))
    current[0, 40:160] = 2.0
    current[1, 40:160] = 5.0
    current = current * uA / cm**2
    dt = 0.1 * ms
    placeholder = {
        "v": np.full(current.shape, -65.0) * mV,
        "j": np.zeros(current.shape) * amp / meter**2,
    }
    problem = Problem.from_arguments(
        AREA_EQS, input_var="I", input=current, output=placeholder, dt=dt,
        param_init={"v": EL}, namespace={"EL": EL},
    )
    names = ["Cm", "gL", "sigma"]
    sim = ChunkSimulator(problem, names, 1, Recording(("v", "j")))
    truth = np.array([[float(TRUTH[n]) for n in names]])
    run = sim.run(truth, seed=3)
    return {
        "model": AREA_EQS,
        "input_var": "I",
        "input": current,
        "output": {
            "v": run.traces["v"][0] * volt,
            "j": run.traces["j"][0] * amp / meter**2,
        },
        "dt": dt,
        "param_init": {"v": EL},
        "namespace": {"EL": EL},
    }


def _features(v, j):
    return [v[60:150].mean(), v[160:].mean(), j[60:150].mean()]


def test_per_area_input_output_and_parameters_simulate(area):
    inf = Inferencer(**area, features={"v": [np.mean, np.std], "j": [np.mean]})
    theta, x = inf.simulate(6, seed=1, progress=False, **BOUNDS)
    assert theta.shape == (6, 3)
    assert x.shape == (6, 6)
    assert np.all(np.isfinite(x))
    # the simulated traces respond to the per-area input: the 5 uA/cm**2 trace depolarizes more
    names = inf.feature_names
    mean_v = [k for k, n in enumerate(names) if "v" in n and "mean" in n]
    assert x[:, mean_v[1]].mean() > x[:, mean_v[0]].mean()


def test_simulating_keeps_the_users_unit_names(area):
    inf = Inferencer(**area, features={"v": [np.mean]})
    inf.simulate(2, seed=1, progress=False, **BOUNDS)
    # the generated 'metre ** -2 * amp' did not replace the user's name for the unit
    assert repr(get_unit((uA / cm**2).dim)) == "amp / (meter ** 2)"


def test_per_area_units_infer_end_to_end(area):
    inf = Inferencer(**area, features={"v": [np.mean, np.std], "j": [np.mean]})
    inf.infer(
        30, seed=2, progress=False, training=FAST_TRAINING, estimator_options=FAST_ESTIMATOR,
        **BOUNDS,
    )
    samples = inf.sample(5, seed=0)
    assert samples["gL"].dim == (siemens / meter**2).dim
    assert samples["Cm"].dim == (farad / meter**2).dim
    assert samples["sigma"].dim == (volt / second**0.5).dim
    for name, (lo, hi) in BOUNDS.items():
        assert np.all(samples[name] >= lo) and np.all(samples[name] <= hi)
