"""Guards on the measured training and sampling defaults (see docs/benchmarks.rst)."""

from __future__ import annotations

import math

import pytest
import torch

from brian2modelfitting_sbi import training
from brian2modelfitting_sbi.backends.snre import NREBBackend
from brian2modelfitting_sbi.training import (
    MCMC_PARAMETERS,
    default_batch_size,
    default_learning_rate,
    default_max_epochs,
    default_patience,
    default_sampling_options,
    default_training_options,
    estimate_acceptance,
    resolve_auto_sampling,
    sampling_options,
    torch_threads,
)


@pytest.mark.parametrize(
    ("n", "x_dim", "batch"),
    [
        (100, 8, 200),  # never below the smallest batch...
        (1000, 8, 200),
        (5000, 8, 500),  # ...about ten steps per epoch in between...
        (10_000, 8, 1000),
        (200_000, 8, 1000),  # ...and never above the largest
        (10_000, 1000, 1000),
        (10_000, 2000, 500),  # wide x: computation-bound, smaller batches
        (10_000, 20_000, 200),
        (100, 20_000, 200),
    ],
)
def test_batch_size(n, x_dim, batch):
    assert default_batch_size(n, x_dim) == batch
    assert default_batch_size(n, x_dim, "SNPEBackend") == batch


@pytest.mark.parametrize("n", [100, 1000, 10_000, 100_000])
def test_snre_keeps_sbi_training_settings_with_an_epoch_cap(n):
    # NRE_B's contrastive atoms cost batch x batch (larger batches: slower epochs), and its
    # noisy validation loss needs sbi's patience; only the epoch cap is ours (NRE_B as sbi has
    # it), and SNRE's measured loss settings (25 atoms, patience 30) on top
    assert default_batch_size(n, 8, "SNREBackend") == 200
    sbi_settings = {
        "training_batch_size": 200,
        "learning_rate": 5e-4,
        "stop_after_epochs": 20,
        "max_num_epochs": default_max_epochs(n),
        "show_train_summary": False,
    }
    assert default_training_options(n, 8, NREBBackend) == sbi_settings
    assert default_training_options(n, 8, "SNREBackend") == {
        **sbi_settings, "stop_after_epochs": 30, "num_atoms": 25
    }


def test_learning_rate_scales_with_sqrt_of_batch():
    assert default_learning_rate(1000) == pytest.approx(2e-3)
    assert default_learning_rate(250) == pytest.approx(1e-3)
    assert default_learning_rate(200) == pytest.approx(2e-3 * math.sqrt(0.2))


@pytest.mark.parametrize(
    ("n", "patience"),
    [(500, 30), (1000, 30), (10_000, 30), (20_000, 17), (30_000, 12), (100_000, 12)],
)
def test_patience_is_a_number_of_gradient_steps(n, patience):
    # 300 steps without improvement, within 12-30 epochs (the default batch: ~10 steps/epoch)
    assert default_patience(n) == patience
    assert default_patience(20_000, batch_size=200) == 12  # 90 steps per epoch


@pytest.mark.parametrize(
    ("n", "cap"), [(1000, 1000), (5000, 1000), (10_000, 600), (30_000, 300), (100_000, 300)]
)
def test_epoch_cap(n, cap):
    assert default_max_epochs(n) == cap


def test_training_options_at_10k_simulations():
    assert default_training_options(10_000, 8) == {
        "training_batch_size": 1000,
        "learning_rate": pytest.approx(2e-3),
        "stop_after_epochs": 30,
        "max_num_epochs": 600,
        "show_train_summary": False,
    }


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_training_options_reject_bad_sizes(bad):
    with pytest.raises(ValueError, match="num_simulations"):
        default_training_options(bad, 8)
    with pytest.raises(ValueError, match="x_dim"):
        default_training_options(1000, bad)


def test_sampling_defaults():
    assert default_sampling_options("SNPEBackend") == {}
    for name in ("SNLEBackend", "SNREBackend"):
        options = default_sampling_options(name)
        assert options["sample_with"] == "auto"
        assert options["mcmc_method"] == "slice_np_vectorized"
        assert options["mcmc_parameters"] == {
            "num_chains": 20,
            "thin": 1,
            "warmup_steps": 50,
            "init_strategy": "resample",
        }
    # callers get a copy, the module constant stays as it is
    default_sampling_options("SNLEBackend")["mcmc_parameters"]["num_chains"] = 1
    assert MCMC_PARAMETERS["num_chains"] == 20
    assert training.MIN_REJECTION_ACCEPTANCE == 1e-3
    assert training.ACCEPTANCE_PILOT == 10_000


def test_estimate_acceptance():
    # all draws equally likely: every draw accepted but for the safety factor m
    assert estimate_acceptance(torch.zeros(100), m=1.25) == pytest.approx(0.8)
    # one draw carries all the mass; impossible (-inf) draws count as rejected
    log_ratio = torch.full((1000,), -torch.inf)
    log_ratio[3] = 5.0
    assert estimate_acceptance(log_ratio, m=1.0) == pytest.approx(1e-3)
    assert estimate_acceptance(torch.full((10,), -torch.inf)) == 0.0


def test_resolve_auto_sampling_keeps_only_the_chosen_settings():
    options = default_sampling_options("SNREBackend")
    options["rejection_sampling_parameters"] = {"m": 1.5}
    rejection = resolve_auto_sampling(options, acceptance=0.01)
    assert rejection == {"sample_with": "rejection", "rejection_sampling_parameters": {"m": 1.5}}
    mcmc = resolve_auto_sampling(options, acceptance=1e-4)
    assert mcmc["sample_with"] == "mcmc"
    assert mcmc["mcmc_parameters"] == MCMC_PARAMETERS
    assert "rejection_sampling_parameters" not in mcmc


def test_user_sampling_settings_win_and_select_their_method():
    assert sampling_options("SNLEBackend")["sample_with"] == "auto"
    chains = {"num_chains": 3}
    mcmc = sampling_options("SNREBackend", {"mcmc_parameters": chains})
    assert mcmc["sample_with"] == "mcmc"
    assert mcmc["mcmc_parameters"] == chains
    rejection = sampling_options("SNLEBackend", {"rejection_sampling_parameters": {"m": 2.0}})
    assert rejection == {
        "sample_with": "rejection",
        "rejection_sampling_parameters": {"m": 2.0},
    }
    forced = sampling_options("SNLEBackend", {"sample_with": "importance"})
    assert forced == {"sample_with": "importance"}
    assert sampling_options("SNPEBackend", {"sample_with": "direct"}) == {"sample_with": "direct"}


def test_torch_threads_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
