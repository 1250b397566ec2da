"""Inferencer.from_fitter (TraceFitter, SpikeFitter) and the ArviZ export."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA

# the [fitters] extra; absent (not installable) on numpy >= 1.24, see docs/install.rst
pytest.importorskip("brian2modelfitting", reason="needs the optional [fitters] extra")

from brian2modelfitting import (  # noqa: E402
    MSEMetric,
    NevergradOptimizer,
    SpikeFitter,
    TraceFitter,
)
from conftest import fitter_args, window_features  # noqa: E402
from workflow_support import bounds, passive_args, trained_snpe  # noqa: E402

from brian2modelfitting_sbi import Inferencer, ProblemError  # noqa: E402


def trace_fitter(p: dict) -> TraceFitter:
    return TraceFitter(
        model=p["model"],
        input_var="I",
        input=p["input"],
        output_var="v",
        output=p["output"],
        dt=p["dt"],
        param_init=p["param_init"],
        method="euler",
        n_samples=4,
    )


def test_from_a_fitted_trace_fitter():
    p = passive_args()
    EL, sigma = p["namespace"]["EL"], p["namespace"]["sigma"]  # noqa: N806 - model names
    fitter = trace_fitter(p)
    fitter.fit(
        optimizer=NevergradOptimizer(), metric=MSEMetric(), n_rounds=1, callback=None, **bounds()
    )
    inf = Inferencer.from_fitter(fitter, features=window_features())  # namespace from here
    direct = Inferencer(**{**fitter_args(p), "method": "euler"}, features=window_features())
    assert inf.problem.fingerprint() == direct.problem.fingerprint()
    assert inf.problem.namespace["EL"] == EL and inf.problem.namespace["sigma"] == sigma
    assert inf.problem.parameter_names == ["C", "gL"]
    assert "input_var" not in inf.problem.model and "v_target" not in inf.problem.model
    np.testing.assert_array_equal(inf.x_o, direct.x_o)
    # the fitter's bounds become the prior box
    assert inf.space == direct.set_bounds(**bounds())
    inf.simulate(8, seed=0, progress=False)
    assert inf.x.shape == (8, len(inf.feature_names)) and np.isfinite(inf.x).all()


def test_from_an_unfitted_trace_fitter_with_explicit_namespace():
    p = passive_args()
    inf = Inferencer.from_fitter(trace_fitter(p), window_features(), namespace=p["namespace"])
    assert inf.space is None
    assert inf.problem.outputs.keys() == {"v"}


def spike_count(times):
    return float(len(times))


def test_from_a_spike_fitter():
    current = np.zeros((2, 300))
    current[0, 50:250] = 0.6
    current[1, 50:250] = 1.2
    spikes = [np.array([12.0, 21.0]) * ms, np.array([8.0, 13.0, 18.0, 23.0]) * ms]
    model = "dv/dt = (gL*(EL - v) + I)/C : volt\ngL : siemens (constant)\nC : farad (constant)"
    fitter = SpikeFitter(
        model=model,
        input=current * nA,
        output=spikes,
        dt=0.1 * ms,
        threshold="v > -50*mV",
        reset="v = -70*mV",
        refractory=2 * ms,
        param_init={"v": -70 * mV},
        n_samples=4,
    )
    inf = Inferencer.from_fitter(fitter, {"spikes": [spike_count]}, namespace={"EL": -70 * mV})
    assert inf.problem.has_spikes and inf.problem.threshold == "v > -50*mV"
    assert inf.problem.refractory == 2 * ms
    np.testing.assert_array_equal(inf.x_o, [[2.0, 4.0]])


def test_from_fitter_refuses_other_objects():
    with pytest.raises(ProblemError, match="TraceFitter or SpikeFitter"):
        Inferencer.from_fitter(object())


def test_to_arviz_with_units():
    inf = trained_snpe()
    idata = inf.to_arviz(n_samples=300, seed=1)
    post = idata.posterior
    assert set(post.data_vars) == {"C", "gL"}
    assert post["C"].shape == (1, 300)
    assert post["C"].attrs["units"] == "pF" and post["gL"].attrs["units"] == "nS"
    samples = inf.sample_array(300, seed=1)
    np.testing.assert_allclose(post["C"].values[0] * post["C"].attrs["si_scale"], samples[:, 0])
    assert abs(float(post["C"].mean()) - 200) < 30  # display units: pF
    assert list(idata.observed_data["feature"].values) == inf.feature_names
    assert idata.posterior.attrs["backend"] == "SNPEBackend"
