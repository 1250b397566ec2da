"""The result, plot, predictive, calibration and conditioning entry points check their args."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA, nS, pF
from workflow_support import trained_snpe

from brian2modelfitting_sbi import ProblemError

GOOD = {"gL": 10 * nS, "C": 200 * pF}


def _v(inf):
    return inf.problem.outputs["v"]


CASES = {
    "sample n=0": (lambda inf: inf.sample(0), r"n: expected an integer >= 1, got 0"),
    "sample n=-1": (lambda inf: inf.sample(-1), r"n: expected an integer >= 1"),
    "sample n='3'": (lambda inf: inf.sample("3"), r"n: expected an integer >= 1, got '3'"),
    "sample seed": (lambda inf: inf.sample(3, seed="x"), r"seed: expected an integer"),
    "sample threads": (lambda inf: inf.sample_array(3, threads=0), r"threads: expected an int"),
    "log_prob units": (
        lambda inf: inf.log_prob({"gL": 3 * mV, "C": 200 * pF}),
        r"params\['gL'\]: expected units of siemens, got 3. \* mvolt",
    ),
    "log_prob nan": (
        lambda inf: inf.log_prob({"gL": np.nan * nS, "C": 200 * pF}),
        r"params\['gL'\]: expected finite values",
    ),
    "log_prob shapes": (
        lambda inf: inf.log_prob({"gL": [1, 2, 3] * nS, "C": [1, 2] * pF}),
        r"params: every parameter needs the same number of values",
    ),
    "log_prob str": (
        lambda inf: inf.log_prob({"gL": "a", "C": 200 * pF}),
        r"params\['gL'\]: expected a number or array with units, got 'a'",
    ),
    "log_prob list": (lambda inf: inf.log_prob([1, 2]), r"params: expected a dict"),
    "log_prob missing": (lambda inf: inf.log_prob({}), r"params: missing values for"),
    "map unknown": (lambda inf: inf.map(foo=1), r"map options: unknown \['foo'\]"),
    "map num_iter": (
        lambda inf: inf.map(num_iter=-1), r"map options: num_iter must be an integer >= 1"
    ),
    "map rate": (lambda inf: inf.map(learning_rate=np.inf), r"learning_rate must be a number"),
    "summary level": (lambda inf: inf.summary(level=2), r"level: expected a probability"),
    "pairplot points": (
        lambda inf: inf.pairplot(n_samples=10, points="x"), r"params|points"
    ),
    "pairplot limits": (
        lambda inf: inf.pairplot(n_samples=10, limits={"gL": [1 * mV, 2 * mV]}),
        r"limits\['gL'\]: expected \[lower, upper\] in siemens",
    ),
    "conditional resolution": (
        lambda inf: inf.conditional_pairplot(resolution=0), r"resolution: expected an integer"
    ),
    "conditional condition": (
        lambda inf: inf.conditional_corrcoef(condition={"gL": 1 * nS}),
        r"params: missing values for \['C'\]",
    ),
    "generate n": (lambda inf: inf.generate_traces(n_samples=0), r"n_samples: expected"),
    "generate variables": (
        lambda inf: inf.generate_traces(GOOD, variables=["zz"]), r"variables: 'zz' is not"
    ),
    "generate params nan": (
        lambda inf: inf.generate_traces({"gL": np.nan * nS, "C": 1 * pF}),
        r"params\['gL'\]: expected finite values",
    ),
    "predictive level": (
        lambda inf: inf.plot_predictive(outputs={"v": np.zeros((2, 2, 300))}, level=5),
        r"level: expected a probability",
    ),
    "predictive traces": (
        lambda inf: inf.plot_predictive(outputs={"v": np.zeros((2, 2, 300))}, traces=[9]),
        r"traces: expected indices in 0..1 \(one per input trace\), got \[9\]",
    ),
    "predictive outputs": (
        lambda inf: inf.plot_predictive(outputs={"v": 1}),
        r"outputs\['v'\]: expected traces of shape \(n_samples, 2, n_steps\)",
    ),
    "predictive outputs type": (
        lambda inf: inf.plot_predictive(outputs=[1, 2]), r"outputs: expected the dict"
    ),
    "calibrate method": (lambda inf: inf.calibrate(method="x"), r"method: expected one of"),
    "calibrate n": (lambda inf: inf.calibrate(n_tests=1), r"n_tests: expected an integer >= 2"),
    "to_arviz n": (lambda inf: inf.to_arviz(0), r"n_draws: expected an integer >= 1"),
    "check_observation z": (
        lambda inf: inf.check_observation(z_limit=-1), r"z_limit: expected a number > 0"
    ),
    "condition shape": (
        lambda inf: inf.condition(_v(inf)[:, :10]), r"outputs\[0\]\['v'\]"
    ),
    "condition units": (
        lambda inf: inf.condition(np.asarray(_v(inf)) * nA),
        r"outputs\[0\]\['v'\]: expected units of volt, got amp",
    ),
    "condition nan": (
        lambda inf: inf.condition(np.full(_v(inf).shape, np.nan) * mV),
        r"contains NaN or infinite values",
    ),
    "condition str": (lambda inf: inf.condition("x"), r"expected a 2-D array"),
    "condition_many empty": (lambda inf: inf.condition_many([]), r"outputs: expected a non-empty"),
    "condition dt": (
        lambda inf: inf.condition(_v(inf) * 1, dt=0.2 * ms), r"dt: the recordings must have"
    ),
    "condition dt type": (
        lambda inf: inf.condition(_v(inf) * 1, dt="x"), r"dt: expected a time \(e.g. 0.1\*ms\)"
    ),
    "condition level": (
        lambda inf: inf.condition(_v(inf) * 1, level=3), r"level: expected a probability"
    ),
}


@pytest.fixture(scope="module")
def trained():
    return trained_snpe()


@pytest.mark.parametrize("case", sorted(CASES))
def test_entry_point_refuses_malformed_argument(trained, case):
    call, pattern = CASES[case]
    with pytest.raises(ProblemError, match=pattern):
        call(trained)
