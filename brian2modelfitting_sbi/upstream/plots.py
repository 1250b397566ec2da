"""brian2modelfitting's ``pairplot`` and ``conditional_pairplot`` forms, on pyplot figures.

Upstream's methods hand their arguments to ``sbi.analysis`` and return ``(fig, axes)`` of a
pyplot figure (so a script's final ``show()`` shows them). The same arguments are read
here: ``samples`` (array ``(n, d)`` of SI floats; default: the last ``sample(shape)``),
``points``, ``limits`` and ``ticks`` (dicts of quantities), ``subset`` (names), ``labels``
(dict of strings), ``figsize``, and sbi's options ``points_colors``, ``points_offdiag``,
``points_diag``, ``samples_colors``, ``hist_diag``, ``hist_offdiag``, ``resolution``.
Values are drawn in each parameter's display unit and axes default to ``name [unit]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..errors import ProblemError
from ..posterior.conditional_plots import check_resolution, grid_log_density, normalized
from ..posterior.plots import axis_label, points_array
from .arguments import check_names, condition_rows, subset_index, unknown_keywords
from .results import require_result, sample

__all__ = ["conditional_pairplot", "pairplot"]

#: sbi plot options understood here (upstream passes them through to ``sbi.analysis``).
PLOT_OPTIONS = (
    "figsize",
    "points_colors",
    "points_offdiag",
    "points_diag",
    "samples_colors",
    "hist_diag",
    "hist_offdiag",
)


def _check_options(where: str, kwargs: Mapping[str, Any], extra: tuple = ()) -> None:
    unknown = [k for k in kwargs if k not in PLOT_OPTIONS + extra]
    if unknown:
        raise unknown_keywords(where, unknown, [*PLOT_OPTIONS, *extra])


def _scales(inferencer: Any) -> np.ndarray:
    space = inferencer.space
    return np.array([float(space.display_unit(j)) for j in range(space.dim)])


def _pairs(inferencer: Any, where: str, values: Any) -> np.ndarray:
    """``{name: [a, b]}`` (quantities) → display-unit ``(d, 2)``, prior bounds elsewhere."""
    space = inferencer.space
    out = np.stack([space.lower, space.upper], axis=1).astype(float)
    if values is None:
        return out / _scales(inferencer)[:, None]
    if not isinstance(values, Mapping):
        raise ProblemError(f"{where}: expected a dict name -> [lower, upper] with units")
    check_names(space.names, where, list(values))
    for name, pair in values.items():
        if len(pair) != 2:
            raise ProblemError(f"{where}[{name!r}]: expected [lower, upper], got {pair!r}")
        out[space.names.index(name)] = float(pair[0]), float(pair[1])
    return out / _scales(inferencer)[:, None]


def _labels(inferencer: Any, labels: Any) -> list[str]:
    space = inferencer.space
    labels = dict(labels or {})
    check_names(space.names, "labels", list(labels))
    return [str(labels.get(name, axis_label(space, j))) for j, name in enumerate(space.names)]


def _points(inferencer: Any, points: Any) -> np.ndarray:
    if points is None:
        return np.empty((0, inferencer.space.dim))
    return points_array(inferencer.space, points) / _scales(inferencer)


def _grid(
    inferencer: Any, index: list[int], figsize: Any
) -> tuple[Any, np.ndarray]:
    import matplotlib.pyplot as plt

    k = len(index)
    size = figsize or (max(3.0, 2.3 * k), max(3.0, 2.3 * k))
    fig, axes = plt.subplots(k, k, figsize=size, squeeze=False)
    return fig, axes


def _finish(axes: np.ndarray, index: list[int], lim: np.ndarray, ticks: Any,
            labels: list[str]) -> None:
    for a, i in enumerate(index):
        for b, j in enumerate(index):
            ax = axes[a, b]
            if a > b:
                ax.set_axis_off()
                continue
            ax.set_xlim(*lim[j])
            if ticks is not None:
                ax.set_xticks(ticks[j])
            if a == b:
                ax.set_yticks([])
                ax.set_xlabel(labels[j])
            else:
                ax.set_ylim(*lim[i])
                if ticks is not None:
                    ax.set_yticks(ticks[i])


def _marks(ax: Any, points: np.ndarray, colors: Any, diag: bool, j: int, i: int = 0,
           offdiag: Mapping | None = None, diag_kw: Mapping | None = None) -> None:
    for n, point in enumerate(points):
        color = colors[n % len(colors)] if colors else "C3"
        if diag:
            ax.axvline(point[j], color=color, **dict(diag_kw or {}))
        else:
            ax.plot(point[j], point[i], "o", color=color, **dict(offdiag or {}))


def pairplot(inferencer: Any, samples: Any = None, points: Any = None, limits: Any = None,
             subset: Any = None, labels: Any = None, ticks: Any = None, seed: int | None = 0,
             **kwargs: Any) -> tuple[Any, np.ndarray]:
    """Upstream's ``pairplot``: histograms of ``samples`` (default: the last
    ``sample(shape)``, else 2000 fresh draws); returns ``(fig, axes)`` of a pyplot figure."""
    _check_options("pairplot", kwargs)
    require_result(inferencer)
    if samples is None:
        samples = inferencer.samples
    if samples is None or isinstance(samples, int | np.integer):
        samples = sample(inferencer, (2000 if samples is None else int(samples),), seed=seed)
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    d = inferencer.space.dim
    values = np.asarray(samples, dtype=float).reshape(-1, d) / _scales(inferencer)
    index = subset_index(inferencer.space, subset) or list(range(d))
    lim = _pairs(inferencer, "limits", limits)
    tick = None if ticks is None else _pairs(inferencer, "ticks", ticks)
    marks = _points(inferencer, points)
    color = (kwargs.get("samples_colors") or ["C0"])[0]
    fig, axes = _grid(inferencer, index, kwargs.get("figsize"))
    for a, i in enumerate(index):
        for b, j in enumerate(index):
            ax = axes[a, b]
            if a == b:
                ax.hist(values[:, j], bins=np.linspace(*lim[j], 41), color=color,
                        **dict(kwargs.get("hist_diag") or {}))
                _marks(ax, marks, kwargs.get("points_colors"), True, j,
                       diag_kw=kwargs.get("points_diag"))
            elif a < b:
                ax.hist2d(values[:, j], values[:, i],
                          bins=[np.linspace(*lim[j], 41), np.linspace(*lim[i], 41)],
                          cmap="Blues", cmin=1, **dict(kwargs.get("hist_offdiag") or {}))
                _marks(ax, marks, kwargs.get("points_colors"), False, j, i,
                       offdiag=kwargs.get("points_offdiag"))
    _finish(axes, index, lim, tick, _labels(inferencer, labels))
    return fig, axes


def conditional_pairplot(inferencer: Any, condition: Any, density: Any = None, points: Any = None,
                         limits: Any = None, subset: Any = None, labels: Any = None,
                         ticks: Any = None, resolution: int = 50,
                         **kwargs: Any) -> tuple[Any, np.ndarray]:
    """Upstream's ``conditional_pairplot``: density slices through ``condition`` (an array
    from ``sample((1,))``); returns ``(fig, axes)`` of a pyplot figure."""
    _check_options("conditional_pairplot", kwargs)
    result = require_result(inferencer)
    space = inferencer.space
    posterior = density or result.estimate
    point = condition_rows(space, condition, result.map_array)[0]
    resolution = check_resolution(resolution)
    scale = _scales(inferencer)
    index = subset_index(inferencer.space, subset) or list(range(space.dim))
    lim = _pairs(inferencer, "limits", limits)
    tick = None if ticks is None else _pairs(inferencer, "ticks", ticks)
    marks = _points(inferencer, points)
    lim_si = lim * scale[:, None]
    fig, axes = _grid(inferencer, index, kwargs.get("figsize"))
    for a, i in enumerate(index):
        for b, j in enumerate(index):
            ax = axes[a, b]
            if a == b:
                (grid,), logp = grid_log_density(posterior, space, point, [j], lim_si, resolution)
                ax.plot(grid / scale[j], normalized(logp))
                _marks(ax, marks, kwargs.get("points_colors"), True, j,
                       diag_kw=kwargs.get("points_diag"))
            elif a < b:
                (gi, gj), logp = grid_log_density(
                    posterior, space, point, [i, j], lim_si, resolution
                )
                ax.pcolormesh(gj / scale[j], gi / scale[i], normalized(logp), shading="nearest")
                _marks(ax, marks, kwargs.get("points_colors"), False, j, i,
                       offdiag=kwargs.get("points_offdiag"))
    _finish(axes, index, lim, tick, _labels(inferencer, labels))
    return fig, axes
