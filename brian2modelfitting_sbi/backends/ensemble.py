"""An ensemble of one backend kind: several estimators trained with different seeds.

One neural estimator trained on a few thousand simulations depends on its training seed: on
the bundled Hodgkin–Huxley recording the posterior std of ``g_na`` from one network varied by
a factor of two between seeds at 4,000 and at 20,000 simulations
(``benchmarks/bench_noise_width.py``). The equal-weight mixture of ``k`` networks trained on
the same simulations (Lakshminarayanan et al. 2017's deep ensembles, as sbi's
``EnsemblePosterior`` implements them) averages that variation out and, where single
networks are overconfident, widens the posterior towards the truth.

A training can also get stuck: on that recording one seed in four stopped on a plateau with a
validation loss about 2 nats per simulation worse than the others and a posterior nearly as
wide as the prior (``g_na`` std 7-9 µS against 0.7-1.5 µS). An equal mixture would inherit
it, so members whose best validation loss is more than :data:`LOSS_MARGIN` worse than the
best member's are left out of the posterior (a warning names them; they stay saved).

The ensemble wraps any backend class (this package's or a plugin's): each member is a full
backend, trained on the same rounds with its own seed. It is what ``ensemble=k`` of
:meth:`Inferencer.infer <brian2modelfitting_sbi.Inferencer.infer>` builds; saving stores the
members' settings once and each member's weights under its index.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from sbi.inference.posteriors.ensemble_posterior import EnsemblePosterior
from torch import Tensor

from .base import InferenceBackend, SavedRound

__all__ = [
    "LOSS_MARGIN", "EnsembleBackend", "ShuffledEnsemblePosterior", "ensemble_size", "kept_members",
    "make_backend", "member_kind", "validation_loss",
]

#: Seed offset between members (member i trains with ``seed + i * SEED_STRIDE``).
SEED_STRIDE = 7919
#: Members whose best validation loss (mean negative log density per validation simulation,
#: in nats) exceeds the best member's by more than this are left out of the posterior.
LOSS_MARGIN = 1.0


def validation_loss(backend: Any) -> float | None:
    """The best validation loss of ``backend``'s last training (None if it has none)."""
    summary = getattr(getattr(backend, "trainer", None), "summary", None) or {}
    losses = summary.get("best_validation_loss") or []
    return float(losses[-1]) if losses else None


def kept_members(losses: Sequence[float | None], margin: float = LOSS_MARGIN) -> list[int]:
    """Indices of the members within ``margin`` of the best validation loss (all of them if
    a loss is missing)."""
    if any(loss is None for loss in losses):
        return list(range(len(losses)))
    best = min(losses)
    return [i for i, loss in enumerate(losses) if loss <= best + margin]


def member_kind(backend: Any) -> type | None:
    """The backend class of ``backend`` (of its members for an ensemble; None for None)."""
    if backend is None:
        return None
    return backend.member_class if isinstance(backend, EnsembleBackend) else type(backend)


def make_backend(member_class: type, prior: torch.distributions.Distribution, device: str,
                 ensemble: Mapping[str, Any] | None = None, **options: Any) -> InferenceBackend:
    """A fresh ``member_class`` backend, or an ensemble when ``ensemble`` (``size`` >= 2,
    ``seed``, ``kept``: what :meth:`EnsembleBackend.config` saves) says so."""
    ensemble = dict(ensemble or {})
    size = int(ensemble.pop("size", 1))
    if size == 1:
        return member_class(prior, device, **options)
    return EnsembleBackend(member_class, size, prior, device, **ensemble, **options)


def ensemble_size(backend: Any) -> int:
    """Number of estimators of ``backend`` (1 for a plain backend)."""
    return backend.size if isinstance(backend, EnsembleBackend) else 1


class ShuffledEnsemblePosterior(EnsemblePosterior):
    """sbi's ``EnsemblePosterior`` with its draws in random order.

    sbi returns the draws of an ensemble grouped by member; code that takes the first ``n``
    draws (predictive checks, trust reports) must see a sample of the mixture, so the draws
    are permuted (with torch's generator, so a seed still fixes them), in ``sample_batched``
    along the draws of each observation. ``map`` takes (and
    ignores) ``force_update`` like the members' posteriors. Everything else is sbi's.
    """

    def sample(
        self, sample_shape: Any = (), x: Tensor | None = None, **kwargs: Any
    ) -> Tensor:
        """Draws of the mixture (sbi's), in random order."""
        draws = super().sample(sample_shape, x=x, **kwargs)
        flat = draws.reshape(-1, draws.shape[-1])
        return flat[torch.randperm(len(flat))].reshape(draws.shape)

    def sample_batched(
        self, sample_shape: Any, x: Tensor, **kwargs: Any
    ) -> Tensor:
        """Draws ``(n, batch, d)`` of the mixture at each x (sbi's), in random order."""
        draws = super().sample_batched(sample_shape, x=x, **kwargs)  # (n, batch, d)
        flat = draws.reshape(-1, *draws.shape[-2:])
        return flat[torch.randperm(len(flat))].reshape(draws.shape)

    def map(self, x: Tensor | None = None, *, force_update: bool = False,
            **kwargs: Any) -> Tensor:
        """The mixture's MAP by sbi's gradient ascent, started from mixture draws drawn
        without a progress bar (``force_update`` is accepted and ignored)."""
        if kwargs.get("init_method", "posterior") == "posterior":
            n = int(kwargs.get("num_init_samples", 1000))
            kwargs["init_method"] = self.sample((n,), x=x, show_progress_bars=False)
        return super().map(x, **kwargs)


