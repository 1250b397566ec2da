"""MNLE: mixed neural likelihood estimation (sbi's ``MNLE``) for discrete and continuous
features, e.g. spike counts next to voltage features."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..errors import ProblemError
from ._mixed import ColumnCoding, ordered_builder
from ._sbi import SbiBackend
from .features import integer_columns


class MNLEBackend(SbiBackend):
    """Mixed neural likelihood estimation: a categorical network for the discrete columns
    and a flow for the continuous ones given them; the posterior is sampled per observation.

    Parameters
    ----------
    prior, device, estimator, estimator_options, embedding_net, training, sampling
        As for the other sbi backends; ``estimator`` is the flow of the continuous columns
        (``'nsf'``, sbi's default for MNLE, or ``'maf'``...).
    discrete_columns : sequence of int, optional
        Indices of the discrete columns (the Inferencer passes them: ``discrete_columns=``,
        else the feature provider's declaration, else the integer-valued simulated columns).
        None: the integer-valued columns of the first training data.
    discrete_scale : sequence of float, optional
        Per discrete column, the factor that turns the values the backend receives back into
        integers (the inverse of the feature scale; 1 if None).
    categories : sequence of int, optional
        Categories per discrete column (set when the network is first built, saved).
    """

    description: ClassVar[str] = (
        "Mixed neural likelihood estimation (sbi MNLE) for discrete (spike counts) and "
        "continuous features; sampling per observation"
    )
    trainer_name: ClassVar[str] = "MNLE"
    builder_name: ClassVar[str] = "likelihood_nn"
    default_estimator: ClassVar[str] = "nsf"
    discrete_features: ClassVar[bool] = True
    embedding_argument: ClassVar[str | None] = None
    embeds_x: ClassVar[bool] = False
    samplers: ClassVar[tuple[str, ...]] = ("mcmc", "rejection", "importance", "vi")
    sampling_defaults: ClassVar[str] = "auto"

    def __init__(
        self,
        prior: torch.distributions.Distribution,
        device: str = "cpu",
        *,
        discrete_columns: Sequence[int] | None = None,
        discrete_scale: Sequence[float] | None = None,
        categories: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        self.discrete_columns = None if discrete_columns is None else [
            int(j) for j in discrete_columns
        ]
        n = 0 if self.discrete_columns is None else len(self.discrete_columns)
        scale = [1.0] * n if discrete_scale is None else [float(s) for s in discrete_scale]
        if len(scale) != n:
            raise ProblemError(
                f"discrete_scale: expected {n} values (one per discrete column), got {len(scale)}"
            )
        self.discrete_scale = scale
        self.categories = None if categories is None else [int(c) for c in categories]
        super().__init__(prior, device, **options)

    def _builder(self) -> Callable:
        import sbi.neural_nets as nets

        sbi_build = nets.likelihood_nn(
            model="mnle", flow_model=self.estimator, **self.estimator_options
        )

        def build(theta: Tensor, x: Tensor) -> Any:
            coding = self._coding(x)
            return ordered_builder(sbi_build, coding, self._sized)(theta, x)

        return build

    def _coding(self, x: Tensor) -> ColumnCoding:
        if self.discrete_columns is None:
            self.discrete_columns = integer_columns(x.detach().cpu().numpy())
            self.discrete_scale = [1.0] * len(self.discrete_columns)
        k, n = len(self.discrete_columns), int(x.shape[1])
        if k == 0 or k == n:
            what = "none" if k == 0 else "all"
            raise ProblemError(
                f"backend: 'mnle' needs discrete and continuous features, but {what} of the "
                f"{n} features are discrete; use backend='snle' or 'snpe', or name the "
                f"discrete columns with discrete_columns=[...]"
            )
        categories = None if self.categories is None else tuple(self.categories)
        return ColumnCoding(n, tuple(self.discrete_columns), tuple(self.discrete_scale),
                            categories)

    def _sized(self, coding: ColumnCoding) -> None:
        self.categories = list(coding.categories)

    def append_simulations(self, theta: Tensor, x: Tensor, proposal: Any = None) -> None:
        """Add a round, after checking that the discrete columns hold non-negative integers."""
        if self.discrete_columns:
            values = x[:, self.discrete_columns] * torch.as_tensor(self.discrete_scale)
            bad = (values - torch.round(values)).abs().amax(dim=0) > 1e-3
            bad |= values.amin(dim=0) < 0
            if bool(bad.any()):
                col = self.discrete_columns[int(torch.nonzero(bad)[0])]
                raise ProblemError(
                    f"discrete_columns: column {col} is not a non-negative integer feature "
                    f"(e.g. a spike count) in the simulations; leave it out of "
                    f"discrete_columns="
                )
        super().append_simulations(theta, x, proposal)

    def config(self) -> dict[str, Any]:
        """The sbi settings plus the discrete columns, their scale and categories."""
        return {
            **super().config(),
            "discrete_columns": self.discrete_columns,
            "discrete_scale": self.discrete_scale,
            "categories": self.categories,
        }
