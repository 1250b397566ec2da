"""Log-uniform bounds and a user ``prior=``: the torch boundary, sampling, MAP, save/load,
amortized conditioning, the store identity, and every bad input."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from brian2 import mV, nS, pF, volt
from conftest import window_features
from sbi.utils import BoxUniform
from workflow_support import LEARNING, bounds, estimator_options, new_inferencer

from brian2modelfitting_sbi import Inferencer, LogUniform, ProblemError
from brian2modelfitting_sbi.prior_dists import describe, rebuild
from brian2modelfitting_sbi.priors import ParameterSpace
from brian2modelfitting_sbi.simulation import runner


def _infer(inf: Inferencer, n: int = 300, **kwargs) -> Inferencer:
    inf.infer(
        n,
        backend="snpe",
        seed=3,
        progress=False,
        training=LEARNING,
        estimator_options=estimator_options("snpe"),
        **kwargs,
    )
    return inf


def _user_prior() -> torch.distributions.Distribution:
    """A prior over (C, gL) in SI units: C uniform in [100, 300] pF, gL Beta-shaped in
    [2, 25] nS (a transformed distribution, to exercise the pickle-free description)."""
    c = torch.distributions.Uniform(torch.tensor([100e-12]), torch.tensor([300e-12]))
    gl = torch.distributions.TransformedDistribution(
        torch.distributions.Beta(torch.tensor([2.0]), torch.tensor([2.0])),
        [torch.distributions.AffineTransform(torch.tensor([2e-9]), torch.tensor([23e-9]))],
    )
    from sbi.utils import MultipleIndependent

    return MultipleIndependent([c, gl], validate_args=False)


@functools.cache
def log_trained() -> Inferencer:
    return _infer(new_inferencer(), C=[50 * pF, 400 * pF], gL=LogUniform(1 * nS, 30 * nS))


@functools.cache
def prior_trained() -> Inferencer:
    return _infer(new_inferencer(), prior=_user_prior(), **bounds())


# ---------------------------------------------------------------------- coordinates
def test_log_uniform_coordinates_round_trip_and_prior_is_uniform_in_log():
    space = ParameterSpace(
        ["C", "gL"], [pF, nS], np.array([50e-12, 1e-9]), np.array([400e-12, 30e-9]),
        ("linear", "log"),
    )
    theta = space.sample_prior(20_000, np.random.default_rng(0))
    assert np.all((theta >= space.lower) & (theta <= space.upper))
    np.testing.assert_allclose(space.from_torch(space.to_torch(theta)), theta, rtol=1e-5)
    # half of the log-uniform mass lies below the geometric mean, a quarter below 30**0.25 nS
    gl = theta[:, 1]
    assert np.mean(gl < np.sqrt(1e-9 * 30e-9)) == pytest.approx(0.5, abs=0.02)
    assert np.mean(gl < 1e-9 * 30**0.25) == pytest.approx(0.25, abs=0.02)
    u = space.to_torch(theta).numpy()
    assert np.all((u >= 0) & (u <= 1)) and abs(u[:, 1].mean() - 0.5) < 0.01
    # the change of coordinates: the SI log density of a log-uniform is -log(theta log(30))
    expected = -np.log(350e-12) - np.log(theta[:3, 1] * np.log(30.0))
    np.testing.assert_allclose(space.log_jacobian_at(theta[:3]), expected)


def test_bracket_marker_equals_the_log_uniform_marker():
    inf = new_inferencer()
    a = inf.set_bounds(C=[50 * pF, 400 * pF], gL=[1 * nS, 30 * nS, "log"])
    b = ParameterSpace.from_bounds(inf.problem, {"C": [50 * pF, 400 * pF],
                                                 "gL": LogUniform(1 * nS, 30 * nS)})
    assert a == b and a.scales == ("linear", "log")
    assert a != ParameterSpace.from_bounds(inf.problem, bounds())
    assert a.to_json()["scales"] == ["linear", "log"]  # in the store identity


# ---------------------------------------------------------------------- end to end
def test_log_uniform_samples_map_plot_and_save_load(tmp_path):
    inf = log_trained()
    samples = inf.sample_array(500, seed=1)
    assert np.all((samples >= inf.space.lower) & (samples <= inf.space.upper))
    truth = np.array([200e-12, 10e-9])
    assert np.all(np.abs(np.median(samples, axis=0) - truth) / inf.space.width < 0.15)
    best = inf.space.to_array(inf.map())
    assert np.all((best >= inf.space.lower) & (best <= inf.space.upper))
    fig = inf.pairplot(500)
    assert fig.axes[0].get_xscale() == "linear" and fig.axes[3].get_xscale() == "log"
    path = tmp_path / "log.zip"
    inf.save(path)
    loaded = Inferencer.load(path)
    assert loaded.space == inf.space and loaded.space.scales == ("linear", "log")
    np.testing.assert_allclose(loaded.sample_array(200, seed=5), inf.sample_array(200, seed=5),
                               rtol=1e-5)


def test_log_uniform_amortized_conditioning_matches_the_posterior():
    inf = log_trained()
    one = inf.condition(inf.problem.outputs["v"] * volt, n_samples=300, seed=2)
    assert np.all((one.sample_array >= inf.space.lower) & (one.sample_array <= inf.space.upper))
    direct = inf.sample_array(300, seed=2)
    assert np.all(np.abs(np.median(one.sample_array, 0) - np.median(direct, 0))
                  / inf.space.width < 0.1)


def test_user_prior_draws_train_sample_and_round_trip(tmp_path):
    inf = prior_trained()
    # the first round was drawn from the user prior, not the box
    theta = inf.theta
    assert theta[:, 0].min() >= 100e-12 - 1e-18 and theta[:, 0].max() <= 300e-12 + 1e-18
    assert theta[:, 1].min() >= 2e-9 - 1e-15 and theta[:, 1].max() <= 25e-9 + 1e-15
    assert np.mean(np.abs(theta[:, 1] - 13.5e-9) < 5.75e-9) > 0.6  # Beta(2, 2): central mass
    samples = inf.sample_array(400, seed=1)
    assert np.all((samples >= inf.space.lower) & (samples <= inf.space.upper))
    # the posterior's density is the prior's outside its support: none
    logp = inf.log_prob({"C": [50 * pF, 200 * pF], "gL": [10 * nS, 10 * nS]})
    assert logp[0] == -np.inf and np.isfinite(logp[1])
    inf.save(tmp_path / "p.zip")
    loaded = Inferencer.load(tmp_path / "p.zip", features=window_features())
    assert loaded.space == inf.space and loaded.space.user_prior is not None
    np.testing.assert_allclose(loaded.sample_array(200, seed=5), inf.sample_array(200, seed=5),
                               rtol=1e-5)
    many = loaded.condition_many([inf.problem.outputs["v"] * volt] * 2, n_samples=200, seed=1)
    assert np.all((many[0].sample_array >= 100e-12 - 1e-18)
                  & (many[0].sample_array[:, :1] <= 300e-12 + 1e-18))


def test_user_prior_in_unit_coordinates_has_the_right_density():
    inf = new_inferencer()
    space = inf.set_bounds(prior=BoxUniform(torch.tensor([100e-12, 2e-9]),
                                            torch.tensor([300e-12, 25e-9])), **bounds())
    prior = space.prior()
    u = prior.sample((1000,))
    theta = space.from_torch(u)
    assert np.all((theta[:, 0] > 99e-12) & (theta[:, 0] < 301e-12))
    # uniform over 200 pF x 23 nS inside the box of 350 pF x 29 nS: density in u is the ratio
    expected = np.log((350 / 200) * (29 / 23))
    np.testing.assert_allclose(prior.log_prob(u).numpy(), expected, rtol=1e-4)
    outside = space.to_torch(np.array([[60e-12, 10e-9]]))
    assert prior.log_prob(outside).item() == -np.inf


def test_prior_description_is_plain_data():
    import json

    d = describe(_user_prior())
    text = json.dumps(d)
    back = rebuild(json.loads(text))
    x = _user_prior().sample((5,))
    np.testing.assert_allclose(back.log_prob(x).numpy(), _user_prior().log_prob(x).numpy(),
                               rtol=1e-5)


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def no_simulation(monkeypatch):
    """Fail loudly if any simulation starts."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gL": [0 * nS, 30 * nS, "log"]}, r"bounds\['gL'\]: a log-uniform prior needs bounds > 0"),
        ({"gL": LogUniform(-1 * nS, 30 * nS)}, r"log-uniform prior needs bounds > 0"),
        ({"gL": [1 * nS, 30 * nS, "logarithmic"]}, r"third entry must be one of"),
        ({"gL": LogUniform(1 * mV, 30 * mV)}, r"bounds\['gL'\]: expected values in units"),
    ],
)
def test_bad_log_bounds_fail_before_simulating(kwargs, match, no_simulation):
    inf = new_inferencer()
    with pytest.raises(ProblemError, match=match):
        inf.infer(10, progress=False, C=[50 * pF, 400 * pF], **kwargs)


