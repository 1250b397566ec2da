"""Discrete feature columns for sbi's mixed likelihood estimator (MNLE), kept out of sight.

sbi 0.27's ``MixedDensityEstimator`` wants the discrete columns of x last, as category values
seen in its first training batch (a value it has not seen raises). The features reach a
backend in the provider's column order and divided by a power of ten (see
:mod:`~brian2modelfitting_sbi.scaling`), so a spike count of 3 may arrive as 0.3.
:class:`OrderedMixedEstimator` wraps the sbi estimator: every x it is given (training batches,
observations, posterior checks) is reordered, the discrete columns are multiplied back to
integers and clamped to ``0 .. categories - 1`` (a count above the largest seen in training
falls in the top category), and samples are mapped back. Nothing outside this module knows
about the reordering.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from sbi.neural_nets.estimators import MixedDensityEstimator
from torch import Tensor

#: Largest number of categories of one discrete column (a larger integer range is better
#: treated as continuous).
MAX_CATEGORIES = 200
#: sbi's notes on the column layout and category inference: this module handles both.
_SBI_NOTES = ("The mixed neural density estimator assumes", "Inferring num_categories")


@dataclass(frozen=True)
class ColumnCoding:
    """Which columns are discrete, their scale and (once built) their number of categories.

    Attributes
    ----------
    n_features : int
        Columns of x.
    discrete : tuple of int
        Indices of the discrete columns.
    scale : tuple of float
        Factor that turns each discrete column as the estimator receives it into integers.
    categories : tuple of int, optional
        Categories of each discrete column (``0 .. categories - 1``); None until built.
    """

    n_features: int
    discrete: tuple[int, ...]
    scale: tuple[float, ...]
    categories: tuple[int, ...] | None = None

    @property
    def order(self) -> list[int]:
        """Continuous columns first, then the discrete ones (sbi's layout)."""
        continuous = [j for j in range(self.n_features) if j not in self.discrete]
        return continuous + list(self.discrete)

    def integers(self, x: Tensor) -> Tensor:
        """The discrete columns of ``x`` (provider order) as integer values (floats)."""
        index = torch.as_tensor(self.discrete, dtype=torch.long)
        scale = torch.as_tensor(self.scale, dtype=x.dtype)
        return torch.round(x[..., index] * scale)

    def sized(self, x: Tensor) -> ColumnCoding:
        """This coding with the categories of the training features ``x`` (if not set)."""
        if self.categories is not None:
            return self
        top = self.integers(x).amax(dim=0).clamp(min=0)
        sizes = tuple(int(t) + 1 for t in top.tolist())
        return ColumnCoding(self.n_features, self.discrete, self.scale, sizes)


class OrderedMixedEstimator(MixedDensityEstimator):
    """sbi's mixed estimator seen through a :class:`ColumnCoding` (see the module)."""

    def __init__(self, inner: MixedDensityEstimator, coding: ColumnCoding) -> None:
        super().__init__(
            discrete_net=inner.discrete_net,
            continuous_net=inner.continuous_net,
            input_shape=inner.input_shape,
            condition_shape=inner.condition_shape,
            embedding_net=inner.condition_embedding,
            log_transform_input=inner.log_transform_input,
        )
        order = torch.as_tensor(coding.order, dtype=torch.long)
        self.register_buffer("order", order)
        self.register_buffer("inverse", torch.argsort(order))
        self.register_buffer("scale", torch.as_tensor(coding.scale, dtype=torch.float32))
        self.register_buffer("top", torch.as_tensor(coding.categories, dtype=torch.float32) - 1)
        self.n_discrete = len(coding.discrete)

    def encode(self, x: Tensor) -> Tensor:
        """Provider-ordered, scaled x → sbi's layout: continuous columns, then categories."""
        x = x[..., self.order]
        k = self.n_discrete
        codes = torch.minimum(torch.round(x[..., -k:] * self.scale).clamp(min=0), self.top)
        return torch.cat([x[..., :-k], codes], dim=-1)

    def decode(self, x: Tensor) -> Tensor:
        """sbi's layout → provider order and scale (inverse of :meth:`encode`)."""
        k = self.n_discrete
        x = torch.cat([x[..., :-k], x[..., -k:] / self.scale], dim=-1)
        return x[..., self.inverse]

    def log_prob(self, input: Tensor, condition: Tensor) -> Tensor:  # noqa: A002 - sbi's name
        """Log likelihood of x (provider order) given theta."""
        return super().log_prob(self.encode(input), condition)

    def sample(
        self, sample_shape: torch.Size, condition: Tensor, track_gradients: bool = False
    ) -> Tensor:
        """Samples of x in provider order and scale."""
        return self.decode(super().sample(sample_shape, condition, track_gradients))


def ordered_builder(
    build: Callable[..., MixedDensityEstimator], coding: ColumnCoding,
    on_sized: Callable[[ColumnCoding], None],
) -> Callable[[Tensor, Tensor], OrderedMixedEstimator]:
    """Wrap sbi's MNLE builder ``build(theta, x)`` so that it builds an ordered estimator.

    The builder's batch gets a few extra rows (continuous columns and theta at their batch
    means) so that every category ``0 .. categories - 1`` of every discrete column appears in
    it: sbi then knows them all, whichever split of the simulations it was built on.
    ``on_sized`` receives the coding with its categories (the backend saves them).
    """

    def builder(theta: Tensor, x: Tensor) -> OrderedMixedEstimator:
        sized = coding.sized(x)
        on_sized(sized)
        sizes = torch.as_tensor(sized.categories)
        if int(sizes.max()) > MAX_CATEGORIES:
            raise ValueError(
                f"discrete_columns: a discrete column has {int(sizes.max())} categories (more "
                f"than {MAX_CATEGORIES}); treat it as continuous (leave it out of "
                f"discrete_columns=)"
            )
        codes = torch.arange(int(sizes.max()))[:, None].minimum(sizes[None, :] - 1).float()
        k = len(sized.discrete)
        ordered = x[:, sized.order]
        padding = torch.cat([ordered[:, :-k].mean(0).expand(len(codes), -1), codes], dim=1)
        batch_x = torch.cat([ordered[:, :-k], sized.integers(x).clamp(min=0)], dim=1)
        batch_x = torch.cat([torch.minimum(batch_x, _top(sized, batch_x)), padding])
        batch_theta = torch.cat([theta, theta.mean(0).expand(len(codes), -1)])
        with warnings.catch_warnings():
            for note in _SBI_NOTES:
                warnings.filterwarnings("ignore", message=note)
            inner = build(batch_theta, batch_x)
        return OrderedMixedEstimator(inner, sized)

    return builder


def _top(coding: ColumnCoding, batch: Tensor) -> Tensor:
    """Row of upper limits: +inf for continuous columns, ``categories - 1`` for discrete."""
    k = len(coding.discrete)
    limits = torch.full((batch.shape[1],), float("inf"))
    limits[-k:] = torch.as_tensor(coding.categories, dtype=torch.float32) - 1
    return limits

