"""Marginal statistics of posterior draws, with units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Quantity
from brian2.units.fundamentalunits import get_dimensions

from ..errors import ProblemError
from ..priors import ParameterSpace


@dataclass(frozen=True)
class PosteriorSummary:
    """Marginal statistics of posterior samples, per parameter, with units.

    Attributes
    ----------
    names : list of str
        Parameter names.
    units : list of brian2 Unit
        Display unit of each parameter (the statistics are shown in it).
    mean, std, median, lower, upper : numpy.ndarray
        Statistics in SI units, shape ``(d,)``; ``lower``/``upper`` bound the central credible
        interval of probability ``level``.
    level : float
        Probability mass of the credible interval.
    n_samples : int
        Number of samples the statistics come from.
    """

    names: list[str]
    units: list[Any]
    mean: np.ndarray
    std: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    n_samples: int

    _STATS = ("mean", "std", "median", "lower", "upper")

    def quantities(self, stat: str) -> dict[str, Quantity]:
        """One statistic (``'mean'``, ``'std'``, ``'median'``, ``'lower'``, ``'upper'``) as a
        dict name → Quantity."""
        if stat not in self._STATS:
            raise ValueError(f"stat: expected one of {self._STATS}, got {stat!r}")
        values = getattr(self, stat)
        return {
            name: Quantity(values[j], dim=get_dimensions(unit))
            for j, (name, unit) in enumerate(zip(self.names, self.units, strict=True))
        }

    def _columns(self) -> list[str]:
        lo = 100 * (1 - self.level) / 2
        return ["mean", "std", "median", f"{lo:g}%", f"{100 - lo:g}%"]

    def _rows(self) -> list[list[float]]:
        rows = []
        for j, unit in enumerate(self.units):
            scale = float(unit)
            rows.append([float(getattr(self, s)[j]) / scale for s in self._STATS])
        return rows

    def to_dataframe(self) -> Any:
        """A pandas DataFrame: one row per parameter, values in the ``unit`` column's unit."""
        import pandas as pd

        frame = pd.DataFrame(self._rows(), index=list(self.names), columns=self._columns())
        frame.insert(0, "unit", [str(u) for u in self.units])
        frame.index.name = "parameter"
        return frame

    def __str__(self) -> str:
        header = ["parameter", "unit", *self._columns()]
        body = [
            [name, str(unit), *(f"{v:.4g}" for v in row)]
            for name, unit, row in zip(self.names, self.units, self._rows(), strict=True)
        ]
        widths = [max(len(r[k]) for r in [header, *body]) for k in range(len(header))]
        lines = [
            "  ".join(
                c.rjust(w) if k > 1 else c.ljust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [header, *body]
        ]
        title = (
            f"Posterior summary ({self.n_samples} samples, {self.level:.0%} central credible "
            f"interval)"
        )
        return "\n".join([title, *lines])

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html()


def summarize(space: ParameterSpace, samples: np.ndarray, level: float = 0.9) -> PosteriorSummary:
    """Mean, std, median and central ``level`` credible interval of SI ``samples (n, d)``."""
    if not 0 < level < 1:
        raise ProblemError(f"level: expected a probability in (0, 1), got {level!r}")
    samples = np.asarray(samples, dtype=float)
    tail = 100 * (1 - level) / 2
    lower, median, upper = np.percentile(samples, [tail, 50, 100 - tail], axis=0)
    return PosteriorSummary(
        names=list(space.names),
        units=[space.display_unit(j) for j in range(space.dim)],
        mean=samples.mean(axis=0),
        std=samples.std(axis=0, ddof=1) if len(samples) > 1 else np.zeros(space.dim),
        median=median,
        lower=lower,
        upper=upper,
        level=float(level),
        n_samples=len(samples),
    )