@pytest.mark.parametrize(
    "prior, match",
    [
        (BoxUniform(torch.zeros(3), torch.ones(3)), r"prior: expected a distribution over 2"),
        (torch.distributions.Normal(torch.tensor([2e-10, 1e-8]), torch.tensor([1e-10, 5e-9])),
         r"prior: \d+ of 10000 draws fall outside the bounds for \['C', 'gL'\]"),
        (BoxUniform(torch.tensor([10e-12, 2e-9]), torch.tensor([300e-12, 25e-9])),
         r"prior: its support reaches outside the bounds for \['C'\]"),
        ("uniform", r"prior: expected a torch.distributions.Distribution"),
    ],
)
def test_bad_prior_fails_before_simulating(prior, match, no_simulation):
    inf = new_inferencer()
    with pytest.raises(ProblemError, match=match):
        inf.infer(10, progress=False, prior=prior, **bounds())


def test_second_round_proposal_keeps_the_user_prior_and_log_scale():
    inf = new_inferencer()
    kwargs = dict(prior=_user_prior(), C=[50 * pF, 400 * pF], gL=[1 * nS, 30 * nS, "log"])
    _infer(inf, 200, **kwargs)
    _infer(inf, 200)  # round 2 draws from the round-1 posterior
    assert len(inf.rounds) == 2 and inf.space.scales == ("linear", "log")
    second = inf.theta[200:]
    assert np.all((second[:, 0] >= 100e-12 - 1e-18) & (second[:, 0] <= 300e-12 + 1e-18))
    samples = inf.sample_array(300, seed=0)
    assert np.all((samples[:, 1] >= 2e-9 - 1e-15) & (samples[:, 1] <= 25e-9 + 1e-15))
