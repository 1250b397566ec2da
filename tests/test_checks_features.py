"""User feature callables and metrics: failures name the callable and the trace."""

from __future__ import annotations

import numpy as np
import pytest
from brian2modelfitting.metric import TraceMetric
from conftest import BOUNDS, fitter_args

from brian2modelfitting_sbi import FeatureProvider, Inferencer, vectorized
from brian2modelfitting_sbi.errors import Brian2SbiError, ProblemError, UserCallableError
from brian2modelfitting_sbi.simulation import Recording, runner


@pytest.fixture
def no_simulation(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)


def _inferencer(passive, features):
    return Inferencer(**fitter_args(passive), features=features)


def test_feature_that_raises_on_the_observed_data(passive, no_simulation):
    def spiky(v):
        raise KeyError("no spikes here")

    with pytest.raises(
        UserCallableError,
        match=r"on the observed data: feature 'spiky' \(features\[1\]\) failed on output 'v', "
        r"trace 0 of sample 0: KeyError: 'no spikes here'",
    ):
        _inferencer(passive, [np.mean, spiky])


@pytest.mark.parametrize(
    ("func", "pattern"),
    [
        (lambda v: v[:3], r"feature 'f0' \(features\[0\]\) returned a ndarray of shape \(3,\)"),
        (lambda v: "high", r"returned 'high'"),
        (lambda v: None, r"returned None"),
        (lambda v: [1.0, 2.0], r"returned a list of shape \(2,\)"),
        (lambda v: 1 + 2j, r"returned complex"),
    ],
)
def test_feature_with_a_wrong_return_is_refused_on_the_observed_data(
    passive, no_simulation, func, pattern
):
    with pytest.raises(UserCallableError, match=pattern):
        _inferencer(passive, [func])


def test_one_element_array_counts_as_a_number(passive, no_simulation):
    inf = _inferencer(passive, [lambda v: np.array([v.mean()])])
    assert inf.x_o.shape == (1, 2)


def test_vectorized_feature_failures(passive, no_simulation):
    with pytest.raises(UserCallableError, match=r"vectorized feature 'f0' .*failed on output 'v' "
                       r"\(all 2 traces\): ZeroDivisionError"):
        _inferencer(passive, [vectorized(lambda rows: 1 / 0)])
    with pytest.raises(UserCallableError, match=r"returned 'x'.*expected numbers of shape \(2,\)"):
        _inferencer(passive, [vectorized(lambda rows: "x")])


def test_feature_failing_during_simulation_names_feature_and_trace(passive):
    calls = {"n": 0}

    def fragile(v):
        calls["n"] += 1
        if calls["n"] > 2 + 3:  # the 2 observed traces, then 3 simulated traces go well
            raise ValueError("cannot fit this trace")
        return float(v.mean())

    inf = _inferencer(passive, [fragile])
    with pytest.raises(
        UserCallableError,
        match=r"feature 'fragile' \(features\[0\]\) failed on output 'v', trace 1 of sample 1: "
        r"ValueError: cannot fit this trace",
    ):
        inf.simulate(4, seed=0, chunk_size=4, progress=False, **BOUNDS)


class BrokenMetric(TraceMetric):
    def get_features(self, model_traces, data_traces, dt):
        raise IndexError("bad index")

    def get_errors(self, features):
        return features


class WrongShapeMetric(BrokenMetric):
    def get_features(self, model_traces, data_traces, dt):
        return np.zeros(3)


class TextMetric(BrokenMetric):
    def get_features(self, model_traces, data_traces, dt):
        return "oops"


@pytest.mark.parametrize(
    ("metric", "pattern"),
    [
        (BrokenMetric(), r"BrokenMetric.get_features failed: IndexError: bad index"),
        (WrongShapeMetric(), r"WrongShapeMetric.get_features returned shape \(3,\), expected "
                             r"numbers of shape \(1, 2\)"),
        (TextMetric(), r"TextMetric.get_features returned 'oops'"),
    ],
)
def test_metric_failures_name_the_metric(passive, no_simulation, metric, pattern):
    with pytest.raises(UserCallableError, match=pattern):
        _inferencer(passive, metric)


class WrongColumns(FeatureProvider):
    def recording(self):
        return Recording(("v",))

    def names(self, n_traces):
        return ["a", "b", "c"]

    def compute(self, result):
        return np.zeros((result.n_samples, 2))


class Crashes(WrongColumns):
    def compute(self, result):
        raise RuntimeError("provider bug")


def test_provider_with_wrong_columns(passive, no_simulation):
    with pytest.raises(UserCallableError, match=r"WrongColumns.compute returned shape \(1, 2\) "
                       r"on the observed data, expected \(1, 3\)"):
        _inferencer(passive, WrongColumns())


def test_provider_that_crashes(passive, no_simulation):
    with pytest.raises(UserCallableError, match=r"Crashes.compute failed on the observed data: "
                       r"RuntimeError: provider bug"):
        _inferencer(passive, Crashes())


def test_non_callable_in_the_features_dict(passive, no_simulation):
    with pytest.raises(ProblemError, match=r"features\[1\]: expected a callable, got 3"):
        _inferencer(passive, {"v": [np.mean, 3]})


def test_user_callable_error_is_a_package_error():
    assert issubclass(UserCallableError, Brian2SbiError)
