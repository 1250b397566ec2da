"""Posterior plots with parameter names and readable units: the pairplot and its helpers.

All functions return a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is
shown (or kept alive by pyplot) unless the caller does so. Values are drawn in each
parameter's display unit (:meth:`ParameterSpace.display_unit
<brian2modelfitting_sbi.priors.ParameterSpace.display_unit>`), axes are labelled
``name [unit]`` and default to the prior bounds; log-uniform parameters get log axes.
The conditional views (log density on a grid at a condition) are in
:mod:`brian2modelfitting_sbi.posterior.conditional_plots`, which draws with the helpers here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2.units.fundamentalunits import get_dimensions

from ..errors import ProblemError
from ..priors import ParameterSpace


# ---------------------------------------------------------------------- helpers
def axis_label(space: ParameterSpace, j: int) -> str:
    """``name [display unit]`` for parameter ``j``."""
    return f"{space.names[j]} [{space.display_unit(j)}]"


def _scales(space: ParameterSpace) -> np.ndarray:
    return np.array([float(space.display_unit(j)) for j in range(space.dim)])


def _limits(space: ParameterSpace, limits: Mapping[str, Sequence[Any]] | None) -> np.ndarray:
    """``(d, 2)`` SI limits: the prior bounds, overridden by ``limits`` (quantities)."""
    out = np.stack([space.lower, space.upper], axis=1).astype(float)
    for name, pair in (limits or {}).items():
        if name not in space.names:
            raise ProblemError(f"limits: {name!r} is not an inferred parameter {space.names}")
        j = space.names.index(name)
        unit = space.units[j]
        if (
            not isinstance(pair, Sequence | np.ndarray)
            or len(pair) != 2
            or any(get_dimensions(v) != get_dimensions(unit) for v in pair)
        ):
            raise ProblemError(
                f"limits[{name!r}]: expected [lower, upper] in {unit!r}, got {pair!r}"
            )
        lo, hi = float(pair[0]), float(pair[1])
        if not lo < hi:
            raise ProblemError(f"limits[{name!r}]: lower must be < upper, got {pair!r}")
        out[j] = lo, hi
    return out


def _edges(lo: float, hi: float, n: int, log: bool) -> np.ndarray:
    """``n`` bin edges from ``lo`` to ``hi``: even steps, or even ratios for log axes."""
    return np.geomspace(lo, hi, n) if log and lo > 0 else np.linspace(lo, hi, n)


def points_array(space: ParameterSpace, points: Any) -> np.ndarray:
    """Ground-truth points (a dict of quantities, or a list of them) → SI ``(m, d)``."""
    if points is None:
        return np.empty((0, space.dim))
    if isinstance(points, Mapping):
        points = [points]
    rows = [np.atleast_2d(space.to_array(p)) for p in points]
    return np.concatenate(rows) if rows else np.empty((0, space.dim))


def _new_figure(d: int, figsize: tuple[float, float] | None) -> tuple[Any, np.ndarray]:
    from matplotlib.figure import Figure

    size = figsize or (max(3.0, 2.3 * d), max(3.0, 2.3 * d))
    fig = Figure(figsize=size)
    axes = fig.subplots(d, d, squeeze=False)
    return fig, axes


def _label_grid(axes: np.ndarray, space: ParameterSpace, lim: np.ndarray) -> None:
    """Labels on the diagonal (x) and on the upper triangle's left column (y); no lower part."""
    d = space.dim
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if i > j:
                ax.set_axis_off()
                continue
            if space.log_scaled[j]:
                ax.set_xscale("log")
            ax.set_xlim(*lim[j])
            if i == j:
                ax.set_xlabel(axis_label(space, j))
                ax.set_yticks([])
            else:
                if space.log_scaled[i]:
                    ax.set_yscale("log")
                ax.set_ylim(*lim[i])
                if j == i + 1:
                    ax.set_ylabel(axis_label(space, i))


