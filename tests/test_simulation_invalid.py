"""Simulations with NaN/inf features: counted, reported, dropped by default, kept or filled."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.problem import ProblemError
from brian2modelfitting_sbi.simulation import apply_invalid, check_invalid, describe_invalid

NAMES = ["a", "b"]
TRAINING = FAST_TRAINING | {"max_num_epochs": 5}


def rest(v):
    return v[:50].mean()


def plateau_or_nan(v):
    """Undefined (NaN) when the plateau stays low, i.e. for leaky membranes."""
    value = v[200:250].mean()
    return np.nan if value < -0.06 else value


def test_invalid_rows_counted_reported_and_excluded(passive):
    inf = Inferencer(**fitter_args(passive), features=[rest, plateau_or_nan])
    with pytest.warns(RuntimeWarning, match=r"of 40 simulations gave NaN/inf") as record:
        theta, x = inf.simulate(40, seed=2, progress=False, **passive["bounds"])
    bad = ~np.all(np.isfinite(x), axis=1)
    assert 0 < bad.sum() < 40
    assert inf.rounds[0].n_invalid == bad.sum()
    messages = [str(w.message) for w in record if w.category is RuntimeWarning]
    assert any("plateau_or_nan[0]" in m for m in messages)  # which features, not just how many
    low, high = inf.rounds[0].invalid_ranges["gL"]
    assert float(low) == pytest.approx(theta[bad, 1].min())
    assert float(high) == pytest.approx(theta[bad, 1].max())

    options = dict(training=TRAINING, estimator_options=FAST_ESTIMATOR, seed=0)
    backend = inf.train("snpe", **options)
    assert backend.num_simulations == 40 - bad.sum()  # dropped by default

    filled = Inferencer(**fitter_args(passive), features=[rest, plateau_or_nan])
    with pytest.warns(RuntimeWarning):
        filled.simulate(40, seed=2, progress=False, **passive["bounds"])
    backend = filled.train("snpe", invalid="fill", fill_value="min", **options)
    assert backend.num_simulations == 40
    _, appended, _ = backend.trainer.get_simulations()
    appended = appended.numpy()
    assert np.all(np.isfinite(appended))


def test_apply_invalid_policies():
    theta = np.arange(6.0).reshape(3, 2)
    x = np.array([[1.0, 2.0], [np.nan, 4.0], [5.0, np.inf]])
    t, xd = apply_invalid(theta, x, "drop")
    np.testing.assert_array_equal(t, theta[:1])
    np.testing.assert_array_equal(xd, x[:1])
    t, xk = apply_invalid(theta, x, "keep")
    assert t is theta and xk is x
    _, xf = apply_invalid(theta, x, "fill", -1.0, NAMES)
    np.testing.assert_array_equal(xf, [[1, 2], [-1, 4], [5, -1]])
    _, xf = apply_invalid(theta, x, "fill", [-1.0, -2.0], NAMES)
    np.testing.assert_array_equal(xf, [[1, 2], [-1, 4], [5, -2]])
    _, xf = apply_invalid(theta, x, "fill", {"a": 9.0, "b": 8.0}, NAMES)
    np.testing.assert_array_equal(xf, [[1, 2], [9, 4], [5, 8]])
    _, xf = apply_invalid(theta, x, "fill", "median", NAMES)
    np.testing.assert_array_equal(xf, [[1, 2], [3, 4], [5, 3]])
    assert describe_invalid(x, NAMES) == "a (1), b (1)"
    with pytest.raises(RuntimeError, match="no finite value"):
        apply_invalid(theta, np.full((3, 2), np.nan), "fill", "mean", NAMES)


@pytest.mark.parametrize(
    ("invalid", "fill_value", "match"),
    [
        ("ignore", None, "invalid: expected one of"),
        ("fill", None, "fill_value: required"),
        ("drop", 0.0, "only used with invalid='fill'"),
        ("fill", "average", "fill_value: expected"),
        ("fill", [1.0, 2.0, 3.0], "2 values"),
        ("fill", {"a": 1.0}, "missing"),
        ("fill", np.nan, "finite"),
    ],
)
def test_invalid_arguments_rejected(invalid, fill_value, match):
    with pytest.raises(ProblemError, match=match):
        check_invalid(invalid, fill_value, NAMES)


def test_infer_checks_invalid_before_simulating(passive):
    inf = Inferencer(**fitter_args(passive), features=[rest])
    with pytest.raises(ProblemError, match="fill_value"):
        inf.infer(10, invalid="fill", progress=False, **passive["bounds"])
    assert inf.rounds == []
