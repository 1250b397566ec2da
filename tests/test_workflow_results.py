"""Results in the fitters' conventions: samples, best_params (MAP), log_prob, summary."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Quantity, farad, mV, nS, pF, siemens
from brian2.units.fundamentalunits import get_dimensions
from workflow_support import bounds, new_inferencer, trained_snpe, truth

from brian2modelfitting_sbi import ProblemError
from brian2modelfitting_sbi.results import PosteriorSummary, seeded


def test_sample_formats_and_seed():
    inf = trained_snpe()
    samples = inf.sample(50, seed=4)
    assert set(samples) == {"C", "gL"}
    assert get_dimensions(samples["C"]) == farad.dim and samples["C"].shape == (50,)
    array = inf.sample_array(50, seed=4)
    np.testing.assert_array_equal(array[:, 0], np.asarray(samples["C"]))
    np.testing.assert_array_equal(array[:, 1], np.asarray(samples["gL"]))
    assert np.all((array >= inf.space.lower) & (array <= inf.space.upper))
    assert not np.array_equal(array, inf.sample_array(50, seed=5))


def test_seeded_restores_global_random_state():
    # sbi's slice sampler draws from numpy's legacy global generator: seeded() must restore it
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    with seeded(3):
        np.random.random()  # noqa: NPY002
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_best_params_is_a_cached_dict_of_quantities_near_truth():
    inf = trained_snpe()
    best = inf.best_params
    assert set(best) == {"C", "gL"}
    assert isinstance(best["gL"], Quantity) and get_dimensions(best["gL"]) == siemens.dim
    assert abs(best["C"] - truth()["C"]) < 30 * pF
    assert abs(best["gL"] - truth()["gL"]) < 2 * nS
    cached = inf.result.map_array()
    assert inf.best_params["C"] == best["C"]
    assert inf.result.map_array() is cached  # no new search for the same posterior
    # the MAP is at least as probable as the posterior mean
    mean = {k: v.mean() for k, v in inf.sample(500, seed=0).items()}
    assert inf.log_prob(best) >= inf.log_prob(mean) - 0.5


def test_log_prob_takes_quantities():
    inf = trained_snpe()
    at_truth = inf.log_prob(truth())
    assert isinstance(at_truth, float) and np.isfinite(at_truth)
    values = inf.log_prob({"C": [200, 350] * pF, "gL": [10, 25] * nS})
    assert values.shape == (2,) and values[0] > values[1]
    # the same point in other units gives the same density (it is per SI unit)
    same = inf.log_prob({"C": 0.2 * 1e-9 * farad, "gL": 0.01 * 1e-6 * siemens})
    assert same == pytest.approx(at_truth, abs=1e-6)
    outside = inf.log_prob({"C": 500 * pF, "gL": 10 * nS})
    assert outside == -np.inf
    with pytest.raises(ProblemError, match=r"params\['gL'\].*units"):
        inf.log_prob({"C": 200 * pF, "gL": 10 * mV})
    with pytest.raises(ProblemError, match="missing"):
        inf.log_prob({"C": 200 * pF})


def test_summary_with_units():
    inf = trained_snpe()
    summary = inf.summary(n_samples=1000, level=0.9)
    assert isinstance(summary, PosteriorSummary)
    text = str(summary)
    assert "pF" in text and "nS" in text and "5%" in text and "95%" in text
    frame = summary.to_dataframe()
    assert list(frame.index) == ["C", "gL"]
    assert list(frame["unit"]) == ["pF", "nS"]
    assert frame.loc["C", "5%"] < frame.loc["C", "median"] < frame.loc["C", "95%"]
    mean = summary.quantities("mean")
    assert abs(mean["C"] - truth()["C"]) < 30 * pF
    assert frame.loc["gL", "mean"] == pytest.approx(float(mean["gL"] / nS))
    assert summary.std[0] > 0
    with pytest.raises(ProblemError, match="level"):
        inf.summary(level=1.5)


def test_results_need_a_posterior():
    inf = new_inferencer()
    with pytest.raises(RuntimeError, match="no posterior"):
        inf.best_params  # noqa: B018 - a property
    with pytest.raises(RuntimeError, match="no posterior"):
        inf.log_prob(truth())
    with pytest.raises(RuntimeError, match="no parameter space"):
        inf.generate_traces()
    inf.set_bounds(**bounds())
    with pytest.raises(RuntimeError, match="no posterior"):
        inf.generate_traces()
