"""The computations behind :class:`~brian2modelfitting_sbi.features.EphysFeatures`: spike
timing features of recorded spikes and the features of one block of traces, on the compiled
kernels of :mod:`._kernels`, with the documented values of undefined features."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..simulation.result import SimulationResult
from . import _kernels
from .catalogue import _AP_SHAPE, _SPIKE_TIMING

__all__ = ["Group", "block_features", "sorted_spikes", "spike_timing"]


@dataclass(frozen=True)
class Group:
    """Stimuli that share one window: which, and the window in samples and seconds."""

    traces: tuple[int, ...]
    lo: int
    hi: int
    start: float
    stop: float
    onset: float
    rest: tuple[int, int] | None  # sample ranges relative to ``lo``
    steady: tuple[int, int] | None
    stimend: tuple[int, int] | None


def sorted_spikes(result: SimulationResult) -> tuple[np.ndarray, np.ndarray]:
    """Recorded spikes as (row, time) sorted by row, then time."""
    if not result.has_spikes:
        raise ValueError("EphysFeatures: spikes were not recorded for this result")
    neuron = np.asarray(result.spike_neuron, dtype=np.int64)
    times = np.asarray(result.spike_times, dtype=float)
    order = np.lexsort((times, neuron))
    return neuron[order], times[order]


def spike_timing(
    row: np.ndarray,
    times: np.ndarray,
    n_rows: int,
    start: np.ndarray,
    stop: np.ndarray,
    onset: np.ndarray,
    wanted: set[str],
    fill: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Spike-time features per row from spikes sorted by (row, time).

    ``start``, ``stop`` and ``onset`` (seconds) hold one value per row; spikes outside
    ``[start, stop)`` are ignored.
    """
    if row.size and (row[0] < 0 or row[-1] >= n_rows):  # the kernel does not check
        raise ValueError(f"EphysFeatures: spikes of neuron {row[0]} or {row[-1]}, with only "
                         f"{n_rows} recorded traces")
    columns = np.empty((n_rows, len(_kernels.TRAIN_COLUMNS)))
    _kernels.spike_train_features(row, times, start, stop, onset, columns)
    return _train_values(dict(zip(_kernels.TRAIN_COLUMNS, columns.T, strict=True)), wanted,
                         fill, start, stop, onset)


def _train_values(
    columns: Mapping[str, np.ndarray],
    wanted: set[str],
    fill: Mapping[str, float],
    start: np.ndarray | float,
    stop: np.ndarray | float,
    onset: np.ndarray | float,
) -> dict[str, np.ndarray]:
    """The spike-timing features in ``wanted`` from the kernels' columns, undefined filled."""
    defaults = {"first_spike_latency": stop - onset, "isi_mean": stop - start, "isi_cv": 0.0,
                "adaptation_index": 0.0}  # fmt: skip
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        if name == "firing_rate":
            out[name] = columns["spike_count"] / (stop - start)
            continue
        values = np.array(columns[name], dtype=float)
        if name in defaults:
            _fill(values, name, fill, defaults[name])
        out[name] = values
    return out


def _fill(values: np.ndarray, name: str, fill: Mapping[str, float], default: Any) -> None:
    """Replace the undefined (NaN) entries of ``values`` in place."""
    undefined = np.isnan(values)
    if not undefined.any():
        return
    value = fill.get(name, default)
    values[undefined] = value[undefined] if np.ndim(value) else value


# ---------------------------------------------------------------------------- trace blocks
def block_features(
    x: np.ndarray,
    g: Group,
    wanted: set[str],
    thr: float | None,
    dt: float,
    fill: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Features of the rows of ``x`` (``(rows, length)``, one window) that need the trace.

    One compiled pass over each row (:mod:`._kernels`; any memory layout) gathers the sums,
    central moments, extremes, threshold crossings and the peak, trough and half-height width
    of each AP; undefined values are then filled here.
    """
    spiking = wanted & _SPIKE_TIMING
    aps = wanted & _AP_SHAPE
    detect = bool(spiking or aps) and thr is not None
    spans = np.zeros((3, 2), dtype=np.int64)
    for k, span in enumerate((g.rest, g.steady, g.stimend)):
        if span is not None:
            spans[k] = span
    if x.dtype != np.float64:
        x = x.astype(np.float64)
    columns = np.empty((x.shape[0], len(_kernels.COLUMNS)))
    _kernels.trace_features(
        x, spans, np.nan if thr is None else thr, detect, bool(aps), "ap_width" in wanted,
        bool(wanted & {"std", "skewness", "kurtosis"}), g.lo, dt, g.start, g.stop, g.onset,
        columns,
    )  # fmt: skip
    col = dict(zip(_kernels.COLUMNS, columns.T, strict=True))
    out: dict[str, np.ndarray] = {}
    for name in wanted - spiking - aps:
        values = np.array(col[name], dtype=float)
        if name in ("skewness", "kurtosis"):
            _fill(values, name, fill, 0.0)
        out[name] = values
    if spiking:
        out.update(_train_values(col, spiking, fill, g.start, g.stop, g.onset))
    if wanted & {"ap_peak", "ap_amplitude"}:
        peak, vmax, rest = col["ap_peak"], col["max"], col["resting_potential"]
        if "ap_peak" in wanted:
            values = np.array(peak, dtype=float)
            _fill(values, "ap_peak", fill, vmax)
            out["ap_peak"] = values
        if "ap_amplitude" in wanted:
            with np.errstate(invalid="ignore"):  # inf - inf: rows with non-finite values
                values, default = peak - rest, vmax - rest
            _fill(values, "ap_amplitude", fill, default)
            out["ap_amplitude"] = values
    if "ap_width" in wanted:  # undefined only without AP (NaN: no AP with a width)
        values = np.array(col["ap_width"], dtype=float)
        values[col["n_ap"] == 0] = fill.get("ap_width", 0.0)
        out["ap_width"] = values
    bad = ~np.isfinite(col["mean"])
    if bad.any():
        out = {name: np.where(bad, np.nan, values) for name, values in out.items()}
    return out
