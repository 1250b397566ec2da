"""Conditional views of a posterior: its log density on a grid, the other parameters fixed.

``conditional_pairplot`` draws the 1-D and 2-D conditionals at a condition,
``conditional_corrcoef`` their correlation matrix and ``correlation_plot`` a readable picture
of it. The log density is evaluated here rather than with ``sbi.analysis``, so that these work
in SI-scaled parameter spaces and for every posterior type; the axes, units and figure layout
are those of :mod:`brian2modelfitting_sbi.posterior.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ProblemError
from ..priors import ParameterSpace
from .plots import _label_grid, _limits, _new_figure, _scales, axis_label, points_array


def grid_log_density(
    posterior: Any,
    space: ParameterSpace,
    condition: np.ndarray,
    dims: Sequence[int],
    lim: np.ndarray,
    resolution: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Log density on a grid over ``dims`` (others fixed at ``condition``); SI axes."""
    import torch

    # cell centres, evenly spaced in the torch coordinates (in log for log-scaled parameters)
    centres = (np.arange(resolution) + 0.5) / resolution
    axes = [
        lim[j, 0] * (lim[j, 1] / lim[j, 0]) ** centres
        if space.log_scaled[j] and lim[j, 0] > 0
        else lim[j, 0] + centres * (lim[j, 1] - lim[j, 0])
        for j in dims
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    theta = np.tile(condition, (mesh[0].size, 1))
    for k, j in enumerate(dims):
        theta[:, j] = mesh[k].ravel()
    with torch.no_grad():
        values = posterior.potential(space.to_torch(theta))
    logp = values.detach().cpu().double().numpy().reshape(mesh[0].shape)
    return axes, np.where(np.isfinite(logp), logp, -np.inf)


def normalized(logp: np.ndarray) -> np.ndarray:
    """A log density on a grid → probabilities summing to 1 (zeros if nowhere finite)."""
    top = np.max(logp)
    if not np.isfinite(top):
        return np.zeros_like(logp)
    p = np.exp(logp - top)
    return p / p.sum()


def _check_condition(space: ParameterSpace, condition: np.ndarray) -> np.ndarray:
    condition = np.asarray(condition, dtype=float).reshape(-1)
    if condition.shape != (space.dim,):
        raise ProblemError(f"condition: expected {space.dim} values, got {condition.shape}")
    return condition


def check_resolution(resolution: Any) -> int:
    """``resolution`` (grid points per axis) as an int ``>= 2``, else a ProblemError."""
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise ProblemError(f"resolution: expected an integer >= 2, got {resolution!r}")
    if resolution < 2:
        raise ProblemError(f"resolution: expected an integer >= 2, got {resolution!r}")
    return int(resolution)


def conditional_pairplot(
    posterior: Any,
    space: ParameterSpace,
    condition: np.ndarray,
    *,
    limits: Mapping[str, Sequence[Any]] | None = None,
    resolution: int = 50,
    points: Any = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Conditional densities: 1-D (diagonal) and 2-D (upper triangle) slices of the
    posterior through ``condition``, the other parameters held at their condition values.

    Parameters
    ----------
    posterior : sbi posterior
        Posterior with its default x set.
    space : ParameterSpace
        Names, units and prior bounds.
    condition : numpy.ndarray
        The point ``(d,)`` (SI floats) the slices go through.
    limits, points, figsize
        As for :func:`pairplot`.
    resolution : int
        Grid points per axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    condition = _check_condition(space, condition)
    resolution = check_resolution(resolution)
    lim_si = _limits(space, limits)
    scale = _scales(space)
    marks = np.concatenate([condition[None], points_array(space, points)]) / scale
    fig, axes = _new_figure(space.dim, figsize)
    for i in range(space.dim):
        for j in range(i, space.dim):
            ax = axes[i, j]
            if i == j:
                (grid,), logp = grid_log_density(
                    posterior, space, condition, [j], lim_si, resolution
                )
                ax.plot(grid / scale[j], normalized(logp), color="C0")
                ax.axvline(marks[0, j], color="0.4", lw=1, ls="--")
                for m in marks[1:]:
                    ax.axvline(m[j], color="C3", lw=1.5)
            else:
                (gi, gj), logp = grid_log_density(
                    posterior, space, condition, [i, j], lim_si, resolution
                )
                ax.pcolormesh(
                    gj / scale[j], gi / scale[i], normalized(logp), cmap="Blues", shading="nearest"
                )
                ax.plot(marks[:1, j], marks[:1, i], "x", color="0.3", ms=6)
                if len(marks) > 1:
                    ax.plot(marks[1:, j], marks[1:, i], "o", color="C3", ms=5)
    _label_grid(axes, space, lim_si / scale[:, None])
    fig.tight_layout()
    return fig


def _unit_grid(space: ParameterSpace, grid: np.ndarray, lim: np.ndarray, j: int) -> np.ndarray:
    if space.log_scaled[j] and lim[j, 0] > 0:
        return np.log(grid / lim[j, 0]) / np.log(lim[j, 1] / lim[j, 0])
    return (grid - lim[j, 0]) / (lim[j, 1] - lim[j, 0])


def conditional_corrcoef(
    posterior: Any,
    space: ParameterSpace,
    condition: np.ndarray,
    *,
    limits: Mapping[str, Sequence[Any]] | None = None,
    resolution: int = 50,
) -> np.ndarray:
    """Correlation matrix ``(d, d)`` of the 2-D conditional densities through ``condition``.

    Entry ``(i, j)`` is the correlation coefficient of parameters ``i`` and ``j`` under the
    posterior with all other parameters fixed at their condition values.
    """
    condition = _check_condition(space, condition)
    resolution = check_resolution(resolution)
    lim = _limits(space, limits)
    corr = np.eye(space.dim)
    for i in range(space.dim):
        for j in range(i + 1, space.dim):
            (gi, gj), logp = grid_log_density(posterior, space, condition, [i, j], lim, resolution)
            p = normalized(logp)
            if p.sum() == 0:
                corr[i, j] = corr[j, i] = np.nan
                continue
            # grid coordinates scaled to [0, 1] (log for log-scaled parameters): unit-free
            u, v = _unit_grid(space, gi, lim, i), _unit_grid(space, gj, lim, j)
            pu, pv = p.sum(axis=1), p.sum(axis=0)
            mu, mv = pu @ u, pv @ v
            var_u, var_v = pu @ (u - mu) ** 2, pv @ (v - mv) ** 2
            cov = (u - mu) @ p @ (v - mv)
            denom = np.sqrt(var_u * var_v)
            corr[i, j] = corr[j, i] = cov / denom if denom > 0 else np.nan
    return corr


def correlation_plot(
    space: ParameterSpace,
    matrix: np.ndarray,
    *,
    title: str = "conditional correlation",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """A correlation matrix as a labelled heat map, values written in the cells.

    The diagonal (always 1) is left blank; each value is written in white on strongly
    coloured cells (``|r| > 0.6``) and in black elsewhere, ``n/a`` where it is undefined.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix, dtype=float)
    d = space.dim
    if matrix.shape != (d, d):
        raise ProblemError(f"matrix: expected shape ({d}, {d}), got {matrix.shape}")
    fig = Figure(figsize=figsize or (1.3 * d + 2.5, 1.3 * d + 1.5))
    ax = fig.subplots()
    shown = np.where(np.eye(d, dtype=bool), np.nan, matrix)
    image = ax.imshow(np.ma.masked_invalid(shown), vmin=-1, vmax=1, cmap="RdBu_r")
    labels = [axis_label(space, j) for j in range(d)]
    ax.set_xticks(range(d), labels, rotation=45, ha="right")
    ax.set_yticks(range(d), labels)
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            value = matrix[i, j]
            text = "n/a" if not np.isfinite(value) else f"{value:.2f}"
            colour = "white" if np.isfinite(value) and abs(value) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="correlation coefficient")
    fig.tight_layout()
    return fig
