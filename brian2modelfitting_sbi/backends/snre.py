"""SNRE: neural ratio estimation (sbi's ``NRE_B``, contrastive), sampled with MCMC."""

from __future__ import annotations

from typing import ClassVar

from ._sbi import SbiBackend


class SNREBackend(SbiBackend):
    """Neural ratio estimation (NRE-B); the posterior is sampled with MCMC."""

    description: ClassVar[str] = (
        "Sequential neural ratio estimation (sbi NRE_B); MCMC sampling per observation"
    )
    trainer_name: ClassVar[str] = "NRE_B"
    builder_name: ClassVar[str] = "classifier_nn"
    trainer_argument: ClassVar[str] = "classifier"
    default_estimator: ClassVar[str] = "resnet"
    embedding_argument: ClassVar[str | None] = "embedding_net_x"
    training_defaults: ClassVar[str] = "sbi"
    sampling_defaults: ClassVar[str] = "auto"
