"""Model strings, input units, bounds and spike times are checked before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Equations, ms, mV, nA, nS, pF, second, volt
from conftest import fitter_args

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.errors import Brian2SbiError
from brian2modelfitting_sbi.namespace import check_init_expression
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import network, runner

LIF = """
dv/dt = (gL*(-70*mV - v) + I)/C : volt
gL : siemens (constant)
C : farad (constant)
"""


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail loudly if any network is built or any chunk simulated."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)
    monkeypatch.setattr(network, "build_parts", boom)


def _lif(**changes):
    current = np.zeros((1, 100))
    current[0, 20:80] = 1.0
    spikes = [np.array([3.0, 6.0]) * ms]
    args = dict(
        model=LIF, input_var="I", input=current * nA, output_var="spikes", output=spikes,
        dt=0.1 * ms, threshold="v > -50*mV", reset="v = -70*mV", refractory=1 * ms,
    )
    args.update(changes)
    return args


def _problem(**changes):
    return Problem.from_arguments(**_lif(**changes), namespace={})


def test_valid_lif_passes(no_simulation):
    problem = _problem()
    assert problem.threshold == "v > -50*mV"


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"threshold": "v > > -50*mV"}, r"threshold: Brian 2 refuses 'v > > -50\*mV': SyntaxError"),
        ({"threshold": "v > -50"}, r"threshold: .*DimensionMismatchError"),
        ({"threshold": "u > 3*mV"}, r"model: the names \['u'\] are neither defined"),
        ({"reset": "v = 3"}, r"reset: Brian 2 refuses 'v = 3': DimensionMismatchError"),
        ({"reset": "v = = 3*mV"}, r"reset: Brian 2 refuses"),
        ({"refractory": 3 * mV}, r"refractory: expected a finite time >= 0"),
        ({"refractory": "v >> 3"}, r"refractory: Brian 2 refuses"),
        ({"method": "no_such_method"}, r"method: Brian 2 refuses 'no_such_method'"),
        ({"threshold": 5}, r"threshold: expected a non-empty string or None, got 5"),
        ({"threshold": "  "}, r"threshold: expected a non-empty string"),
        ({"refractory": [1, 2]}, r"refractory: expected False, a time"),
    ],
)
def test_model_strings_checked_at_construction(no_simulation, changes, pattern):
    with pytest.raises(ProblemError, match=pattern):
        _problem(**changes)


def test_input_with_wrong_units_fails_at_construction(no_simulation):
    current = np.zeros((1, 100)) * mV
    with pytest.raises(ProblemError, match=r"model: Brian 2 refuses the equations with the "
                       r"inputs \('I' in volt\).*DimensionMismatchError.*units of the inputs"):
        _problem(input=current)


def test_model_with_inconsistent_units_fails_at_construction(no_simulation):
    model = LIF.replace("+ I)/C", "+ I)/C + 1*mV")
    with pytest.raises(ProblemError, match=r"model: Brian 2 refuses .*DimensionMismatchError"):
        _problem(model=model)


def test_inferencer_reports_threshold_error_before_anything(no_simulation):
    with pytest.raises(ProblemError, match=r"^threshold: "):
        Inferencer(**_lif(threshold="v > > 1*mV"), features=None)


def test_checking_leaves_brian_state_unchanged():
    from brian2 import get_device, prefs

    target, device = prefs.codegen.target, get_device()
    with pytest.raises(ProblemError):
        _problem(threshold="v >")
    _problem()
    assert prefs.codegen.target == target
    assert get_device() is device


@pytest.mark.parametrize(
    ("spikes", "pattern"),
    [
        ([np.array([-1.0, 3.0]) * ms], r"output\['spikes'\]\[0\]: spike times must lie within "
                                       r"the recording, 0 s to 0.01 s"),
        ([np.array([3.0, 12.0]) * ms], r"got times from 0.003 s to 0.012 s"),
        ([np.array([3.0, np.nan]) * ms], r"spike times contain NaN or infinite values"),
        ([np.array([3.0, np.inf]) * ms], r"spike times contain NaN or infinite values"),
        ([np.array([[3.0], [4.0]]) * ms], r"expected a 1-D array of spike times"),
        ([np.array([3.0]) * mV], r"spike times must be in seconds"),
        ([["a", "b"]], r"output\['spikes'\]\[0\]: expected a number or array"),
    ],
)
def test_bad_spike_times(no_simulation, spikes, pattern):
    with pytest.raises(ProblemError, match=pattern):
        _problem(output=spikes)


def test_spike_times_at_the_recording_ends_are_accepted(no_simulation):
    problem = _problem(output=[np.array([0.0, 10.0]) * ms])
    assert problem.outputs["spikes"][0][-1] == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_infinite_or_nan_bound_fails_before_simulation(passive, no_simulation, bad):
    inf = Inferencer(**fitter_args(passive), features=[np.mean, np.std])
    with pytest.raises(ProblemError, match=r"bounds\['C'\]: expected finite values"):
        inf.infer(20, C=[50 * pF, bad * pF], gL=[1 * nS, 30 * nS])


@pytest.mark.parametrize("bound", [["1", "2"], [None, 3 * pF], [[1, 2] * pF, 3 * pF]])
def test_non_number_bounds(passive, no_simulation, bound):
    inf = Inferencer(**fitter_args(passive), features=[np.mean, np.std])
    with pytest.raises(ProblemError, match=r"bounds\['C'\]: expected"):
        inf.infer(20, C=bound, gL=[1 * nS, 30 * nS])


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"dt": np.nan * ms}, r"dt: must be > 0 and finite"),
        ({"dt": np.inf * ms}, r"dt: must be > 0 and finite"),
        ({"input": "abc"}, r"input\['I'\]: expected a 2-D array"),
        ({"input": [[1.0, "a"]]}, r"input\[.I.\]\[0\]: expected a number or array"),
        ({"input_var": 3}, r"input_var: expected a variable name"),
        ({"input_var": None, "input": {1: np.zeros((1, 100)) * nA}}, r"input: the keys"),
        ({"input_var": None, "input": {}}, r"input: got an empty dict"),
        ({"param_init": [1, 2]}, r"param_init: expected a dict"),
        ({"param_init": {"v": np.nan * mV}}, r"param_init\['v'\]: expected one finite value"),
        ({"param_init": {"v": [1, 2] * mV}}, r"param_init\['v'\]: expected one finite value"),
    ],
)
def test_malformed_arguments(no_simulation, changes, pattern):
    with pytest.raises(ProblemError, match=pattern):
        _problem(**changes)


def test_problem_error_is_the_package_error():
    assert issubclass(ProblemError, Brian2SbiError)
    assert issubclass(ProblemError, ValueError)


def test_check_init_expression():
    eqs = Equations(LIF)
    ns = {"EL": -70 * mV}
    assert check_init_expression("v", "EL + 5*mV", eqs, {"I": nA}, ns) == {"EL"}
    with pytest.raises(ProblemError, match=r"param_init\['v'\]: cannot evaluate 'EL \+ 5'"):
        check_init_expression("v", "EL + 5", eqs, {"I": nA}, ns)
    with pytest.raises(ProblemError, match=r"param_init\['v'\]: cannot evaluate 'EL \+'"):
        check_init_expression("v", "EL +", eqs, {"I": nA}, ns)


def test_volt_and_second_units_unaffected():
    # plain named units keep their names in the generated code
    from brian2modelfitting_sbi.modelcheck import unit_code

    assert unit_code(volt) == "volt"
    assert unit_code(second) == "second"
    assert unit_code(np.float64(1.0)) == "1"
