"""Ensembles of estimators (``ensemble=k``): the mixture of k networks trained with k seeds."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from brian2 import nS, pF
from workflow_support import new_inferencer, run, trained_snpe

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.backends.ensemble import EnsembleBackend


@functools.cache
def trained_ensemble() -> Inferencer:
    """Three SNPE networks on the same 300 simulations as ``trained_snpe`` (read-only)."""
    inf = new_inferencer()
    run(inf, "snpe", 300, seed=3, ensemble=3)
    return inf


def test_members_are_trained_on_the_same_simulations_with_different_seeds():
    inf, single = trained_ensemble(), trained_snpe()
    backend = inf.backend
    assert isinstance(backend, EnsembleBackend) and len(backend.members) == 3
    np.testing.assert_array_equal(inf.theta, single.theta)  # same simulations
    first = [m.state() for m in backend.members]
    key = next(iter(first[0]))
    assert not torch.equal(first[0][key], first[1][key])  # different networks
    # the mixture's draws are shuffled: no block of one member first
    draws = inf.sample_array(400, seed=1)
    assert draws.shape == (400, 2)
    assert inf.backend.amortized and inf.backend.multi_round


def test_the_mixture_is_at_least_as_wide_as_its_narrowest_member():
    inf = trained_ensemble()
    x_o = inf.x_to_torch(inf.x_o)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        member_std = [m.build_posterior(x_o).sample((2000,), show_progress_bars=False).std(0)
                      for m in inf.backend.members]
        mixture = inf.posterior.sample((6000,), show_progress_bars=False).std(0)
    assert torch.all(mixture >= torch.stack(member_std).min(0).values * 0.95)


def test_save_load_gives_the_same_ensemble_samples(tmp_path):
    inf = trained_ensemble()
    path = tmp_path / "ensemble.zip"
    inf.save(path)
    loaded = Inferencer.load(path)
    assert isinstance(loaded.backend, EnsembleBackend) and len(loaded.backend.members) == 3
    np.testing.assert_allclose(loaded.sample_array(300, seed=4), inf.sample_array(300, seed=4))
    assert loaded.log_prob({"C": 200 * pF, "gL": 10 * nS}) == pytest.approx(
        inf.log_prob({"C": 200 * pF, "gL": 10 * nS}), abs=1e-4
    )


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3"])
def test_a_bad_ensemble_size_is_refused_before_simulating(bad):
    inf = new_inferencer()
    with pytest.raises(ProblemError, match="ensemble: expected the number of estimators"):
        inf.infer(100, ensemble=bad, progress=False, gL=[1 * nS, 30 * nS], C=[50 * pF, 400 * pF])
    assert len(inf.rounds) == 0


def test_members_stuck_on_a_plateau_are_left_out():
    from brian2modelfitting_sbi.backends.ensemble import LOSS_MARGIN, kept_members

    # measured on the bundled HH recording: three good trainings and one stuck 2 nats worse
    assert kept_members([-6.41, -6.72, -6.10, -3.94]) == [0, 1, 2]
    assert kept_members([-6.0, -6.0 + LOSS_MARGIN]) == [0, 1]
    assert kept_members([-6.0, None]) == [0, 1]  # a member without a loss: nothing to judge
    inf = trained_ensemble()
    assert inf.backend.kept == kept_members(inf.backend.validation_losses)
    assert 1 <= len(inf.backend.kept) <= 3


def test_batched_draws_mix_the_members():
    inf = trained_ensemble()
    xs = inf.x_to_torch(np.repeat(np.atleast_2d(inf.x_o), 2, axis=0))
    torch.manual_seed(0)
    draws = inf.posterior.sample_batched((300,), x=xs, show_progress_bars=False)
    assert draws.shape == (300, 2, 2)
    members = [inf.backend.members[i].build_posterior(xs[:1]) for i in inf.backend.kept]
    if len(members) > 1:
        # the first third of the draws is not one member's block: its spread is the mixture's
        first = draws[:100, 0].std(0)
        assert torch.all(first > 0.5 * draws[:, 0].std(0))


def test_the_trust_report_trains_a_second_ensemble_for_agreement():
    inf = trained_ensemble()
    report = inf.trust_report(n_predictive=20, n_local=10, n_local_draws=50, n_draws=100,
                              verbose=False)
    assert report["estimator agreement"].verdict in ("pass", "warn", "fail")
    assert report["estimator agreement"].value is not None


@pytest.mark.slow
def test_an_ensemble_runs_two_truncated_rounds():
    from brian2modelfitting_sbi.backends.truncation import TruncatedPrior

    inf = new_inferencer()
    run(inf, "snpe", 200, seed=5, ensemble=2, n_rounds=2)
    assert isinstance(inf.rounds[1].proposal, TruncatedPrior)
    assert inf.sample_array(100, seed=0).shape == (100, 2)
