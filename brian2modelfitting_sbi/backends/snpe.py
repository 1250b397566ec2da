"""SNPE: neural posterior estimation (sbi's ``NPE_C``, automatic posterior transformation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._sbi import SbiBackend
from .truncation import DEFAULT_QUANTILE, TruncatedPrior

#: How later rounds are drawn and trained (``training={'multi_round': ...}``):
#: ``'truncated'``: TSNPE, the prior truncated to the posterior's highest-density region,
#: maximum-likelihood loss on all rounds; ``'combined'``: draws from the posterior, sbi's
#: atomic loss plus the maximum-likelihood loss on the prior draws; ``'atomic'``: draws from
#: the posterior, sbi's own default loss.
MULTI_ROUND = ("truncated", "combined", "atomic")
#: The default (measured, see docs/guide/multiround.rst).
DEFAULT_MULTI_ROUND = "truncated"
#: Our training keys, not sbi's.
OWN_KEYS = ("multi_round", "truncation_quantile")
_LOSS = {
    "truncated": {"force_first_round_loss": True},
    "combined": {"use_combined_loss": True},
    "atomic": {},
}


class SNPEBackend(SbiBackend):
    """Neural posterior estimation (NPE-C / APT); amortized when single-round.

    Later rounds follow ``training['multi_round']`` (:data:`MULTI_ROUND`, default
    :data:`DEFAULT_MULTI_ROUND`); ``training['truncation_quantile']`` is the posterior mass
    a truncated proposal leaves out (default 1e-4).
    """

    description: ClassVar[str] = (
        "Sequential neural posterior estimation (sbi NPE_C); direct, amortized sampling"
    )
    amortized: ClassVar[bool] = True
    trainer_name: ClassVar[str] = "NPE_C"
    builder_name: ClassVar[str] = "posterior_nn"
    default_estimator: ClassVar[str] = "maf"

    @staticmethod
    def mode_of(training: Mapping[str, Any] | None) -> str:
        """The multi-round mode of a ``training`` dict: its ``multi_round``; without one,
        sbi's loss settings given as in sbi (``use_combined_loss``, ``num_atoms``) choose the
        posterior-proposal modes, as they did before truncation was the default."""
        training = training or {}
        if "multi_round" in training:
            return training["multi_round"]
        if "use_combined_loss" in training:
            return "combined" if training["use_combined_loss"] else "atomic"
        if "num_atoms" in training:
            return "combined"
        return DEFAULT_MULTI_ROUND

    @classmethod
    def check_training(cls, training: Mapping[str, Any] | None) -> None:
        """Refuse a ``multi_round`` or ``truncation_quantile`` it does not know, before
        anything runs."""
        training = training or {}
        mode = cls.mode_of(training)
        if mode not in MULTI_ROUND:
            raise ValueError(
                f"training['multi_round']: expected one of {list(MULTI_ROUND)}, got {mode!r}"
            )
        q = training.get("truncation_quantile", DEFAULT_QUANTILE)
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
            raise ValueError(
                f"training['truncation_quantile']: expected a number in (0, 1), got {q!r}"
            )

    @property
    def multi_round_mode(self) -> str:
        """How later rounds are drawn and trained (one of :data:`MULTI_ROUND`; the class's
        ``multi_round`` capability flag stays the base class's ``True``)."""
        return self.mode_of(self.training)

    def proposal(self, posterior: Any) -> Any:
        """What the next round draws from.

        In the truncated mode, a
        :class:`~brian2modelfitting_sbi.backends.truncation.TruncatedPrior` of ``posterior``;
        otherwise the posterior itself.
        """
        if self.multi_round_mode != "truncated":
            return posterior
        quantile = self.training.get("truncation_quantile", DEFAULT_QUANTILE)
        return TruncatedPrior(self.trainer._prior, posterior, quantile)

    def _proposal_kwargs(self, proposal: Any) -> dict[str, Any]:
        if proposal is None:
            return {}
        if self.multi_round_mode == "truncated":
            # sbi counts draws from a RestrictedPrior of its prior as first-round data
            from sbi.utils import RestrictedPrior

            accepts = proposal.accepts if isinstance(proposal, TruncatedPrior) else None
            return {"proposal": RestrictedPrior(self.trainer._prior, accepts)}
        if isinstance(proposal, TruncatedPrior):  # NPE_C's atomic loss takes any proposal
            proposal = proposal.posterior
        return {"proposal": proposal}

    def train(self) -> None:
        """Train; later rounds as :attr:`multi_round_mode` says.

        With the atomic loss alone, the posterior leaks mass out of the box prior and widens
        round after round (passive membrane, 3 rounds of 1000: 0.017, 0.028, 0.038 of the prior
        width; with the combined loss 0.017, 0.007, 0.009; benchmarks/bench_workflow_rounds.py).
        The truncated proposals train with the maximum-likelihood loss, about ten times
        cheaper per sample than the atomic loss (benchmarks/bench_multiround.py).
        """
        self.check_training(self.training)
        user = self.training
        mode = self.multi_round_mode
        sbi_settings = {k: v for k, v in user.items() if k not in OWN_KEYS}
        self.training = {**_LOSS[mode], **sbi_settings}
        if mode == "truncated":  # the maximum-likelihood loss: no atoms, nothing to combine
            for key in ("use_combined_loss", "num_atoms"):
                self.training.pop(key, None)
        try:
            super().train()
        finally:
            self.training = user
        self.last_training = {"multi_round": mode, **self.last_training}
