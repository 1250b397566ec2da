"""Posterior predictive traces and spikes, in the fitters' format, for every output."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA, nS, pF, second, volt
from brian2.units.fundamentalunits import get_dimensions
from workflow_support import trained_snpe

from brian2modelfitting_sbi import Inferencer, ProblemError

LIF = """
dv/dt = (gL*(EL - v) + I)/C : volt (unless refractory)
gL : siemens (constant)
C : farad (constant)
"""
EL = -70 * mV
LIF_TRUTH = {"C": 200 * pF, "gL": 10 * nS}
LIF_BOUNDS = {"C": [100 * pF, 300 * pF], "gL": [5 * nS, 20 * nS]}


def lif_inputs():
    current = np.zeros((2, 300))
    current[0, 50:250] = 0.6
    current[1, 50:250] = 1.2
    return current * nA


def spike_count(times):
    return float(len(times))


def lif_inferencer(output) -> Inferencer:
    return Inferencer(
        LIF,
        input_var="I",
        input=lif_inputs(),
        output=output,
        dt=0.1 * ms,
        threshold="v > -50*mV",
        reset="v = -70*mV",
        refractory=2 * ms,
        param_init={"v": EL},
        namespace={"EL": EL},
        features={"v": [np.mean, np.std], "spikes": [spike_count]},
    )


@pytest.fixture(scope="module")
def lif():
    """An LIF problem whose observed v and spikes are simulated at the truth."""
    placeholder = {"v": np.full((2, 300), -70.0) * mV, "spikes": [[] * ms, [] * ms]}
    maker = lif_inferencer(placeholder)
    maker.set_bounds(**LIF_BOUNDS)
    observed = maker.generate_traces(params=LIF_TRUTH)
    inf = lif_inferencer({"v": observed["v"][0], "spikes": observed["spikes"][0]})
    inf.set_bounds(**LIF_BOUNDS)
    return inf, observed


def test_traces_and_spikes_in_the_fitters_format(lif):
    inf, observed = lif
    assert set(observed) == {"v", "spikes"}
    assert observed["v"].shape == (1, 2, 300)
    assert get_dimensions(observed["v"]) == volt.dim
    spikes = observed["spikes"]
    assert len(spikes) == 1 and len(spikes[0]) == 2
    assert get_dimensions(spikes[0][0]) == second.dim
    assert 0 < len(spikes[0][0]) < len(spikes[0][1])  # the stronger current spikes more

    params = {"C": [150, 200, 250] * pF, "gL": [10, 10, 10] * nS}
    out, used = inf.generate_traces(params=params, return_params=True)
    assert out["v"].shape == (3, 2, 300)
    assert len(out["spikes"]) == 3 and all(len(s) == 2 for s in out["spikes"])
    # the truth (row 1) reproduces the observation: the model is deterministic
    np.testing.assert_allclose(out["v"][1] / mV, observed["v"][0] / mV)
    for k in range(2):
        np.testing.assert_allclose(out["spikes"][1][k] / ms, observed["spikes"][0][k] / ms)
    # a smaller capacitance charges faster: more spikes
    assert len(out["spikes"][0][1]) > len(out["spikes"][2][1])
    np.testing.assert_array_equal(np.asarray(used["C"]), np.asarray(params["C"]))


def test_choose_variables(lif):
    inf, _ = lif
    only_spikes = inf.generate_traces(params=LIF_TRUTH, variables=["spikes"])
    assert set(only_spikes) == {"spikes"}
    with pytest.raises(ProblemError, match="not a variable"):
        inf.generate_traces(params=LIF_TRUTH, variables=["w"])


def test_predictive_plot_overlays_every_output(lif):
    inf, _ = lif
    params = {"C": np.linspace(180, 220, 5) * pF, "gL": np.full(5, 10) * nS}
    fig = inf.plot_predictive(inf.generate_traces(params=params))
    axes = fig.axes
    assert len(axes) == 4  # (v, spikes) x 2 traces
    assert axes[0].get_ylabel() == "v [mV]" and axes[2].get_ylabel() == "spikes"
    assert axes[2].get_xlabel() == "t [ms]"
    labels = [line.get_label() for line in axes[0].lines]
    assert "observed" in labels and "predictive median" in labels


def test_posterior_draws_for_every_input():
    inf = trained_snpe()
    out, params = inf.generate_traces(n_samples=4, seed=2, return_params=True)
    assert set(out) == {"v"} and out["v"].shape == (4, 2, 300)
    again = inf.generate_traces(n_samples=4, seed=2)
    np.testing.assert_array_equal(np.asarray(again["v"]), np.asarray(out["v"]))
    theta = inf.space.to_array(params)
    assert np.all((theta >= inf.space.lower) & (theta <= inf.space.upper))
    # posterior predictive traces stay close to the recording (< 3 mV on average)
    error = np.abs(np.asarray(out["v"]) - inf.problem.outputs["v"][None]).mean()
    assert error < 3e-3


def test_spikes_need_a_threshold():
    inf = trained_snpe()
    with pytest.raises(ProblemError, match="threshold"):
        inf.generate_traces(params={"C": 200 * pF, "gL": 10 * nS}, variables=["v", "spikes"])
