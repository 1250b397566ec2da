"""SNRE: neural ratio estimation, sampled by rejection from the prior or with MCMC.

sbi 0.27 has three ratio estimators, all selectable here as backend classes (pass the class as
``backend=``; ``'snre'`` is :class:`SNREBackend`):

- :class:`NREBBackend`: ``NRE_B``, the contrastive (multi-class) loss over ``num_atoms``
  parameter sets per x (Durkan et al. 2020); ``training={'num_atoms': ...}``.
- :class:`BNREBackend`: ``BNRE``, binary NRE with a balancing penalty that makes the
  posterior conservative, never overconfident (Delaunoy et al. 2022);
  ``training={'regularization_strength': ...}``.
- :class:`NRECBackend`: ``NRE_C``, the contrastive loss with an extra class for marginal
  pairs, which makes the ratio exact (normalized) at the optimum (Miller et al. 2022);
  ``training={'num_classes': ..., 'gamma': ...}``.

:class:`SNREBackend` is ``NRE_B`` with the settings chosen on the validation benchmark
(:data:`~brian2modelfitting_sbi.backends.defaults.SNRE_LOSS_DEFAULTS`; see
``docs/benchmarks.rst`` and the backends guide).
"""

from __future__ import annotations

from typing import ClassVar

from ._sbi import SbiBackend
from .defaults import SNRE_LOSS_DEFAULTS


class NREBBackend(SbiBackend):
    """Neural ratio estimation with sbi's ``NRE_B`` (contrastive loss)."""

    description: ClassVar[str] = (
        "Sequential neural ratio estimation (sbi NRE_B); rejection or MCMC sampling"
    )
    trainer_name: ClassVar[str] = "NRE_B"
    builder_name: ClassVar[str] = "classifier_nn"
    trainer_argument: ClassVar[str] = "classifier"
    default_estimator: ClassVar[str] = "resnet"
    embedding_argument: ClassVar[str | None] = "embedding_net_x"
    training_defaults: ClassVar[str] = "sbi"
    sampling_defaults: ClassVar[str] = "auto"


class BNREBackend(NREBBackend):
    """Balanced neural ratio estimation with sbi's ``BNRE`` (conservative posteriors)."""

    description: ClassVar[str] = (
        "Balanced neural ratio estimation (sbi BNRE); rejection or MCMC sampling"
    )
    trainer_name: ClassVar[str] = "BNRE"


class NRECBackend(NREBBackend):
    """Neural ratio estimation with sbi's ``NRE_C`` (contrastive loss with marginal class)."""

    description: ClassVar[str] = (
        "Contrastive neural ratio estimation (sbi NRE_C); rejection or MCMC sampling"
    )
    trainer_name: ClassVar[str] = "NRE_C"


class SNREBackend(NREBBackend):
    """Neural ratio estimation, the variant chosen on the validation benchmark (``'snre'``).

    sbi's ``NRE_B`` with 25 contrastive atoms and a patience of 30 epochs
    (:data:`~brian2modelfitting_sbi.backends.defaults.SNRE_LOSS_DEFAULTS`;
    ``training=`` overrides them).
    """

    description: ClassVar[str] = (
        "Sequential neural ratio estimation (sbi NRE_B, 25 atoms); rejection or MCMC sampling"
    )
    trainer_name: ClassVar[str] = "NRE_B"
    loss_defaults: ClassVar[dict] = SNRE_LOSS_DEFAULTS


#: The ratio backends by short name (for benchmarks and docs).
VARIANTS: dict[str, type[SbiBackend]] = {
    "snre": SNREBackend,
    "nre_b": NREBBackend,
    "bnre": BNREBackend,
    "nre_c": NRECBackend,
}