# ---------------------------------------------------------------------- pairplot
def pairplot(
    space: ParameterSpace,
    samples: np.ndarray,
    *,
    points: Any = None,
    point_labels: Sequence[str] | None = None,
    limits: Mapping[str, Sequence[Any]] | None = None,
    zoom: bool = False,
    bins: int = 40,
    figsize: tuple[float, float] | None = None,
    color: str = "C0",
) -> Any:
    """Marginals (diagonal) and pairwise histograms (upper triangle) of posterior samples.

    Parameters
    ----------
    space : ParameterSpace
        Names, units and prior bounds.
    samples : numpy.ndarray
        Samples ``(n, d)`` in SI units.
    points : dict or list of dict, optional
        Parameter sets to mark (e.g. the ground truth), as dicts name → Quantity; each gets
        its own colour and marker (the first: red circles).
    point_labels : sequence of str, optional
        Legend labels of ``points``, one each (e.g. ``['truth', 'MAP']``); no legend if None.
    limits : dict, optional
        ``{name: [lower, upper]}`` with units; the prior bounds (or the zoom) for the others.
    zoom : bool
        Axes around the samples (their 0.5-99.5 % range, widened by a fifth on each side,
        stretched to show ``points``, within the prior bounds) instead of the prior bounds,
        for the parameters ``limits`` leaves out. The prior box is then indicated: its bounds
        as dashed grey lines where they are in view, and ``prior [lower, upper]`` above each
        marginal.
    bins : int
        Histogram bins per axis.
    figsize : tuple, optional
        Figure size in inches.
    color : str
        Matplotlib colour of the histograms.

    Returns
    -------
    matplotlib.figure.Figure
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != space.dim:
        raise ProblemError(f"samples: expected shape (n, {space.dim}), got {samples.shape}")
    if not isinstance(zoom, bool):
        raise ProblemError(f"zoom: expected True or False, got {zoom!r}")
    marks_si = points_array(space, points)
    if point_labels is not None:
        point_labels = list(point_labels)
        if len(point_labels) != len(marks_si) or not all(
            isinstance(label, str) for label in point_labels
        ):
            raise ProblemError(
                f"point_labels: expected {len(marks_si)} strings (one per point), "
                f"got {point_labels!r}"
            )
    scale = _scales(space)
    prior = _limits(space, None)
    lim_si = _limits(space, limits)
    if zoom:
        given = set(limits or {})
        for j, name in enumerate(space.names):
            if name not in given:
                lim_si[j] = _zoomed(samples[:, j], marks_si[:, j], prior[j], space.log_scaled[j])
    lim = lim_si / scale[:, None]
    shown = samples / scale
    marks = marks_si / scale
    styles = [_POINT_STYLES[k % len(_POINT_STYLES)] for k in range(len(marks))]
    fig, axes = _new_figure(space.dim, figsize)
    log = space.log_scaled
    for i in range(space.dim):
        for j in range(i, space.dim):
            ax = axes[i, j]
            if i == j:
                ax.hist(shown[:, j], bins=_edges(*lim[j], bins + 1, log[j]), color=color, alpha=0.8)
                for m, (colour, _) in zip(marks, styles, strict=True):
                    ax.axvline(m[j], color=colour, lw=1.5)
            else:
                ax.hist2d(
                    shown[:, j],
                    shown[:, i],
                    bins=[_edges(*lim[j], bins + 1, log[j]), _edges(*lim[i], bins + 1, log[i])],
                    cmap="Blues",
                    cmin=1,
                )
                for m, (colour, marker) in zip(marks, styles, strict=True):
                    ax.plot(m[j], m[i], marker, color=colour, ms=5, mec="white", mew=0.5)
            if zoom:
                _prior_box(ax, prior / scale[:, None], i, j, space.display_unit(j))
    _label_grid(axes, space, lim)
    if point_labels:
        _legend(fig, styles, point_labels)
    fig.tight_layout(rect=(0, 0, 1, 0.95) if point_labels else None)
    return fig


#: Colour and marker of each marked point, in order (truth first: red circles).
_POINT_STYLES = (("C3", "o"), ("C1", "s"), ("C2", "^"), ("C4", "D"), ("C5", "v"))


def _zoomed(values: np.ndarray, marks: np.ndarray, prior: np.ndarray, log: bool) -> np.ndarray:
    """Axis limits around ``values`` (and ``marks``), inside the ``prior`` bounds."""
    warp = (np.log, np.exp) if log and prior[0] > 0 else (lambda v: v, lambda v: v)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return prior.copy()
    lo, hi = np.percentile(warp[0](finite), [0.5, 99.5])
    if marks.size:
        lo, hi = min(lo, *warp[0](marks)), max(hi, *warp[0](marks))
    pad = 0.2 * (hi - lo) if hi > lo else 0.05 * abs(warp[0](prior[1]) - warp[0](prior[0]))
    out = warp[1](np.array([lo - pad, hi + pad]))
    return np.array([max(out[0], prior[0]), min(out[1], prior[1])])


def _prior_box(ax: Any, prior: np.ndarray, i: int, j: int, unit: Any) -> None:
    """The prior bounds of a zoomed panel: dashed lines (where in view), range as title."""
    style = {"color": "0.5", "lw": 0.8, "ls": "--"}
    for bound in prior[j]:
        ax.axvline(bound, **style)
    if i == j:
        ax.set_title(f"prior [{prior[j, 0]:.3g}, {prior[j, 1]:.3g}] {unit}",
                     fontsize="small", color="0.4")
    else:
        for bound in prior[i]:
            ax.axhline(bound, **style)


def _legend(fig: Any, styles: Sequence[tuple[str, str]], labels: Sequence[str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour, marker=marker, ls="-", lw=1.5, ms=5)
               for colour, marker in styles]
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4),
               frameon=False, fontsize="small")
