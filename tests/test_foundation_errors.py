"""Every user mistake is reported before anything is simulated, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA, nS, pF
from conftest import fitter_args

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.backends import UnknownBackendError
from brian2modelfitting_sbi.simulation import runner


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail loudly if any simulation starts."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)


@pytest.fixture
def inferencer(passive):
    return Inferencer(**fitter_args(passive), features=[np.mean, np.std])


def _args(passive, **changes):
    args = fitter_args(passive)
    args.update(changes)
    return args


def test_missing_bound(inferencer, no_simulation):
    with pytest.raises(ProblemError, match=r"bounds: no range given .*\['gL'\]"):
        inferencer.infer(10, C=[50 * pF, 400 * pF])


def test_bound_for_unknown_parameter(inferencer, no_simulation):
    with pytest.raises(ProblemError, match=r"bounds: \['gNa'\] are not parameters"):
        inferencer.infer(10, C=[50 * pF, 400 * pF], gL=[1 * nS, 3 * nS], gNa=[1 * nS, 2 * nS])


def test_bound_with_wrong_units(inferencer, no_simulation):
    with pytest.raises(ProblemError, match=r"bounds\['gL'\]: expected values in units of"):
        inferencer.infer(10, C=[50 * pF, 400 * pF], gL=[1 * mV, 30 * mV])


def test_bound_lower_not_below_upper(inferencer, no_simulation):
    with pytest.raises(ProblemError, match=r"bounds\['C'\]: lower must be < upper"):
        inferencer.infer(10, C=[400 * pF, 400 * pF], gL=[1 * nS, 30 * nS])


def test_bound_not_a_pair(inferencer, no_simulation):
    with pytest.raises(ProblemError, match=r"bounds\['C'\]: expected \[lower, upper\]"):
        inferencer.infer(10, C=[400 * pF], gL=[1 * nS, 30 * nS])


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "10"])
def test_n_samples_invalid(inferencer, no_simulation, passive, n):
    with pytest.raises(ProblemError, match="n_samples: expected an integer >= 1"):
        inferencer.infer(n, **passive["bounds"])


def test_n_rounds_invalid(inferencer, no_simulation, passive):
    with pytest.raises(ProblemError, match="n_rounds: expected an integer >= 1"):
        inferencer.infer(10, n_rounds=0, **passive["bounds"])


def test_unknown_backend_lists_installed(inferencer, no_simulation, passive):
    with pytest.raises(UnknownBackendError, match=r"'abc'.*installed backends: .*snle, snpe, snre"):
        inferencer.infer(10, backend="abc", **passive["bounds"])


def test_input_var_not_in_model(passive):
    with pytest.raises(ProblemError, match=r"input_var: 'I_ext' is not used in the model"):
        Inferencer(**_args(passive, input_var="I_ext"), features=[np.mean])


def test_input_var_defined_by_model(passive):
    with pytest.raises(ProblemError, match=r"input_var: 'v' is defined by the model"):
        Inferencer(**_args(passive, input_var="v"), features=[np.mean])


def test_output_var_not_a_model_variable(passive):
    with pytest.raises(ProblemError, match=r"output_var: 'u' is not a variable of the model"):
        Inferencer(**_args(passive, output_var="u"), features=[np.mean])


def test_output_shape_mismatch(passive):
    out = passive["output"][:, :200]
    with pytest.raises(ProblemError, match=r"output\['v'\]: expected shape \(2, 300\).*\(2, 200\)"):
        Inferencer(**_args(passive, output=out), features=[np.mean])


def test_output_trace_count_mismatch(passive):
    out = passive["output"][:1]
    with pytest.raises(ProblemError, match=r"output\['v'\]: expected shape \(2, 300\)"):
        Inferencer(**_args(passive, output=out), features=[np.mean])


def test_output_wrong_units(passive):
    out = np.asarray(passive["output"]) * nA
    with pytest.raises(ProblemError, match=r"output\['v'\]: expected units of volt"):
        Inferencer(**_args(passive, output=out), features=[np.mean])


def test_inputs_of_different_shapes(passive):
    with pytest.raises(ProblemError, match="input: all input variables must have the same shape"):
        Inferencer(
            **_args(passive, input_var=None,
                    model=passive["model"].replace("+ I)", "+ I + I2)"),
                    input={"I": passive["input"], "I2": passive["input"][:, :10]}),
            features=[np.mean],
        )


@pytest.mark.parametrize("dt", [0 * ms, -0.1 * ms])
def test_dt_not_positive(passive, dt):
    with pytest.raises(ProblemError, match="dt: must be > 0"):
        Inferencer(**_args(passive, dt=dt), features=[np.mean])


def test_dt_without_units(passive):
    with pytest.raises(ProblemError, match="dt: expected a time in seconds"):
        Inferencer(**_args(passive, dt=0.1), features=[np.mean])


def test_dt_missing(passive):
    with pytest.raises(ProblemError, match="dt: required"):
        Inferencer(**_args(passive, dt=None), features=[np.mean])


def test_undefined_constant(passive):
    with pytest.raises(ProblemError, match=r"\['EL'\] are neither defined"):
        Inferencer(**_args(passive, namespace={"sigma": passive["namespace"]["sigma"]}),
                   features=[np.mean])


def test_constant_captured_from_caller(passive):
    EL = -65 * mV  # noqa: N806 - the model's name
    sigma = passive["namespace"]["sigma"]
    args = _args(passive)
    del args["namespace"]
    inf = Inferencer(**args, features=[np.mean])
    assert inf.problem.namespace["EL"] == EL and inf.problem.namespace["sigma"] == sigma


def test_param_init_unknown_variable(passive):
    with pytest.raises(ProblemError, match=r"param_init: 'w' is not a variable"):
        Inferencer(**_args(passive, param_init={"w": 0 * mV}), features=[np.mean])


def test_param_init_wrong_units(passive):
    with pytest.raises(ProblemError, match=r"param_init\['v'\]: expected units of"):
        Inferencer(**_args(passive, param_init={"v": 1 * nA}), features=[np.mean])


def test_spikes_without_threshold(passive):
    spikes = [np.array([10.0]) * ms, np.array([12.0]) * ms]
    with pytest.raises(ProblemError, match="threshold: required when spikes are observed"):
        Inferencer(**_args(passive, output_var="spikes", output=spikes), features=[len])


def test_features_for_unobserved_variable(passive):
    with pytest.raises(ProblemError, match=r"features: 'spikes' is not an observed output"):
        Inferencer(**fitter_args(passive), features={"spikes": [len]})


def test_features_not_callable(passive):
    with pytest.raises(ProblemError, match=r"features\[1\]: expected a callable"):
        Inferencer(**fitter_args(passive), features=[np.mean, 3])


def test_input_dict_and_output_dict_accepted(passive):
    args = _args(passive, input_var=None, output_var=None,
                 input={"I": passive["input"]}, output={"v": passive["output"]})
    inf = Inferencer(**args, features=[np.mean])
    assert inf.problem.n_traces == 2 and inf.problem.trace_outputs == ["v"]
    assert inf.x_o.shape == (1, 2)


def test_output_var_mismatching_dict(passive):
    with pytest.raises(ProblemError, match="output_var: 'u' does not match the keys"):
        Inferencer(**_args(passive, output_var="u", output={"v": passive["output"]}),
                   features=[np.mean])
