"""SNPE: neural posterior estimation (sbi's ``NPE_C``, automatic posterior transformation)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from ._sbi import SbiBackend
from .base import SavedRound
from .truncation import DEFAULT_QUANTILE, TruncatedPrior, inside_box, raw_draws

#: How later rounds are drawn and trained (``training={'multi_round': ...}``):
#: ``'truncated'``: TSNPE, the prior truncated to a box around the posterior's
#: highest-density region, each round's estimator trained afresh on the simulations inside
#: its box with the box as its prior; ``'combined'``: draws from the posterior, sbi's
#: atomic loss plus the maximum-likelihood loss on the prior draws; ``'atomic'``: draws from
#: the posterior, sbi's own default loss.
MULTI_ROUND = ("truncated", "combined", "atomic")
#: The default (measured, see docs/guide/multiround.rst).
DEFAULT_MULTI_ROUND = "truncated"
#: Least fraction of a zoomed estimator's raw draws at the observation that must fall inside
#: its box; below it the box did not hold the posterior (the observation is unlike the
#: simulations, or the previous round was overconfident), and the round is trained on all
#: simulations with the whole prior instead, with a warning.
MIN_BOX_MASS = 0.5
#: Raw draws that estimate that fraction.
BOX_MASS_DRAWS = 2000
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

    In the truncated mode with a box prior, a round drawn from a truncated prior sets the
    backend's :attr:`region` (the box, in the estimator's coordinates); training then builds a
    fresh estimator on every simulation of every round inside the region, with the uniform
    prior on the region as its prior. Its posterior is the posterior restricted to the
    region, i.e. the posterior itself when the region holds all of its mass, and the network's
    resolution (and its z-scoring) is spent on the region, not on the whole prior: on the
    bundled HH recording, four rounds of 1,000 gave a g_na width within 0.9-1.7 times the
    data's own (measured with 20,000 simulations in a box around the posterior), where one
    round of 20,000 from the prior was 15 times wider (``benchmarks/bench_noise_width.py``).

    Parameters
    ----------
    prior : torch.distributions.Distribution
        The prior in the estimator's coordinates.
    device : str
        Torch device for training.
    region : dict, optional
        ``{'low': [...], 'high': [...]}``: the box of the last truncated round (what
        :meth:`config` saves, so that a loaded posterior keeps its support).
    **options
        As for :class:`~brian2modelfitting_sbi.backends._sbi.SbiBackend`.
    """

    description: ClassVar[str] = (
        "Sequential neural posterior estimation (sbi NPE_C); direct, amortized sampling"
    )
    amortized: ClassVar[bool] = True
    trainer_name: ClassVar[str] = "NPE_C"
    builder_name: ClassVar[str] = "posterior_nn"
    default_estimator: ClassVar[str] = "maf"

    def __init__(
        self,
        prior: torch.distributions.Distribution,
        device: str = "cpu",
        *,
        region: Mapping[str, Sequence[float]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(prior, device, **options)
        #: ``(low, high)`` of the last truncated round's box, or None (the whole prior).
        self.region: tuple[Tensor, Tensor] | None = None
        if region is not None:
            self.region = (torch.as_tensor(region["low"], dtype=torch.float32),
                           torch.as_tensor(region["high"], dtype=torch.float32))
        self._rounds: list[tuple[Tensor, Tensor]] = []
        self._x_o: Tensor | None = None

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

    def append_simulations(self, theta: Tensor, x: Tensor, proposal: Any = None) -> None:
        """Add one round; a round drawn from a truncated box prior sets :attr:`region`."""
        self._rounds.append((theta, x))
        if (self.multi_round_mode == "truncated" and isinstance(proposal, TruncatedPrior)
                and proposal.box):
            self.region = (proposal.low.detach().clone(), proposal.high.detach().clone())
            self._x_o = getattr(proposal.posterior, "default_x", None)
        super().append_simulations(theta, x, proposal)

    def _inside(self, rounds: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """The simulations of ``rounds`` whose parameters lie inside :attr:`region` (at least
        two, else a RuntimeError)."""
        theta = torch.cat([t for t, _ in rounds])
        x = torch.cat([x for _, x in rounds])
        keep = inside_box(theta, *self.region)
        if int(keep.sum()) < 2:
            raise RuntimeError(
                f"truncated rounds: {int(keep.sum())} simulations inside the region to train "
                f"on; simulate more in the next round"
            )
        return theta[keep], x[keep]

    def _region_trainer(self) -> Any:
        """A fresh trainer whose prior is the uniform prior on :attr:`region`."""
        from sbi.utils import BoxUniform

        low, high = self.region
        return self._make_trainer(BoxUniform(low, high, device=self.device))

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
        self.training = self._sbi_training(mode)
        zoomed = mode == "truncated" and self.region is not None
        if zoomed:
            # a fresh estimator on the simulations inside the region, the region its prior
            theta, x = self._inside(self._rounds)
            self.trainer = self._region_trainer()
            self.trainer.append_simulations(theta, x)
        try:
            super().train()
            mass = self.box_mass() if zoomed else None
            if mass is not None and mass < MIN_BOX_MASS:
                warnings.warn(
                    f"truncated rounds: only {mass:.1%} of the zoomed estimator's draws at the "
                    f"observation fall inside its box, which therefore does not hold the "
                    f"posterior (an observation unlike every simulation, or an overconfident "
                    f"previous round); trained on all {sum(len(t) for t, _ in self._rounds)} "
                    f"simulations with the whole prior instead. Check with trust_report()",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._train_unzoomed()
        finally:
            self.training = user
        self.last_training = {"multi_round": mode, **self.last_training}

    def _sbi_training(self, mode: str) -> dict[str, Any]:
        """The user's training settings as sbi's ``train`` takes them in ``mode``: our own
        keys out, the mode's loss in (the truncated mode's maximum-likelihood loss has no
        atoms and nothing to combine)."""
        settings = {**_LOSS[mode], **{k: v for k, v in self.training.items()
                                        if k not in OWN_KEYS}}
        if mode == "truncated":
            for key in ("use_combined_loss", "num_atoms"):
                settings.pop(key, None)
        return settings

    def _train_unzoomed(self) -> None:
        """Train on every round with the whole prior (the rounds are prior-distributed inside
        nested boxes: the maximum-likelihood loss), forgetting the region."""
        self.region = None
        self.trainer = self._make_trainer()
        for theta, x in self._rounds:
            self.trainer.append_simulations(theta, x)
        super().train()

    def unzoom(self) -> None:
        """Retrain on every round with the whole prior (what a failed zoom falls back to; an
        ensemble asks its members to agree)."""
        if self.region is None:
            return
        user = self.training
        self.training = self._sbi_training("truncated")
        try:
            self._train_unzoomed()
        finally:
            self.training = user

    def box_mass(self) -> float | None:
        """Fraction of the estimator's raw draws at the observation inside :attr:`region`
        (None without a region or an observation)."""
        if self.region is None or self._x_o is None or self.density_estimator is None:
            return None
        posterior = self.trainer.build_posterior(self.density_estimator).set_default_x(self._x_o)
        with torch.no_grad():
            raw = raw_draws(posterior, BOX_MASS_DRAWS)
        return float(inside_box(raw, *self.region).float().mean())

    def config(self) -> dict[str, Any]:
        """As for the other sbi backends, plus the ``region`` of a truncated round."""
        config = super().config()
        if self.region is not None:
            config["region"] = {"low": self.region[0].tolist(), "high": self.region[1].tolist()}
        return config

    def restore(
        self, state: dict[str, Tensor], rounds: Sequence[SavedRound], x_o: Tensor
    ) -> Any:
        """As for the other sbi backends; with a saved :attr:`region`, the network is rebuilt
        on the simulations inside it, with the region as its prior."""
        if self.region is None:
            return super().restore(state, rounds, x_o)
        every = [(r.theta, r.x) for r in rounds if len(r.theta)]
        theta, x = self._inside(every)
        self.trainer = self._region_trainer()
        posterior = super().restore(state, [SavedRound(theta, x, True)], x_o)
        self._rounds = every
        return posterior
