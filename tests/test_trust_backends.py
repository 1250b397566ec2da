"""The trust report runs with every registered backend (the smallest settings each)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import FAST_ESTIMATOR
from test_backends_new import LIF_BOUNDS, lif_inferencer
from workflow_support import SMALL_MCMC, bounds, new_inferencer

from brian2modelfitting_sbi import list_backends

#: Ratio estimators take no ``num_transforms``; vector fields have layers, not transforms.
RATIO = ("snre", "nre_b", "nre_c", "bnre")
VECTOR_FIELD = ("fmpe", "npse")
#: Backends whose report is cheap enough for the default tier (about a second each).
FAST = ("fmpe",)
BACKENDS = ("snpe", "snle", "snre", "nre_b", "nre_c", "bnre", "fmpe", "npse", "mnle")
#: The smallest report: few predictive simulations, two or three calibration posteriors.
TINY = {"n_predictive": 10, "n_local": 3, "n_local_sampled": 2, "n_local_draws": 20,
        "n_draws": 20}
ESTIMATED = ("prior mass",)  # posterior estimators only
ALWAYS = ("observation", "valid simulations", "predictive", "local calibration",
          "estimator agreement", "training", "width")


def _options(name: str) -> dict:
    if name in RATIO:
        return {"estimator_options": {"hidden_features": 20}, "sampling": SMALL_MCMC}
    if name in VECTOR_FIELD:
        return {"estimator_options": {"hidden_features": 20, "num_layers": 2}}
    sampling = None if name == "snpe" else SMALL_MCMC
    return {"estimator_options": dict(FAST_ESTIMATOR), "sampling": sampling}


def _inferred(name: str):
    """100 simulations and 5 epochs: the passive membrane (LIF with spike counts: mnle)."""
    if name == "mnle":
        inf, box = lif_inferencer(), LIF_BOUNDS
    else:
        inf, box = new_inferencer(), bounds()
    inf.infer(100, backend=name, progress=False, training={"max_num_epochs": 5}, seed=3,
              **_options(name), **box)
    return inf


@pytest.mark.parametrize("name", [
    n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in BACKENDS
])
def test_the_trust_report_runs_with_every_backend(name):
    assert set(BACKENDS) <= set(list_backends()), "a registered backend is not tested here"
    inf = _inferred(name)
    n_before, theta_before = inf.n_simulations, inf.theta.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 epochs: training and width warnings are expected
        report = inf.trust_report(**TINY, verbose=False)
    backend = type(inf.backend)
    expected = [c for c in ("observation", *ESTIMATED, *ALWAYS[1:])
                if c not in ESTIMATED or name in ("snpe", *VECTOR_FIELD)]
    assert [c.check for c in report.checks] == expected, name
    assert all(c.verdict != "skipped" for c in report.checks), str(report)
    assert report["valid simulations"].value == 1.0
    tests = TINY["n_local"] if backend.amortized else TINY["n_local_sampled"]
    assert report["local calibration"].data["n"] == tests
    assert 0.0 <= report["estimator agreement"].value <= 1.0
    assert np.isfinite(report["width"].value)
    # the report simulates and trains apart: the inference is unchanged
    assert inf.n_simulations == n_before
    np.testing.assert_array_equal(inf.theta, theta_before)


def test_every_backend_is_in_the_trust_test():
    assert set(list_backends()) <= set(BACKENDS), set(list_backends()) - set(BACKENDS)
