"""The ratio-estimator variants (NRE_B, BNRE, NRE_C): each trains its sbi trainer with the
SNRE defaults, samples, and takes its own loss settings."""

from __future__ import annotations

import pytest
import torch
from sbi.utils import BoxUniform

from brian2modelfitting_sbi import get_backend
from brian2modelfitting_sbi.backends.snre import (
    VARIANTS,
    BNREBackend,
    NREBBackend,
    NRECBackend,
    SNREBackend,
)
from brian2modelfitting_sbi.training import default_training_options


def _trained(cls, **training):
    torch.manual_seed(0)
    prior = BoxUniform(torch.zeros(2), torch.ones(2))
    theta = prior.sample((300,))
    x = theta + 0.1 * torch.randn(300, 2)
    backend = cls(prior, "cpu", estimator_options={"hidden_features": 10},
                  training={"max_num_epochs": 3, **training})
    backend.append_simulations(theta, x)
    backend.train()
    return backend


@pytest.mark.parametrize(
    "cls, trainer, loss",
    [
        (NREBBackend, "NRE_B", {"num_atoms": 5}),
        (BNREBackend, "BNRE", {"regularization_strength": 10.0}),
        (NRECBackend, "NRE_C", {"num_classes": 3, "gamma": 0.5}),
    ],
)
def test_variant_trains_its_trainer_and_samples(cls, trainer, loss):
    backend = _trained(cls, **loss)
    assert type(backend.trainer).__name__ == trainer
    assert backend.last_training["training_batch_size"] == 200  # sbi's batch, as for SNRE
    for key, value in loss.items():
        assert backend.last_training[key] == value
    assert backend.last_training["stop_after_epochs"] == 20  # sbi's: only SNRE changes it
    posterior = backend.build_posterior(torch.tensor([[0.5, 0.5]]))
    assert backend.last_sampling["sample_with"] in ("rejection", "mcmc")
    assert posterior.sample((10,), show_progress_bars=False).shape == (10, 2)


def test_snre_uses_its_measured_loss_settings_and_the_user_wins():
    backend = _trained(SNREBackend)
    assert backend.last_training["num_atoms"] == 25
    assert backend.last_training["stop_after_epochs"] == 30
    backend = _trained(SNREBackend, num_atoms=4)
    assert backend.last_training["num_atoms"] == 4


def test_snre_is_one_of_the_variants_and_registered():
    assert get_backend("snre") is SNREBackend is VARIANTS["snre"]
    assert issubclass(SNREBackend, NREBBackend)
    assert SNREBackend.trainer_name in {"NRE_B", "BNRE", "NRE_C"}
    for name, cls in (("nre_b", NREBBackend), ("bnre", BNREBackend), ("nre_c", NRECBackend)):
        assert get_backend(name) is cls  # entry points
        # declared on the class (inherited): sbi's batch, rate and patience, no loss settings
        options = default_training_options(1000, 8, cls)
        assert options == default_training_options(1000, 8, NREBBackend)
        assert "num_atoms" not in options and options["stop_after_epochs"] == 20
    snre = default_training_options(1000, 8, SNREBackend)
    assert snre == default_training_options(1000, 8, "SNREBackend")  # the legacy spelling
    assert snre["num_atoms"] == 25 and snre["stop_after_epochs"] == 30
