"""SNPE's multi-round modes: truncated proposals (the default), combined and atomic loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sbi.utils import BoxUniform
from workflow_support import LEARNING, bounds, new_inferencer, run, window_features

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.backends.snpe import SNPEBackend
from brian2modelfitting_sbi.backends.truncation import TruncatedPrior
from brian2modelfitting_sbi.errors import CapabilityError


class NarrowPosterior:
    """A stand-in for a direct posterior: a Gaussian around (0.3, 0.7), sd 0.02."""

    def __init__(self):
        self.normal = torch.distributions.MultivariateNormal(
            torch.tensor([0.3, 0.7]), 4e-4 * torch.eye(2)
        )

    def sample(self, shape, show_progress_bars=False):
        return self.normal.sample(shape)

    def log_prob(self, theta, norm_posterior=True):
        return self.normal.log_prob(theta)


def test_truncated_prior_draws_inside_the_posterior_region():
    torch.manual_seed(0)
    prior = BoxUniform(torch.zeros(2), torch.ones(2))
    truncated = TruncatedPrior(prior, NarrowPosterior(), quantile=1e-3, n_draws=20_000)
    # the sampling box hugs the region (sd 0.02: about +-0.08 around the centre), not the prior
    assert truncated.box_fraction < 0.05
    draws = truncated.sample((2000,))
    assert draws.shape == (2000, 2)
    assert torch.all(truncated.accepts(draws))
    # uniform in the box (a box prior is zoomed, not thresholded): its mean is the region's
    # centre, its spread that of a uniform over +-~3.7 sd (sd ~2.1 sd per axis)
    assert torch.allclose(draws.mean(0), torch.tensor([0.3, 0.7]), atol=0.01)
    assert torch.all(draws.std(0) > 0.03)
    assert truncated.acceptance == 1.0
    half = (truncated.high - truncated.low) / 2
    assert torch.all(half > 3 * 0.02) and torch.all(half < 5 * 0.02)
    inside = truncated.log_prob(torch.tensor([[0.3, 0.7], [0.9, 0.1]]))
    assert torch.isfinite(inside[0]) and inside[1] == -torch.inf
    # normalised: density x box area is one
    assert float(inside[0].exp()) * truncated.box_fraction == pytest.approx(1.0, rel=1e-5)


def test_truncated_prior_checks_the_quantile():
    prior = BoxUniform(torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="truncation_quantile"):
        TruncatedPrior(prior, NarrowPosterior(), quantile=1.5, n_draws=100)


def test_modes_from_training_settings():
    assert SNPEBackend.mode_of(None) == "truncated"
    assert SNPEBackend.mode_of({"multi_round": "atomic"}) == "atomic"
    # sbi's own loss settings keep meaning what they meant: a posterior proposal
    assert SNPEBackend.mode_of({"use_combined_loss": True}) == "combined"
    assert SNPEBackend.mode_of({"use_combined_loss": False}) == "atomic"
    assert SNPEBackend.mode_of({"num_atoms": 5}) == "combined"


@pytest.mark.parametrize(
    ("training", "match"),
    [({"multi_round": "tsnpe"}, r"training\['multi_round'\]: expected one of"),
     ({"truncation_quantile": 0}, r"training\['truncation_quantile'\]")],
)
def test_bad_settings_refused_before_simulating(training, match):
    inf = new_inferencer()
    with pytest.raises(ValueError, match=match):
        inf.infer(20, "snpe", n_rounds=2, seed=0, progress=False, training=training, **bounds())
    assert inf.rounds == []


def test_multi_round_refused_for_other_backends():
    inf = new_inferencer()
    with pytest.raises(CapabilityError, match="only the snpe backend"):
        inf.infer(20, "snle", n_rounds=2, seed=0, progress=False,
                  training={"multi_round": "truncated"}, **bounds())
    assert inf.rounds == []


@pytest.fixture(scope="module")
def truncated_two_rounds():
    inf = new_inferencer()
    run(inf, "snpe", 200, seed=5, n_rounds=2)
    return inf


@pytest.mark.slow
def test_second_round_draws_from_the_truncated_prior(truncated_two_rounds):
    inf = truncated_two_rounds
    proposal = inf.rounds[1].proposal
    assert isinstance(proposal, TruncatedPrior) and not inf.rounds[1].from_prior
    assert proposal.posterior is inf.proposals[1].posterior
    # inside the prior box and inside the region
    theta = inf.theta[200:]
    assert np.all(theta >= inf.space.lower) and np.all(theta <= inf.space.upper)
    assert bool(torch.all(proposal.accepts(inf.space.to_torch(theta))))
    # round 2's estimator was trained afresh, with the maximum-likelihood loss, on the
    # simulations inside the box (prior draws of the uniform prior on the box)
    low, high = inf.backend.region
    prior = inf.backend.trainer._prior
    assert isinstance(prior, BoxUniform)
    assert torch.allclose(prior.base_dist.low, low) and torch.allclose(prior.base_dist.high, high)
    inside = torch.all((inf.space.to_torch(inf.theta) >= low)
                       & (inf.space.to_torch(inf.theta) <= high), dim=-1)
    appended = inf.backend.appended_rounds
    assert [n for n, _ in appended] == [int(inside.sum())] and appended[0][1] is None
    assert inf.backend.last_training["multi_round"] == "truncated"
    assert inf.backend.last_training["force_first_round_loss"] is True
    truth = np.array([200e-12, 10e-9])  # C, gL (sorted names)
    mean = inf.sample_array(300, seed=0).mean(axis=0)
    assert np.all(np.abs(mean - truth) / inf.space.width < 0.1)


@pytest.mark.slow
def test_truncated_inference_saves_loads_and_continues(truncated_two_rounds, tmp_path):
    inf = truncated_two_rounds
    inf.save(tmp_path / "t.zip")
    loaded = Inferencer.load(tmp_path / "t.zip", features=window_features())
    assert np.array_equal(loaded.sample_array(50, seed=1), inf.sample_array(50, seed=1))
    assert [r.from_prior for r in loaded.rounds] == [True, False]
    # the restored trainer holds the simulations inside the saved box, its prior that box
    assert all(torch.equal(a, b) for a, b in zip(loaded.backend.region, inf.backend.region,
                                                  strict=True))
    assert ([n for n, _ in loaded.backend.appended_rounds]
            == [n for n, _ in inf.backend.appended_rounds])
    run(loaded, "snpe", 50, seed=11)
    assert len(loaded.rounds) == 3
    assert isinstance(loaded.rounds[2].proposal, TruncatedPrior)


@pytest.mark.slow
def test_combined_mode_draws_from_the_posterior():
    inf = new_inferencer()
    inf.infer(150, "snpe", n_rounds=2, seed=2, progress=False,
              training={**LEARNING, "multi_round": "combined"}, **bounds())
    assert inf.rounds[1].proposal is inf.backend.appended_rounds[1][1]
    assert not isinstance(inf.rounds[1].proposal, TruncatedPrior)
    assert inf.backend.last_training["use_combined_loss"] is True
    assert inf.backend.last_training["multi_round"] == "combined"


def test_truncated_mode_drops_invalid_simulations():
    inf = new_inferencer()
    run(inf, "snpe", 150, seed=4)
    theta, x = inf.theta.copy(), inf.x.copy()
    x[:10] = np.nan
    posterior = inf.posterior
    inf.set_bounds(restart=True)
    with pytest.warns(RuntimeWarning, match="NaN"):
        inf.add_round(theta, x)
        inf.add_round(theta, x, proposal=posterior)  # as if drawn from a posterior
    inf.train("snpe", seed=1, invalid="drop", training=LEARNING)
    assert [n for n, _ in inf.backend.appended_rounds] == [140, 140]
    inf.build_posterior()
    assert np.all(np.isfinite(inf.sample_array(20, seed=0)))


def test_a_posterior_that_leaked_out_of_the_box_gives_the_prior_without_hanging():
    import pytest as _pytest
    import torch

    from brian2modelfitting_sbi.backends.truncation import TruncatedPrior

    class Leaked:  # every draw outside the unit box, as an under-trained flow's
        def sample(self, shape, show_progress_bars=False, reject_outside_prior=True):
            assert not reject_outside_prior  # asked for raw draws: no rejection loop
            return 3.0 + torch.rand(*shape, 2)

        def log_prob(self, theta, norm_posterior=False):
            return torch.zeros(len(theta))

    prior = torch.distributions.Independent(
        torch.distributions.Uniform(torch.zeros(2), torch.ones(2)), 1)
    with _pytest.warns(RuntimeWarning, match="leaked out"):
        truncated = TruncatedPrior(prior, Leaked(), n_draws=1000)
    assert truncated.inside_fraction == 0.0
    draws = truncated.sample((50,))
    assert draws.shape == (50, 2) and bool(((draws >= 0) & (draws <= 1)).all())
