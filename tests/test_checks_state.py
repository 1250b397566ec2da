"""Calls made before the step they need: one error type, naming the call to make first."""

from __future__ import annotations

import pytest
from brian2 import nS, pF
from workflow_support import new_inferencer

import brian2modelfitting_sbi as pkg
from brian2modelfitting_sbi import Brian2SbiError, NotFittedError, ProblemError
from brian2modelfitting_sbi.backends import UnknownBackendError
from brian2modelfitting_sbi.errors import SavedFileError, UserCallableError
from brian2modelfitting_sbi.simulation import StoreMismatchError

GOOD = {"gL": 10 * nS, "C": 200 * pF}

CALLS = {
    "sample": (lambda inf: inf.sample(3), r"no posterior yet: call infer\(\) first"),
    "sample_array": (lambda inf: inf.sample_array(3), r"call infer\(\) first"),
    "map": (lambda inf: inf.map(), r"call infer\(\) first"),
    "best_params": (lambda inf: inf.best_params, r"call infer\(\) first"),
    "log_prob": (lambda inf: inf.log_prob(GOOD), r"call infer\(\) first"),
    "summary": (lambda inf: inf.summary(), r"call infer\(\) first"),
    "pairplot": (lambda inf: inf.pairplot(), r"call infer\(\) first"),
    "conditional_pairplot": (lambda inf: inf.conditional_pairplot(), r"call infer\(\) first"),
    "conditional_corrcoef": (lambda inf: inf.conditional_corrcoef(), r"call infer\(\) first"),
    "generate_traces": (
        lambda inf: inf.generate_traces(), r"no parameter space yet: call infer\(\) \(or set_bounds"
    ),
    "plot_predictive": (lambda inf: inf.plot_predictive(), r"call infer\(\)"),
    "calibrate": (lambda inf: inf.calibrate(), r"call infer\(\) first"),
    "check_observation": (lambda inf: inf.check_observation(), r"call simulate\(\)"),
    "condition": (lambda inf: inf.condition(inf.problem.outputs["v"]), r"call infer\(\) first"),
    "condition_many": (
        lambda inf: inf.condition_many([inf.problem.outputs["v"]]), r"call infer\(\) first"
    ),
    "save": (lambda inf: inf.save("never.zip"), r"call infer\(\)"),
    "to_arviz": (lambda inf: inf.to_arviz(), r"call infer\(\) first"),
    "train": (lambda inf: inf.train(), r"no simulations yet: call simulate\(\) \(or infer\(\)\)"),
    "build_posterior": (lambda inf: inf.build_posterior(), r"call train\(\) \(or infer\(\)\)"),
    "x_scale": (lambda inf: inf.x_scale, r"call simulate\(\) \(or infer\(\)\) first"),
}


@pytest.fixture(scope="module")
def fresh():
    return new_inferencer()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_state_errors_are_one_type_and_say_what_to_call(fresh, name):
    call, pattern = CALLS[name]
    with pytest.raises(NotFittedError, match=pattern) as info:
        call(fresh)
    assert isinstance(info.value, Brian2SbiError)
    assert isinstance(info.value, RuntimeError)  # what code written before expected


def test_every_package_error_shares_the_base_class():
    for cls in (
        ProblemError, NotFittedError, SavedFileError, UserCallableError, StoreMismatchError,
        UnknownBackendError, pkg.NotAmortizedError,
    ):
        assert issubclass(cls, Brian2SbiError), cls
    # ProblemError stays importable where it always was
    from brian2modelfitting_sbi.problem import ProblemError as Same

    assert Same is ProblemError
