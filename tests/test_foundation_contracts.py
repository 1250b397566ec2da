"""The contracts of the new layout: option groups, backend capability flags, one Posterior
type, round records derived state, and providers that binding does not change."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, volt
from conftest import fitter_args, window_features
from workflow_support import trained_snpe

from brian2modelfitting_sbi import (
    Brian2SbiError,
    Inferencer,
    NotFittedError,
    Posterior,
    ProblemError,
    SimulationOptions,
    TrainingOptions,
)
from brian2modelfitting_sbi.backends.defaults import default_training_options
from brian2modelfitting_sbi.backends.snpe import SNPEBackend
from brian2modelfitting_sbi.backends.snre import SNREBackend
from brian2modelfitting_sbi.errors import CapabilityError
from brian2modelfitting_sbi.features import EphysFeatures, RawTraces
from brian2modelfitting_sbi.inference.options import split_keywords
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import runner


@pytest.fixture
def no_simulation(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)


# ---------------------------------------------------------------------- errors
def test_one_error_hierarchy():
    assert issubclass(ProblemError, Brian2SbiError) and issubclass(ProblemError, ValueError)
    assert issubclass(NotFittedError, Brian2SbiError) and issubclass(NotFittedError, RuntimeError)
    from brian2modelfitting_sbi.problem import ProblemError as FromProblem

    assert FromProblem is ProblemError


def test_results_before_inference_say_which_call_to_make(passive):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    with pytest.raises(NotFittedError, match=r"call infer\(\) first"):
        inf.sample_array(5)
    with pytest.raises(NotFittedError, match=r"call simulate\(\)"):
        inf.train("snpe")


# ---------------------------------------------------------------------- option groups
def test_option_groups_check_themselves_once():
    with pytest.raises(ProblemError, match="chunk_size: expected an integer >= 1"):
        SimulationOptions(chunk_size=0)
    with pytest.raises(ProblemError, match="invalid: expected one of"):
        TrainingOptions(invalid="ignore")
    with pytest.raises(ProblemError, match="unknown settings"):
        SimulationOptions.of({"chunksize": 10})
    options = SimulationOptions.of({"chunk_size": 10}, progress=False)
    assert options == SimulationOptions(chunk_size=10, progress=False)
    with pytest.raises(AttributeError):
        options.chunk_size = 3  # frozen


def test_old_keywords_are_sorted_into_the_groups():
    sim, fit, post, rest = split_keywords(
        {"chunk_size": 5, "threads": 2, "invalid": "keep", "gL": [1, 2]},
        training={"max_num_epochs": 3},
        sampling={"sample_with": "mcmc"},
    )
    assert sim.chunk_size == 5 and sim.threads == fit.threads == post.threads == 2
    assert fit.invalid == "keep" and dict(fit.settings) == {"max_num_epochs": 3}
    assert dict(post.settings) == {"sample_with": "mcmc"}
    assert rest == {"gL": [1, 2]}


def test_simulation_options_object_is_accepted(passive):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    theta, x = inf.simulate(6, seed=1, simulation=SimulationOptions(chunk_size=4, progress=False),
                            **passive["bounds"])
    assert theta.shape == (6, 2) and x.shape == (6, len(inf.feature_names))


# ---------------------------------------------------------------------- backend policy
class SingleRound(SNPEBackend):
    """A plugin that trains on prior draws only."""

    multi_round = False


class RenamedSNRE(SNREBackend):
    """A subclass under another name keeps SNRE's declared defaults."""


def test_capability_flags_refuse_before_simulating(passive, no_simulation):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    with pytest.raises(CapabilityError, match="multi_round=False"):
        inf.infer(10, backend=SingleRound, n_rounds=2, **passive["bounds"])
    with pytest.raises(CapabilityError, match="sample_with"):
        inf.infer(10, backend="snpe", sampling={"sample_with": "gibbs"}, **passive["bounds"])


def test_defaults_follow_the_declared_policy_not_the_class_name():
    assert default_training_options(1000, 5, RenamedSNRE) == default_training_options(
        1000, 5, "SNREBackend"
    )
    assert default_training_options(1000, 5, RenamedSNRE) != default_training_options(
        1000, 5, SNPEBackend
    )


# ---------------------------------------------------------------------- one Posterior type
def test_condition_gives_the_type_of_the_observed_posterior():
    inf = trained_snpe()
    assert isinstance(inf.result, Posterior) and inf.result.estimate is inf.posterior
    one = inf.condition(inf.problem.outputs["v"] * volt, output_var="v", n_samples=50)
    assert type(one) is type(inf.result)
    # a recording's posterior is a full posterior: fresh draws and densities at its own x
    assert one.sample(10, seed=1)["C"].shape == (10,)
    assert np.isfinite(one.log_prob(one.best_params))
    # the observed recording conditioned again gives the observed posterior's draws
    np.testing.assert_array_equal(one.draw(20, seed=4), inf.result.draw(20, seed=4))


def test_round_records_derive_the_training_data():
    inf = trained_snpe()
    (record,) = inf.rounds
    assert record.index == 1 and record.from_prior and record.proposal is None
    np.testing.assert_array_equal(inf.theta, record.theta)
    np.testing.assert_array_equal(inf.x, record.x)
    assert inf.n_simulations == record.n_simulations == 300
    assert inf.proposals == [None] and not inf.sequential


# ---------------------------------------------------------------------- bind
@pytest.mark.parametrize("make", [lambda: RawTraces(downsample=0.5 * ms),
                                  lambda: EphysFeatures(["mean", "std"])])
def test_bind_returns_a_copy_and_leaves_the_provider_alone(passive, make):
    provider = make()
    before = {k: (v.copy() if isinstance(v, dict | list) else v) for k, v in vars(provider).items()}
    first = Inferencer(**fitter_args(passive), features=provider)
    second = Inferencer(**fitter_args(passive), features=provider)
    assert first.features is not provider and second.features is not first.features
    assert vars(provider).keys() == before.keys()
    for key, value in before.items():
        now = vars(provider)[key]
        assert now is value or now == value, key  # nothing of the problem was written into it
    problem = Problem.from_arguments(
        passive["model"], input_var="I", input=passive["input"], output_var="v",
        output=passive["output"], dt=passive["dt"], namespace=passive["namespace"],
        param_init={"v": -70 * mV},
    )
    assert provider.bind(problem) is not provider
