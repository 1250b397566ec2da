"""Calibration (SBC, TARP) on fresh simulations; warning for an atypical observation."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from workflow_support import new_inferencer, run, trained_snpe

from brian2modelfitting_sbi import ProblemError
from brian2modelfitting_sbi.diagnostics import (
    CalibrationResult,
    check_observation,
    warn_if_outside,
)


@pytest.mark.filterwarnings("ignore:Number of .* samples:UserWarning")
def test_sbc_on_fresh_simulations():
    inf = trained_snpe()
    n_before = inf.n_simulations
    theta_before = inf.theta.copy()
    result = inf.calibrate(n_tests=30, method="sbc", n_posterior_samples=50, seed=0)
    assert isinstance(result, CalibrationResult) and result.n_tests == 30
    # the test pairs are not training data
    assert inf.n_simulations == n_before
    np.testing.assert_array_equal(inf.theta, theta_before)
    assert set(result.summary["ks_pvals"]) == {"C", "gL"}
    assert all(0 <= p <= 1 for p in result.summary["ks_pvals"].values())
    ranks = result.details["ranks"]
    assert ranks.shape == (30, 2) and ranks.min() >= 0 and ranks.max() <= 50
    assert isinstance(result.figure, Figure)
    assert [ax.get_xlabel() for ax in result.figure.axes] == ["rank of C [pF]", "rank of gL [nS]"]
    assert "SBC" in str(result) and "ks_pvals" in str(result)
    # fresh prior draws: not the training parameters
    assert not np.isin(result.details["theta"][:, 0], inf.theta[:, 0]).any()


@pytest.mark.filterwarnings("ignore:Number of .* samples:UserWarning")
def test_tarp_coverage():
    inf = trained_snpe()
    result = inf.calibrate(n_tests=30, method="tarp", n_posterior_samples=50, seed=1)
    assert set(result.summary) == {"atc", "ks_pval"}
    ecp, alpha = result.details["ecp"], result.details["alpha"]
    assert ecp.shape == alpha.shape and np.all(np.diff(ecp) >= 0)
    ax = result.figure.axes[0]
    assert ax.get_xlabel() == "credibility level" and ax.get_ylabel() == "expected coverage"


def test_calibrate_checks_its_arguments():
    inf = trained_snpe()
    with pytest.raises(ProblemError, match="method"):
        inf.calibrate(n_tests=10, method="coverage")
    with pytest.raises(ProblemError, match="n_tests"):
        inf.calibrate(n_tests=1)
    with pytest.raises(RuntimeError, match="no posterior"):
        new_inferencer().calibrate(n_tests=10)


def test_check_observation_names_the_odd_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    names = ["v.mean[0]", "v.std[0]", "spikes.count[0]"]
    assert check_observation(x, np.array([0.1, -0.5, 1.0]), names) == []
    found = check_observation(x, np.array([0.1, 9.0, -1.0]), names)
    assert [f.name for f in found] == ["v.std[0]"]
    assert found[0].z > 4 and "v.std[0]" in str(found[0])
    # a constant training feature with another observed value is flagged too
    x[:, 2] = 0.0
    assert [f.name for f in check_observation(x, np.array([0.1, 0.0, 1.0]), names)] == [
        "spikes.count[0]"
    ]


def test_build_posterior_warns_when_the_observation_is_atypical():
    inf = new_inferencer()
    inf.x_o = inf.x_o.copy()
    inf.x_o[0, 0] = inf.x_o[0, 0] - 0.05  # 50 mV below anything simulated
    name = re.escape(inf.feature_names[0])
    with pytest.warns(RuntimeWarning, match=rf"outside the training simulations .*{name}"):
        run(inf, "snpe", 60, seed=2)
    assert [f.name for f in inf.check_observation()] == [inf.feature_names[0]]


def test_no_warning_for_a_typical_observation():
    inf = trained_snpe()
    assert inf.check_observation() == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert warn_if_outside(inf.x, inf.x_o, inf.feature_names) == []
