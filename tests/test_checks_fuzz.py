"""Property-based: malformed arguments either work or raise the package's own error, first.

Hypothesis draws one or two arguments of the constructor or of ``infer`` from pools of
malformed values (wrong types, units, shapes, NaN/inf, empty, negative), keeps the others
valid, and checks that the call either succeeds or raises a
:class:`~brian2modelfitting_sbi.errors.Brian2SbiError` before any simulation starts: the
runner's chunk entry is replaced by one that raises :class:`Reached`, which counts as "the
arguments were accepted", while any other exception fails the test.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from brian2 import Equations, ms, mV, nA, nS, pF, second
from conftest import fitter_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brian2modelfitting_sbi import Brian2SbiError, Inferencer
from brian2modelfitting_sbi.simulation import runner

#: ``SBI_FUZZ_EXAMPLES=2000`` searches harder (with fresh random examples) than the default run.
_EXAMPLES = int(os.environ.get("SBI_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    derandomize=_EXAMPLES <= 60,  # the default examples are the same on every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Reached(Exception):  # noqa: N818 - a signal, not an error
    """The arguments passed every check and a simulation was about to start."""


@pytest.fixture
def no_simulation(monkeypatch):
    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(runner, "run_chunk", reached)


#: Values that are wrong for most arguments.
GENERIC = [
    None, "", "abc", 0, -1, 2.5, np.nan, np.inf, True, [], {}, (), [[]], object(),
    np.array([]), np.zeros((2, 0)), -0.1 * ms, np.nan * ms, 3 * mV, [1, 2, 3],
    {"x": 1}, b"bytes", 1 + 2j,
]
_CURRENT = np.zeros((2, 300))
#: Values that are wrong for a particular argument.
SPECIFIC = {
    "model": ["dv/dt = : volt", "dv/dt = -v/tau", "v : volt", Equations("w : 1"), 42],
    "input_var": ["v", "I_ext", ["I", "I"], [1], ("I",)],
    "input": [
        _CURRENT * mV, _CURRENT, np.full((2, 300), np.nan) * nA, np.zeros((2, 300, 1)) * nA,
        np.zeros((3, 300)) * nA, np.zeros((2, 1)) * nA, [np.zeros(300) * nA, np.zeros(299) * nA],
        [np.zeros(300) * nA, np.zeros(300) * mV], {"I": _CURRENT * nA, "J": _CURRENT * nA},
        np.full((2, 300), np.inf) * nA, ["a", "b"],
    ],
    "output_var": ["I", "u", ["v", "v"], "spikes", 3],
    "output": [
        _CURRENT * nA, np.zeros((2, 200)) * mV, np.full((2, 300), np.nan) * mV,
        [np.zeros(300) * mV], {"u": _CURRENT * mV}, [[1.0, "a"]],
    ],
    "dt": [0 * ms, -1 * ms, np.inf * ms, 1 * mV, [0.1, 0.2] * ms, "0.1*ms", 0.1],
    "method": ["nonsense", 3, "exact", "euler", ""],
    "threshold": ["v >", "v > 3", "v > -50*mV", 5, "u > 1"],
    "reset": ["v =", "v = 3", "v = -70*mV", 2],
    "refractory": [-1 * ms, 2 * mV, "v >>", [1, 2], np.nan * ms, 2 * ms],
    "param_init": [{"v": 3 * nA}, {"u": 1 * mV}, {"v": np.nan * mV}, {"v": [1, 2] * mV},
                   [("v", 1)], {"v": "abc"}],
    "namespace": [{}, {"EL": 3 * nA}, {"EL": "x"}, [1, 2], {"EL": np.nan * mV}],
    "features": [[], [3], "mean", [lambda v: "x"], [lambda v: v], {"u": [np.mean]},
                 {"v": []}, [lambda v: 1 / 0], [np.mean, None]],
}
CONSTRUCTOR = [(key, value) for key in SPECIFIC for value in GENERIC + SPECIFIC[key]]

BOUND_VALUES = [
    [1 * nS], [1 * nS, 2 * nS, 3 * nS], [2 * nS, 1 * nS], [1 * nS, np.inf * nS],
    [np.nan * nS, 1 * nS], [1 * mV, 2 * mV], ["1", "2"], [None, 1 * nS], 5 * nS,
    [[1, 2] * nS, 3 * nS], [1, 2], "ab", {"lo": 1}, [-np.inf * nS, 0 * nS],
]
INFER = {
    "n_samples": [0, -3, 2.5, "10", True, None, np.nan, [10]],
    "backend": ["abc", 3, None, object, "", "SNPE "],
    "n_rounds": [0, -1, 1.5, "2", None],
    "seed": [-1, 2.5, "x", [1, 2], 2**80, np.nan, True],
    "chunk_size": [0, -2, 1.5, "4", True],
    "n_jobs": [0, -1, 2.5, "2"],
    "standalone": ["yes", 1, 0.5],
    "invalid": ["nope", 3, None, "fill"],
    "fill_value": ["nope", [1, 2, 3], {"zz": 1}, np.nan, "mean"],
    "threads": [0, -1, "x", 1.5],
    "estimator": [3, "no_such_net"],
    "estimator_options": ["x", 3, [1]],
    "training": ["x", 3, [1]],
    "sampling": ["x", 3, [1]],
    "store": [3, "", b"x"],
    "progress": ["yes"],
}
INFER_PAIRS = [(key, value) for key, values in INFER.items() for value in values]
INFER_PAIRS += [(f"bound:{name}", value) for name in ("gL", "C") for value in BOUND_VALUES]
INFER_PAIRS += [("bound:zz", [1 * nS, 2 * nS])]


def _call_constructor(passive, changes):
    args = fitter_args(passive)
    args["features"] = [np.mean, np.std]
    args.update(changes)
    return Inferencer(**args)


def _assert_own_error_or_accepted(call):
    try:
        call()
    except Reached:
        pass  # every argument accepted; the simulation would have started now
    except Brian2SbiError as exc:
        assert str(exc), "a package error without a message"
    # anything else propagates and fails the test, with hypothesis's minimal example


@SETTINGS
@given(changes=st.lists(st.sampled_from(CONSTRUCTOR), min_size=1, max_size=2).map(dict))
def test_constructor_with_malformed_arguments(passive, no_simulation, changes):
    _assert_own_error_or_accepted(lambda: _call_constructor(passive, changes))


@pytest.fixture(scope="module")
def valid_inferencer(passive):
    return Inferencer(**fitter_args(passive), features=[np.mean, np.std])


@SETTINGS
@given(changes=st.lists(st.sampled_from(INFER_PAIRS), min_size=1, max_size=2).map(dict))
def test_infer_with_malformed_arguments(passive, valid_inferencer, no_simulation, changes):
    bounds = dict(passive["bounds"])
    kwargs = {}
    for key, value in changes.items():
        if key.startswith("bound:"):
            bounds[key.split(":", 1)[1]] = value
        else:
            kwargs[key] = value
    kwargs.setdefault("n_samples", 4)
    kwargs.setdefault("progress", False)
    kwargs["seed"] = kwargs.get("seed", 0)
    _assert_own_error_or_accepted(lambda: valid_inferencer.infer(**kwargs, **bounds))


def test_the_fuzzer_sees_accepted_and_refused_calls(passive, valid_inferencer, no_simulation):
    """Control: the harness tells "accepted" (Reached) from a refusal."""
    with pytest.raises(Reached):
        valid_inferencer.infer(4, seed=0, progress=False, **passive["bounds"])
    with pytest.raises(Brian2SbiError):
        valid_inferencer.infer(4, seed=0, progress=False, gL=[1 * nS], C=[50 * pF, 400 * pF])
    assert second.dim == (1 * second).dim
