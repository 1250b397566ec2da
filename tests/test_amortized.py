"""Amortized inference: one trained SNPE, the posteriors of many new recordings."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from brian2 import amp, ms, mV, nA, nS, pF
from workflow_support import new_inferencer, run, trained_snpe

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.amortized import (
    AmortizedResults,
    NotAmortizedError,
    RecordingPosterior,
)


@functools.cache
def recordings() -> tuple[dict, np.ndarray]:
    """Four synthetic recordings of known parameters (inside the prior), simulated with noise."""
    inf = trained_snpe()
    params = {"C": [120, 200, 260, 320] * pF, "gL": [6, 10, 14, 18] * nS}
    outputs = inf.generate_traces(params=params, seed=11)
    return outputs, inf.space.to_array(params)


def traces() -> list:
    """The recordings as a list of ``(n_traces, n_steps)`` voltage arrays."""
    v = recordings()[0]["v"]
    return [v[i] for i in range(v.shape[0])]


# ---------------------------------------------------------------------- batch = one by one
def test_batch_gives_the_same_posteriors_as_one_by_one():
    inf = trained_snpe()
    many = inf.condition_many(traces(), n_samples=400, seed=3)
    assert isinstance(many, AmortizedResults) and len(many) == 4
    assert many.names == ["0", "1", "2", "3"]
    assert many.info["amortized"] and many.info["mode"] == "per-recording"
    for i, trace in enumerate(traces()):
        one = inf.condition(trace, seed=3, n_samples=400)
        assert isinstance(one, RecordingPosterior)
        np.testing.assert_array_equal(one.x, many[i].x)
        # the same recording gets the same samples alone or in a batch (content-derived seeds)
        np.testing.assert_array_equal(one.sample_array, many[i].sample_array)
        # the batched MAP search moves each start on its own: same estimate up to rounding
        np.testing.assert_allclose(
            one.map_array(), many[i].map_array(), rtol=0, atol=1e-4 * inf.space.width.max()
        )
    # the order in the batch does not matter either
    reverse = inf.condition_many(traces()[::-1], n_samples=400, seed=3)
    np.testing.assert_array_equal(reverse[0].sample_array, many[3].sample_array)
    assert not np.array_equal(many[0].sample_array, many[1].sample_array)


def test_batched_sampling_matches_in_distribution_and_recovers_parameters():
    inf = trained_snpe()
    exact = inf.condition_many(traces(), n_samples=1000, seed=5, with_map=False)
    fast = inf.condition_many(traces(), n_samples=1000, seed=5, batched=True, with_map=False)
    assert fast.info["mode"] == "batched"
    truth = recordings()[1]
    for a, b, theta in zip(exact, fast, truth, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        std = a.sample_array.std(axis=0)
        assert np.all(np.abs(a.summary.median - b.summary.median) < 0.3 * std)
        np.testing.assert_allclose(b.sample_array.std(axis=0), std, rtol=0.2)
        # known parameters within the posterior's bulk
        assert np.all(np.abs(a.summary.median - theta) < 4 * std), (a.summary.median, theta)
        assert np.all((b.sample_array >= inf.space.lower) & (b.sample_array <= inf.space.upper))


def test_conditioning_the_training_recording_reproduces_its_features():
    inf = trained_snpe()
    from workflow_support import _passive

    res = inf.condition(_passive()["output"], "v", name="cell-A", with_map=False)
    np.testing.assert_array_equal(res.x, inf.x_o[0])
    assert res.name == "cell-A" and not res.misspecified
    reference = inf.summary(n_samples=1000, seed=0)
    assert np.all(np.abs(res.summary.median - reference.median) < 0.3 * reference.std)
    assert set(res.samples) == {"C", "gL"} and res.samples["C"].shape == (1000,)


def test_a_3d_array_and_dict_recordings_are_accepted():
    inf = trained_snpe()
    v = recordings()[0]["v"]
    stacked = inf.condition_many(v, names=["a", "b", "c", "d"], n_samples=50, with_map=False)
    dicts = inf.condition_many([{"v": t} for t in traces()], n_samples=50, with_map=False)
    assert stacked.names == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(stacked[2].sample_array, dicts[2].sample_array)
    # the training stimulus, given explicitly, is accepted
    inf.condition(
        traces()[0],
        input=inf.problem.inputs["I"] * amp,
        input_var="I",
        dt=0.1 * ms,
        n_samples=20,
        with_map=False,
    )


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"output": "one_trace"},
            r"outputs\[0\]\['v'\]: expected shape \(2, 300\).*got \(1, 300\)",
        ),
        ({"output": "short"}, r"300 steps of dt=100\. us.*got \(2, 200\)"),
        ({"output": "amperes"}, r"expected units of volt.*got amp"),
        ({"output": "unitless"}, r"expected units of volt.*got a unitless array"),
        ({"output": "other_var"}, r"expected the output variables .*\['v'\], got \['I'\]"),
        ({"dt": 0.2 * ms}, r"dt: the recordings must have the training dt \(100\. us\), got 200"),
        (
            {"input": "doubled"},
            r"input\['I'\]: differs from the training stimulus \(trace \d, step 50",
        ),
        ({"input": "volts"}, r"input\['I'\]: expected units of amp"),
        ({"input": "short"}, r"input\['I'\]: expected shape \(2, 300\)"),
        ({"names": ["a", "b"]}, r"names: expected one name per recording \(1\), got 2"),
    ],
)
def test_recordings_of_another_protocol_are_refused(kwargs, message):
    inf = trained_snpe()
    good = traces()[0]
    stimulus = inf.problem.inputs["I"] * amp
    forms = {
        "one_trace": good[:1],
        "short": good[:, :200],
        "amperes": np.asarray(good) * nA,
        "unitless": np.asarray(good),
        "other_var": {"I": good},
        "doubled": 2 * stimulus,
        "volts": np.asarray(stimulus) * mV,
    }
    output = forms.get(kwargs.pop("output", None), good)
    if "input" in kwargs:
        kwargs["input"] = (
            stimulus[:, :200] if kwargs["input"] == "short" else forms[kwargs["input"]]
        )
        kwargs["input_var"] = "I"
    with pytest.raises(ProblemError, match=message):
        inf.condition_many([output], **kwargs)


def test_nothing_to_condition_before_training_or_without_feature_code(tmp_path):
    with pytest.raises(RuntimeError, match="no posterior yet"):
        new_inferencer().condition(traces()[0])
    inf = trained_snpe()
    inf.save(tmp_path / "fit.zip")
    loaded = Inferencer.load(tmp_path / "fit.zip")
    with pytest.raises(ProblemError, match=r"load\(path, features=\.\.\.\)"):
        loaded.condition(traces()[0])


# ---------------------------------------------------------------------- misspecification
def test_out_of_distribution_recordings_are_flagged_by_feature():
    inf = trained_snpe()
    shifted = traces()[1] + 25 * mV  # a resting potential the model cannot produce
    with pytest.warns(RuntimeWarning, match=r"1 of 3 recordings .*outside the training"):
        res = inf.condition_many(
            [traces()[0], shifted, traces()[2]],
            names=["ok1", "odd", "ok2"],
            n_samples=100,
            with_map=False,
        )
    assert res.misspecified == ["odd"]
    assert not res[0].misspecified and res[1].misspecified
    assert all(name.startswith("v.") for name in res[1].flagged_features)
    assert "v.early[0]" in res[1].flagged_features
    assert "FLAGGED" in str(res[1]) and "v.early[0]" in str(res[1])


# ---------------------------------------------------------------------- table, CSV, ArviZ
def test_table_has_one_row_per_recording_and_parameter_with_units(tmp_path):
    inf = trained_snpe()
    shifted = traces()[0] + 25 * mV
    with pytest.warns(RuntimeWarning):
        res = inf.condition_many([*traces()[:2], shifted], n_samples=300, level=0.8)
    path = tmp_path / "cells.csv"
    res.to_csv(path)
    table = pd.read_csv(path)
    assert list(table.columns) == list(AmortizedResults.COLUMNS)
    assert len(table) == 3 * 2
    assert list(table["recording"]) == [0, 0, 1, 1, 2, 2]
    assert list(table["parameter"]) == ["C", "gL"] * 3
    assert set(table["unit"]) == {"pF", "nS"}
    assert set(table["level"]) == {0.8}
    assert list(table["misspecified"]) == [False] * 4 + [True] * 2
    assert table["flagged_features"].isna()[:4].all() and "v." in table["flagged_features"][5]
    # values in the unit column's unit, consistent with the samples
    row = table[(table["recording"] == 1) & (table["parameter"] == "gL")].iloc[0]
    gl = np.asarray(res[1].samples["gL"] / nS)
    assert row["median"] == pytest.approx(np.median(gl))
    assert row["lower"] == pytest.approx(np.percentile(gl, 10))
    assert row["lower"] < row["median"] < row["upper"]
    assert "recording" in str(res) and res._repr_html_().startswith("<table")


def test_each_recording_exports_to_arviz_and_has_best_params():
    inf = trained_snpe()
    res = inf.condition_many(traces()[:2], names=["c1", "c2"], n_samples=200)
    assert res["c2"] is res[1]
    with pytest.raises(KeyError, match="no recording named 'c3'"):
        res["c3"]
    idata = res.to_arviz()["c2"]
    assert idata.posterior["gL"].attrs["units"] == "nS"
    assert idata.posterior["C"].shape == (1, 200)
    assert idata.posterior.attrs["recording"] == "c2"
    np.testing.assert_allclose(idata.observed_data["x"].values, res[1].x)
    best = res.best_params()[1]
    assert set(best) == {"C", "gL"}
    assert inf.space.lower[1] <= float(best["gL"]) <= inf.space.upper[1]
    # the MAP lies where the posterior mass is
    assert abs(float(best["gL"]) - res[1].summary.median[1]) < 3 * res[1].summary.std[1]


# ---------------------------------------------------------------------- non-amortized methods
def test_snle_works_per_recording_and_warns_with_its_cost():
    inf = new_inferencer()
    run(inf, "snle", 200, seed=2)
    with pytest.warns(
        RuntimeWarning,
        match=r"SNLEBackend is not amortized.*s for the first "
        r"recording.*about .* s for all 2 recordings",
    ):
        res = inf.condition_many(traces()[:2], n_samples=100, with_map=False)
    assert res.info["mode"] == "per-recording" and not res.info["amortized"]
    assert res[0].sample_array.shape == (100, 2) and res[0].seconds > 0


def test_multi_round_snpe_is_refused_with_the_reason():
    inf = new_inferencer()
    run(inf, "snpe", 100, seed=4, n_rounds=2)
    reason = r"trained in 2 rounds.*a box around the posterior.*inside that box only"
    with pytest.raises(NotAmortizedError, match=reason):
        inf.condition(traces()[0])


def test_bad_options_and_containers_are_refused_before_any_work():
    inf = trained_snpe()
    with pytest.raises(ProblemError, match=r"level: expected a probability in \(0, 1\), got 1.5"):
        inf.condition(traces()[0], level=1.5)
    with pytest.raises(ProblemError, match=r"z_limit: expected a positive number, got -1"):
        inf.condition(traces()[0], z_limit=-1)
    with pytest.raises(ProblemError, match=r"outputs: expected a list of recordings .*single dict"):
        inf.condition_many({"v": traces()[0]})
    with pytest.raises(ProblemError, match=r"outputs: expected a non-empty list"):
        inf.condition_many([])


def test_spike_recordings_are_batched_like_the_observed_data():
    from brian2 import second

    from brian2modelfitting_sbi.amortized import batch_result, normalize_recording
    from brian2modelfitting_sbi.problem import Problem
    from brian2modelfitting_sbi.simulation import SimulationResult

    eqs = "dv/dt = (gL*(-70*mV - v) + I)/C : volt\ngL : siemens (constant)\nC : farad (constant)"
    first = [np.array([1.0, 2.5]) * ms, np.array([]) * second]
    problem = Problem.from_arguments(
        eqs,
        input_var="I",
        input=np.zeros((2, 50)) * nA,
        output_var="spikes",
        output=first,
        dt=0.1 * ms,
        threshold="v > -50*mV",
        namespace={},
    )
    second_rec = [np.array([]) * second, np.array([3.0]) * ms]
    recs = [
        normalize_recording(problem, r, None, f"outputs[{i}]")
        for i, r in enumerate([first, second_rec])
    ]
    batch = batch_result(problem, recs)
    trains = batch.spike_trains()
    observed = SimulationResult.from_observed(problem).spike_trains()[0]
    for got, want in zip(trains[0], observed, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(trains[1][1], [3e-3])
    assert len(trains[1][0]) == 0 and batch.n_samples == 2
    with pytest.raises(ProblemError, match=r"outputs\[0\]\['spikes'\]: expected a list of 2"):
        normalize_recording(problem, [np.array([1.0]) * ms], None, "outputs[0]")
