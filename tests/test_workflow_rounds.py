"""Multi-round (sequential) inference for SNPE, SNLE and SNRE; continuing, restarting, steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from brian2 import nS, pF
from workflow_support import (
    LEARNING,
    bounds,
    estimator_options,
    new_inferencer,
    run,
    two_round,
)

from brian2modelfitting_sbi.backends.truncation import TruncatedPrior


def spread(inf, seed: int = 0) -> float:
    """Mean posterior std relative to the prior width (1/sqrt(12) ~ 0.29 for the prior)."""
    samples = inf.sample_array(300, seed=seed)
    return float(np.mean(samples.std(axis=0) / inf.space.width))


@pytest.mark.parametrize("backend", ["snle", "snre"])
def test_second_round_is_narrower(backend):
    inf, first = two_round(backend)
    second = spread(inf)
    assert len(inf.rounds) == 2
    assert second < 0.8 * first, (first, second)
    # round 2 was drawn from the round-1 posterior: far more concentrated than the prior box
    round2 = inf.theta[200:]
    assert np.all(round2.std(axis=0) / inf.space.width < 0.15)
    # both rounds are in the training data, none with a proposal (NLE/NRE need none)
    assert inf.backend.num_simulations == 400
    assert inf.proposals[0] is None and inf.proposals[1] is not None
    assert inf.rounds[0].from_prior and not inf.rounds[1].from_prior


def test_snpe_second_round_uses_the_proposal():
    inf = new_inferencer()
    run(inf, "snpe", 200, seed=5, n_rounds=2)
    # by default round 2 is drawn uniformly from a box around the round-1 posterior's
    # high-density region, and the estimator is trained afresh on every simulation inside the
    # box (round 2's and round 1's that fall in it), with the box as its prior
    proposal = inf.rounds[1].proposal
    assert isinstance(proposal, TruncatedPrior) and proposal.box
    low, high = inf.backend.region
    assert torch.equal(low, proposal.low) and torch.equal(high, proposal.high)
    theta = inf.space.to_torch(inf.theta)
    inside = torch.all((theta >= low) & (theta <= high), dim=-1)
    assert bool(inside[200:].all()) and int(inside[:200].sum()) < 200
    assert [n for n, _ in inf.backend.appended_rounds] == [int(inside.sum())]
    # its draws stay inside the box (the support of the zoomed estimator's prior)
    draws = inf.space.to_torch(inf.sample_array(300, seed=1))
    assert bool(torch.all((draws >= low - 1e-6) & (draws <= high + 1e-6)))
    truth = np.array([200e-12, 10e-9])  # C, gL (sorted names)
    mean = inf.sample_array(300, seed=0).mean(axis=0)
    assert np.all(np.abs(mean - truth) / inf.space.width < 0.1)


def test_infer_again_continues_and_restart_starts_over():
    inf = new_inferencer()
    inf.infer(
        100,
        backend="snpe",
        seed=1,
        progress=False,
        training=LEARNING,
        estimator_options=estimator_options("snpe"),
        **bounds(),
    )
    first_posterior, first_backend = inf.posterior, inf.backend
    # same bounds again (or none): a second round drawn from the current posterior
    inf.infer(100, backend="snpe", seed=1, progress=False)
    assert len(inf.rounds) == 2 and inf.theta.shape == (200, 2)
    assert inf.backend is first_backend and inf.posterior is not first_posterior
    assert inf.proposals[1].posterior is first_posterior  # truncated to its high-density region
    # the second round's seed differs from the first's: other draws
    assert not np.allclose(inf.theta[:100], inf.theta[100:])
    # restart=True without bounds keeps the box and forgets the rounds
    inf.infer(100, backend="snpe", seed=1, progress=False, restart=True)
    assert len(inf.rounds) == 1 and inf.theta.shape == (100, 2)
    assert inf.backend is not first_backend
    assert inf.proposals == [None]


def test_new_bounds_start_over():
    inf = new_inferencer()
    inf.simulate(20, seed=0, progress=False, **bounds())
    narrower = {**bounds(), "gL": [5 * bounds()["gL"][0], bounds()["gL"][1]]}
    inf.set_bounds(**narrower)
    assert inf.rounds == [] and inf.theta.shape == (0, 2)
    inf.set_bounds(**narrower)  # the same box again keeps data (there is none to lose here)
    assert inf.space.lower[1] == pytest.approx(5e-9)


def test_step_api_matches_infer():
    """simulate / train / build_posterior as separate calls give what infer gives."""
    steps = new_inferencer()
    theta, x = steps.simulate(100, seed=7, progress=False, **bounds())
    assert theta.shape == (100, 2) and x.shape == (100, len(steps.feature_names))
    with pytest.raises(RuntimeError, match="no trained backend"):
        steps.build_posterior()
    backend = steps.train(
        "snpe", seed=7, training=LEARNING, estimator_options=estimator_options("snpe")
    )
    assert backend is steps.backend and steps.posterior is None
    posterior = steps.build_posterior()
    assert posterior is steps.posterior

    whole = new_inferencer()
    whole.infer(
        100,
        backend="snpe",
        seed=7,
        progress=False,
        training=LEARNING,
        estimator_options=estimator_options("snpe"),
        **bounds(),
    )
    np.testing.assert_array_equal(steps.theta, whole.theta)
    np.testing.assert_array_equal(steps.sample_array(50, seed=1), whole.sample_array(50, seed=1))


@pytest.mark.parametrize("backend", ["snle", "snre"])
def test_results_of_unnormalized_posteriors(backend):
    """MAP and log density also work for SNLE/SNRE (log density up to a constant)."""
    inf, _ = two_round(backend)
    best = inf.best_params
    assert abs(best["C"] / pF - 200) < 30 and abs(best["gL"] / nS - 10) < 2
    near, far = inf.log_prob({"C": [200, 350] * pF, "gL": [10, 25] * nS})
    assert np.isfinite(near) and near > far


def test_a_zoomed_estimator_draws_raw_for_features_from_outside_its_box():
    # features simulated far outside the box: sbi's rejection at the box would never finish;
    # the raw draws come back at once, and they lie (mostly) outside the box
    from brian2modelfitting_sbi.posterior.batch import draw_batched

    inf, _ = two_round("snpe")
    low, high = inf.backend.region
    theta = inf.space.to_torch(inf.rounds[0].theta)
    far = ~torch.all((theta >= low - 0.2) & (theta <= high + 0.2), dim=-1)
    x = inf.x_to_torch(inf.rounds[0].x[far.numpy()][:5])
    draws = draw_batched(inf.posterior, x, 50, seed=0, threads=1, within_prior=False)
    assert draws.shape == (len(x), 50, 2)
    outside = ~torch.all((draws >= low) & (draws <= high), dim=-1)
    assert float(outside.float().mean()) > 0.5


def test_a_box_that_misses_the_posterior_falls_back_to_the_whole_prior(monkeypatch):
    # where the zoomed estimator puts most of its mass at the observation outside its box,
    # the box did not hold the posterior: the round is trained on every simulation with the
    # whole prior instead, and a warning says so
    from brian2modelfitting_sbi.backends.snpe import SNPEBackend

    monkeypatch.setattr(SNPEBackend, "box_mass", lambda self: 0.1)
    inf = new_inferencer()
    with pytest.warns(RuntimeWarning, match=r"10.0% of the zoomed estimator's draws.*does not "
                                            r"hold the posterior"):
        run(inf, "snpe", 150, seed=5, n_rounds=2)
    assert inf.backend.region is None
    assert [n for n, _ in inf.backend.appended_rounds] == [150, 150]
    assert inf.sample_array(50, seed=0).shape == (50, 2)
