"""SNLE: neural likelihood estimation (sbi's ``NLE_A``), sampled with MCMC."""

from __future__ import annotations

from typing import ClassVar

from ._sbi import SbiBackend


class SNLEBackend(SbiBackend):
    """Neural likelihood estimation (NLE-A); the posterior is sampled with MCMC."""

    description: ClassVar[str] = (
        "Sequential neural likelihood estimation (sbi NLE_A); MCMC sampling per observation"
    )
    trainer_name: ClassVar[str] = "NLE_A"
    builder_name: ClassVar[str] = "likelihood_nn"
    default_estimator: ClassVar[str] = "maf"
    # likelihood_nn's embedding net embeds theta, not x: raw traces are not supported.
    embedding_argument: ClassVar[str | None] = None
    embeds_x: ClassVar[bool] = False
    sampling_defaults: ClassVar[str] = "auto"
