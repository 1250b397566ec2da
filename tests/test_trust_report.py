"""The trust report: passes a well-specified inference, flags an observation outside the
training range, a misspecified model and an under-trained estimator."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from brian2 import ms, mV, nS
from conftest import (
    EL,
    FAST_ESTIMATOR,
    PASSIVE_EQS,
    SIGMA,
    TRUTH,
    fitter_args,
    passive_inputs,
    window_features,
)
from matplotlib.figure import Figure
from workflow_support import bounds, new_inferencer, passive_args

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.posterior.trust import TrustBudget, TrustCheck, TrustReport
from brian2modelfitting_sbi.posterior.trust_checks import coverage_check, predictive_check
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

#: Training that converges (stops on the validation loss) on 300 passive simulations.
CONVERGING = {"training_batch_size": 50, "learning_rate": 3e-3, "max_num_epochs": 400,
              "stop_after_epochs": 10}
SMALL = {"n_predictive": 60, "n_local": 40, "n_local_draws": 100, "n_draws": 200}

#: The data's model has a second leak current (to another reversal potential) that the
#: inferred passive model lacks: the membrane drifts away from EL before the step.
LEAKY_EQS = PASSIVE_EQS.replace("+ I)/C", "+ gx*(Ex - v) + I)/C")


def _infer(output=None, n=300, training=CONVERGING, seed=3):
    if output is None:
        inf = new_inferencer()
    else:
        args = {**fitter_args(passive_args()), "output": output}
        inf = Inferencer(**args, features=window_features())
    inf.infer(n, backend="snpe", progress=False, training=training,
              estimator_options=dict(FAST_ESTIMATOR), seed=seed, **bounds())
    return inf


@functools.cache
def well_specified():
    return _infer()


def _leaky_recording():
    problem = Problem.from_arguments(
        LEAKY_EQS, input_var="I", input=passive_inputs(), output_var="v",
        output=np.full((2, 300), -70.0) * mV, dt=0.1 * ms, param_init={"v": EL},
        namespace={"EL": EL, "sigma": SIGMA, "gx": 4 * nS, "Ex": -50 * mV},
    )
    sim = ChunkSimulator(problem, ["C", "gL"], 1, Recording(("v",)))
    truth = np.array([[float(TRUTH["C"]), float(TRUTH["gL"])]])
    return sim.run(truth, seed=7).traces["v"][0] * 1000 * mV


def test_a_well_specified_inference_passes():
    inf = well_specified()
    n_before, theta_before = inf.n_simulations, inf.theta.copy()
    report = inf.trust_report(**SMALL, verbose=False)
    assert isinstance(report, TrustReport)
    assert report.passed, str(report)
    assert report.verdict == "trustworthy"
    assert [c.check for c in report.checks] == [
        "observation", "prior mass", "valid simulations", "predictive", "local calibration",
        "estimator agreement", "training", "width",
    ]
    assert report["valid simulations"].value == 1.0
    assert report["estimator agreement"].value < 0.6
    # the report simulates and trains apart: the inference is unchanged
    assert inf.n_simulations == n_before
    np.testing.assert_array_equal(inf.theta, theta_before)
    table = report.to_dataframe()
    assert list(table.columns) == list(TrustReport.COLUMNS) and len(table) == 8
    assert isinstance(report.figure(), Figure)
    assert "TRUSTWORTHY" in str(report)


def test_the_cost_is_printed_first_and_bounded(capsys):
    inf = well_specified()
    capsys.readouterr()  # what training printed, if this test trained the shared inference
    report = inf.trust_report(n_predictive=20, n_local=5, n_local_draws=50, n_draws=50,
                              agreement=False)
    printed = capsys.readouterr().out
    assert printed.startswith("trust report: 20 simulations at posterior draws; 5 posteriors")
    assert "more training" not in printed
    assert report["estimator agreement"].verdict == "skipped"
    assert report["local calibration"].data["n"] == 5


@pytest.mark.slow
def test_an_observation_outside_the_training_range_fails():
    shifted = np.asarray(new_inferencer().problem.outputs["v"]) * 1000 * mV + 25 * mV
    report = _infer(output=shifted, n=200).trust_report(**SMALL, verbose=False)
    assert report["observation"].verdict == "fail"
    assert report.verdict == "do not trust"
    assert "widen the bounds" in report["observation"].suggestion


@pytest.mark.slow
def test_a_misspecified_model_is_flagged():
    inf = _infer(output=_leaky_recording())
    report = inf.trust_report(**SMALL, verbose=False)
    # every feature lies inside the training range: only the predictive check can tell
    assert report["observation"].verdict == "pass"
    assert report["predictive"].verdict == "fail"
    assert report.verdict == "do not trust", str(report)
    assert "misspecification" in str(report)


def test_an_under_trained_estimator_is_flagged():
    inf = _infer(n=50, training={"max_num_epochs": 1}, seed=1)
    report = inf.trust_report(**SMALL, verbose=False)
    assert not report.passed
    assert report["training"].verdict == "warn"
    assert report["width"].verdict == "warn"


def test_a_condition_result_gets_its_report():
    inf = well_specified()
    post = inf.condition(np.asarray(inf.problem.outputs["v"]) * 1000 * mV, name="again")
    report = inf.trust_report(post, **SMALL, agreement=False, verbose=False)
    assert report.name == "again" and report["predictive"].verdict == "pass"


def test_the_checks_count_what_they_say():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(200, 2))
    assert predictive_check(pred, np.array([0.0, 0.0]), ["a", "b"]).verdict == "pass"
    far = predictive_check(pred, np.array([0.0, 6.0]), ["a", "b"])
    assert far.verdict == "fail" and "b" in far.suggestion
    space = well_specified().space
    theta = space.sample_prior(60, rng)
    centred = theta[:, None, :] + rng.normal(size=(60, 100, 2)) * space.width * 0.05
    assert coverage_check(theta, centred, space).verdict == "pass"
    shifted = centred + space.width * 0.2  # intervals that miss the truth
    assert coverage_check(theta, shifted, space).verdict == "fail"
    with pytest.raises(ValueError, match="verdict"):
        TrustCheck("x", 0.0, "maybe", "")


def test_bad_budgets_are_refused():
    with pytest.raises(ProblemError, match="n_predictive"):
        TrustBudget(n_predictive=1)
    with pytest.raises(ProblemError, match="agreement"):
        TrustBudget(agreement="yes")


def test_the_report_simulates_with_the_inference_measurement_noise():
    # a recording with 3 mV of measurement noise, inferred with that noise in the simulations:
    # the predictive simulations must carry it too, or the observation looks far off
    args = fitter_args(passive_args())
    noisy = np.asarray(args["output"]) + np.random.default_rng(4).normal(0, 3e-3, (2, 300))
    args["output"] = noisy * 1000 * mV

    def rest_std(v):  # what the measurement noise sets
        return v[:50].std()

    inf = Inferencer(**args, features=[*window_features(), rest_std],
                     measurement_noise={"v": 3 * mV})
    inf.infer(200, backend="snpe", progress=False, training=CONVERGING,
              estimator_options=dict(FAST_ESTIMATOR), seed=3, **bounds())
    report = inf.trust_report(n_predictive=60, n_local=10, n_local_draws=50, agreement=False,
                              verbose=False)
    assert report["predictive"].value < 4, str(report)


def test_zoomed_rounds_get_their_local_calibration():
    # a later truncated round trains its estimator afresh in a box around the posterior, so
    # the estimator is amortized inside the box, where the local calibration's test
    # parameters (posterior draws) lie: the check runs (and passes on this easy problem)
    inf = new_inferencer()
    inf.infer(200, backend="snpe", n_rounds=2, progress=False, training=CONVERGING,
              estimator_options=dict(FAST_ESTIMATOR), seed=3, **bounds())
    assert inf.backend.region is not None
    report = inf.trust_report(**SMALL, verbose=False)
    local = report["local calibration"]
    assert local.verdict in ("pass", "warn"), str(report)
    assert 0.5 <= local.value <= 1.0
    assert report["estimator agreement"].verdict != "skipped"