class EnsembleBackend(InferenceBackend):
    """``k`` backends of one class, trained on the same rounds with different seeds.

    Parameters
    ----------
    member_class : type
        The backend class of every member.
    size : int
        Number of members (>= 2).
    prior : torch.distributions.Distribution
        Prior over the unit-box parameters.
    device : str
        Torch device.
    seed : int, optional
        Seed of the first member's training; member ``i`` uses ``seed + i * 7919`` (fresh
        random seeds when None).
    **options
        The constructor options of each member.
    """

    def __init__(
        self, member_class: type, size: int, prior: torch.distributions.Distribution,
        device: str = "cpu", *, seed: int | None = None, kept: list[int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(prior, device, **options)
        self.member_class = member_class
        self.members = [member_class(prior, device, **options) for _ in range(int(size))]
        self.size = int(size)
        self.seed = seed
        #: The members the posterior mixes (all until training says otherwise).
        self.kept = list(range(self.size)) if kept is None else [int(i) for i in kept]
        for flag in ("amortized", "multi_round", "discrete_features", "embeds_x", "samplers",
                     "description"):
            setattr(self, flag, getattr(member_class, flag, None))
        self.embedding_net = options.get("embedding_net")

    def __repr__(self) -> str:
        return f"EnsembleBackend({self.member_class.__name__} x {self.size})"

    # ------------------------------------------------------------------ the protocol
    def append_simulations(self, theta: Tensor, x: Tensor, proposal: Any = None) -> None:
        """Give the round to every member."""
        for member in self.members:
            member.append_simulations(theta, x, proposal)

    def train(self) -> None:
        """Train every member from its own seed; keep those whose validation loss is within
        :data:`LOSS_MARGIN` of the best (a warning names the others)."""
        base = self.seed if self.seed is not None else int(torch.randint(2**31, ()).item())
        for i, member in enumerate(self.members):
            torch.manual_seed(base + i * SEED_STRIDE)
            member.train()
        zoomed = [getattr(m, "region", None) is not None for m in self.members]
        if any(zoomed) and not all(zoomed):  # one box or none for all (one saved config)
            for member in self.members:
                member.unzoom()
        losses = [validation_loss(m) for m in self.members]
        self.kept = kept_members(losses)
        left_out = [i for i in range(self.size) if i not in self.kept]
        if left_out:
            shown = ", ".join(f"{i} ({losses[i]:.2f})" for i in left_out)
            warnings.warn(
                f"ensemble: left out member(s) {shown} whose validation loss is more than "
                f"{LOSS_MARGIN:g} nats worse than the best ({min(losses):.2f}): their training "
                f"stopped on a plateau; {len(self.kept)} of {self.size} members form the "
                f"posterior",
                RuntimeWarning,
                stacklevel=2,
            )

    @property
    def validation_losses(self) -> list[float | None]:
        """Each member's best validation loss (None where the backend reports none)."""
        return [validation_loss(m) for m in self.members]

    def proposal(self, posterior: Any) -> Any:
        """What the next round draws from: what the members' kind makes of the mixture
        posterior (SNPE: its truncated prior), else the mixture itself."""
        make = getattr(self.members[0], "proposal", None)
        return posterior if make is None else make(posterior)

    def build_posterior(self, x_o: Tensor) -> Any:
        """The equal-weight mixture of the members' posteriors at ``x_o``."""
        posteriors = [self.members[i].build_posterior(x_o) for i in self.kept]
        return ShuffledEnsemblePosterior(posteriors).set_default_x(x_o)

    def update_settings(
        self, training: Mapping[str, Any] | None = None, sampling: Mapping[str, Any] | None = None
    ) -> None:
        """Override settings of every member."""
        for member in self.members:
            member.update_settings(training, sampling)

    # ------------------------------------------------------------------ what reports read
    @property
    def trainer(self) -> Any:
        """The last member's trainer (its ``summary`` tells how training stopped)."""
        return getattr(self.members[-1], "trainer", None)

    @property
    def last_training(self) -> dict[str, Any]:
        """The training settings of the last member."""
        return getattr(self.members[-1], "last_training", {})

    @property
    def last_sampling(self) -> dict[str, Any]:
        """The posterior settings of the last member."""
        return getattr(self.members[-1], "last_sampling", {})

    @property
    def num_simulations(self) -> int | None:
        """Simulations appended to each member."""
        return getattr(self.members[0], "num_simulations", None)

    # ------------------------------------------------------------------ saving
    def config(self) -> dict[str, Any]:
        """The members' settings, and under ``'ensemble'`` the keywords that rebuild the
        ensemble (:func:`make_backend`): size, seed and kept members."""
        return {**self.members[0].config(),
                "ensemble": {"size": self.size, "seed": self.seed, "kept": list(self.kept)}}

    def state(self) -> dict[str, Tensor]:
        """Each member's tensors under ``'<index>.'``."""
        return {f"{i}.{k}": v for i, m in enumerate(self.members) for k, v in m.state().items()}

    def restore(
        self, state: dict[str, Tensor], rounds: Sequence[SavedRound], x_o: Tensor
    ) -> Any:
        """Restore every member from its part of ``state``; the mixture of the kept ones at
        ``x_o``."""
        posteriors = []
        for i, member in enumerate(self.members):
            prefix = f"{i}."
            part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            posteriors.append(member.restore(part, rounds, x_o))
        return ShuffledEnsemblePosterior([posteriors[i] for i in self.kept]).set_default_x(x_o)
