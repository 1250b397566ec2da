"""The backends use the measured defaults, user settings win, and device= reaches torch."""

from __future__ import annotations

import pytest
import torch
from conftest import FAST_ESTIMATOR, fitter_args, window_features
from sbi.inference.posteriors import MCMCPosterior, RejectionPosterior
from sbi.utils import BoxUniform

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.backends import defaults as training
from brian2modelfitting_sbi.backends.snle import SNLEBackend
from brian2modelfitting_sbi.backends.snpe import SNPEBackend
from brian2modelfitting_sbi.backends.snre import SNREBackend
from brian2modelfitting_sbi.training import default_batch_size


def _toy(n: int = 300, seed: int = 0) -> tuple:
    """theta uniform on the unit square, x = theta + small noise: a narrow posterior."""
    torch.manual_seed(seed)
    prior = BoxUniform(torch.zeros(2), torch.ones(2))
    theta = prior.sample((n,))
    return prior, theta, theta + 0.1 * torch.randn(n, 2)


def _trained(cls, **options):
    prior, theta, x = _toy()
    backend = cls(prior, "cpu", training={"max_num_epochs": 3}, **options)
    backend.append_simulations(theta, x)
    backend.train()
    return backend


def test_training_uses_defaults_and_user_values_win():
    backend = _trained(SNREBackend, estimator_options={"hidden_features": 10})
    options = backend.last_training
    assert options["max_num_epochs"] == 3  # the user's
    assert options["training_batch_size"] == default_batch_size(300, 2, "SNREBackend") == 200
    assert options["stop_after_epochs"] == 30  # SNRE's measured patience, sbi's rate
    assert options["num_atoms"] == 25
    assert options["learning_rate"] == pytest.approx(5e-4)
    # sbi trained with those settings: 3 + 1 epochs at most
    assert backend.trainer.summary["epochs_trained"][-1] <= 4


def test_auto_sampling_picks_rejection_for_a_wide_posterior():
    backend = _trained(SNREBackend, estimator_options={"hidden_features": 10})
    posterior = backend.build_posterior(torch.tensor([[0.5, 0.5]]))
    assert isinstance(posterior, RejectionPosterior)
    assert backend.last_sampling["sample_with"] == "rejection"
    assert backend.last_sampling["estimated_acceptance"] >= training.MIN_REJECTION_ACCEPTANCE
    assert "mcmc_parameters" not in backend.last_sampling
    assert posterior.sample((20,), show_progress_bars=False).shape == (20, 2)


def test_auto_sampling_falls_back_to_mcmc(monkeypatch):
    monkeypatch.setattr(training, "MIN_REJECTION_ACCEPTANCE", 2.0)  # nothing qualifies
    backend = _trained(SNLEBackend, estimator_options=FAST_ESTIMATOR)
    posterior = backend.build_posterior(torch.tensor([[0.5, 0.5]]))
    assert isinstance(posterior, MCMCPosterior)
    assert posterior.num_chains == training.MCMC_PARAMETERS["num_chains"]
    assert posterior.warmup_steps == training.MCMC_PARAMETERS["warmup_steps"]
    assert backend.last_sampling["estimated_acceptance"] < 2.0


def test_user_sampling_wins():
    backend = _trained(
        SNLEBackend,
        estimator_options=FAST_ESTIMATOR,
        sampling={"sample_with": "mcmc", "mcmc_parameters": {"num_chains": 3}},
    )
    posterior = backend.build_posterior(torch.tensor([[0.5, 0.5]]))
    assert isinstance(posterior, MCMCPosterior)
    assert posterior.num_chains == 3
    assert "estimated_acceptance" not in backend.last_sampling


def test_device_reaches_the_sbi_trainer():
    prior, _, _ = _toy()
    backend = SNPEBackend(prior, "cpu")
    assert backend.device == "cpu"
    # an unknown device is refused by torch/sbi, so the string is really passed on
    with pytest.raises(RuntimeError, match="tpu"):
        SNPEBackend(prior, "tpu")


def test_infer_trains_with_the_defaults_on_cpu(passive):
    inferencer = Inferencer(**fitter_args(passive), features=window_features())
    inferencer.infer(
        300,
        backend="snpe",
        seed=1,
        progress=False,
        device="cpu",
        estimator_options=FAST_ESTIMATOR,
        training={"max_num_epochs": 5},
        **passive["bounds"],
    )
    backend = inferencer.backend
    assert backend.device == "cpu"
    assert {p.device.type for p in backend.density_estimator.parameters()} == {"cpu"}
    n_valid = len(inferencer.theta)
    expected = training.default_training_options(
        n_valid, inferencer.x_o.shape[1], "SNPEBackend"
    )
    expected["max_num_epochs"] = 5
    # the backend may add its own settings (SNPE: use_combined_loss); ours are all there
    assert {k: backend.last_training[k] for k in expected} == expected
