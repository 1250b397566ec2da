"""The exact posterior of the validation problem, on a grid, and exact samples from it.

The posterior is ``uniform box prior x N(x_o; m(theta), sd^2 I)`` with the closed-form means
``m`` of :func:`~benchmarks.validation.problem.window_means`. A coarse grid over the whole
prior box finds where the mass is; a fine grid over that region (clipped to the box) holds the
normalised density. Samples pick a fine cell in proportion to its mass and a uniform point
inside it; with a few hundred cells per axis across the region the cell width is a small
fraction of the posterior's width, far below what C2ST can resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Cells whose log density is more than this below the maximum are treated as empty.
LOG_CUTOFF = 25.0


@dataclass
class GridPosterior:
    """A normalised density on a regular grid of cell centres.

    Attributes
    ----------
    axes : list of numpy.ndarray
        Cell centres along each parameter axis.
    weights : numpy.ndarray
        Probability of each cell, shape ``tuple(len(a) for a in axes)``, sums to 1.
    """

    axes: list[np.ndarray]
    weights: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        """Cell widths along each axis."""
        return np.array([a[1] - a[0] for a in self.axes])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` exact samples ``(n, d)``: a cell by its mass, then uniform inside it."""
        flat = self.weights.ravel()
        cells = rng.choice(flat.size, size=n, p=flat)
        index = np.unravel_index(cells, self.weights.shape)
        centres = np.stack([a[i] for a, i in zip(self.axes, index, strict=True)], axis=1)
        return centres + (rng.random(centres.shape) - 0.5) * self.steps

    def mean(self) -> np.ndarray:
        """Posterior mean (cell-centre approximation)."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return np.array([(g * self.weights).sum() for g in grids])

    def boundary_mass(self, lower: np.ndarray, upper: np.ndarray) -> float:
        """Mass in the outermost cells of the grid, except where the grid meets the prior box.

        A grid that cut off posterior mass would show it here; edges on the prior's own
        boundary are legitimate (the density is truncated there).
        """
        mass = 0.0
        for j, a in enumerate(self.axes):
            w = np.moveaxis(self.weights, j, 0)
            step = a[1] - a[0]
            if a[0] - step / 2 > lower[j] + 1e-9 * abs(lower[j]):
                mass += float(w[0].sum())
            if a[-1] + step / 2 < upper[j] - 1e-9 * abs(upper[j]):
                mass += float(w[-1].sum())
        return mass


def _centres(lo: float, hi: float, n: int) -> np.ndarray:
    step = (hi - lo) / n
    return lo + step * (np.arange(n) + 0.5)


def _log_density(
    log_likelihood: Callable[[np.ndarray], np.ndarray], axes: list[np.ndarray], batch: int
) -> np.ndarray:
    shape = tuple(len(a) for a in axes)
    grids = np.meshgrid(*axes, indexing="ij")
    points = np.stack([g.ravel() for g in grids], axis=1)
    out = np.empty(len(points))
    for start in range(0, len(points), batch):
        out[start : start + batch] = log_likelihood(points[start : start + batch])
    return out.reshape(shape)


def grid_posterior(
    log_likelihood: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    coarse: int = 60,
    fine: int = 160,
    batch: int = 200_000,
) -> GridPosterior:
    """Exact posterior of a uniform box prior times ``log_likelihood``, on a refined grid.

    Parameters
    ----------
    log_likelihood : callable
        ``(n, d)`` SI parameter values -> ``(n,)`` log likelihood (up to a constant).
    lower, upper : numpy.ndarray
        The prior box.
    coarse, fine : int
        Cells per axis of the coarse search grid and of the final grid.
    batch : int
        Points evaluated at once (bounds memory).
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    axes = [_centres(lo, hi, coarse) for lo, hi in zip(lower, upper, strict=True)]
    logp = _log_density(log_likelihood, axes, batch)
    keep = logp > logp.max() - LOG_CUTOFF
    step = (upper - lower) / coarse
    box_lo, box_hi = lower.copy(), upper.copy()
    for j in range(len(lower)):
        idx = np.flatnonzero(np.moveaxis(keep, j, 0).reshape(coarse, -1).any(axis=1))
        # one spare coarse cell on each side, clipped to the prior box
        box_lo[j] = max(lower[j], lower[j] + (idx[0] - 1) * step[j])
        box_hi[j] = min(upper[j], lower[j] + (idx[-1] + 2) * step[j])
    axes = [_centres(lo, hi, fine) for lo, hi in zip(box_lo, box_hi, strict=True)]
    logp = _log_density(log_likelihood, axes, batch)
    weights = np.exp(logp - logp.max())
    return GridPosterior(axes, weights / weights.sum())


def gaussian_log_likelihood(
    means: Callable[[np.ndarray], np.ndarray], x_o: np.ndarray, sd: float
) -> Callable[[np.ndarray], np.ndarray]:
    """``theta -> log N(x_o; means(theta), sd^2 I)`` up to a constant."""
    x_o = np.asarray(x_o, float).ravel()

    def log_likelihood(theta: np.ndarray) -> np.ndarray:
        return -0.5 * np.sum((means(theta) - x_o) ** 2, axis=-1) / sd**2

    return log_likelihood
