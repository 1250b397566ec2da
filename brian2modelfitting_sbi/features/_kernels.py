"""Compiled (numba) kernels of :class:`~brian2modelfitting_sbi.features.EphysFeatures`.

The definitions of the features are documented in :mod:`.library`; this module implements
them. Each trace is read once, in time order, by a state machine that keeps per-trace running
values: the sum, extremes and central moments of the trace, the threshold crossings, and the
peak, trough and half-height width of each action potential (AP). Spike times feed running
inter-spike interval (ISI) statistics; recorded spikes go through the same update.

A trace can be processed whole or in consecutive time segments, with the same result: rows
that are contiguous in memory are processed whole, one after another; traces in other layouts
(such as the time-major memory of a Brian 2 ``StateMonitor``) are copied, in memory order, in
tiles of a few hundred traces by a few hundred time steps into a small buffer that stays in
the CPU cache, and processed from there segment by segment. Within a segment, runs of samples
that stay on one side of the threshold are summarized with SIMD instructions; only the
samples around threshold crossings go through the state machine one by one.

Undefined values come out as NaN; the caller replaces them by the documented defaults. The
first call compiles the kernels (a few seconds); the machine code is cached on disk
(``cache=True``), so later processes load it in a fraction of a second.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["COLUMNS", "TRAIN_COLUMNS", "spike_train_features", "trace_features"]

#: Columns of the output of :func:`trace_features`, in order.
COLUMNS = (
    "mean", "std", "skewness", "kurtosis", "max", "min",
    "resting_potential", "steady_state", "steady_state_stimend",
    "spike_count", "first_spike_latency", "isi_mean", "isi_cv", "adaptation_index",
    "n_ap", "ap_peak", "ap_width",
)  # fmt: skip
#: Columns of the output of :func:`spike_train_features` (the same as in ``COLUMNS``).
TRAIN_COLUMNS = COLUMNS[9:14]
_SPAN_COL = 6
_TRAIN_COL = 9
_AP_COL = 14

# Per-trace running state (one float64 row per trace; flags and indices are exact floats).
_TOTAL, _MAX, _MIN, _BAD = 0, 1, 2, 3
_MOM_N, _MOM_MEAN, _M2, _M3, _M4 = 4, 5, 6, 7, 8
_SPAN = 9  # three span sums: 9, 10, 11
_IN_AP, _ABOVE, _SEG_MIN, _TROUGH, _PEAK, _PEAK_AT, _PREV_END = 12, 13, 14, 15, 16, 17, 18
_PENDING, _LEVEL, _T_RISE = 19, 20, 21
_N_AP, _PEAK_SUM, _WIDTH_SUM, _N_WIDTH = 22, 23, 24, 25
_N_STATE = 26

# Running state of a spike train.
_COUNT, _LATENCY, _LAST_T, _N_ISI, _ISI_SUM, _ISI_MEAN, _ISI_M2, _LAST_ISI = 0, 1, 2, 3, 4, 5, 6, 7
_RATIO_SUM, _N_PAIRS = 8, 9
_N_TRAIN = 10

#: Traces and time steps of a tile of traces that are not C-contiguous (a 512 KiB buffer).
_TILE_ROWS = 256
_TILE_STEPS = 256
#: Samples summarized at once while a trace stays on one side of the threshold.
_BLOCK = 64
#: A variance below ``(_RESOLUTION * mean) ** 2`` is that of a constant (as in scipy.stats).
_RESOLUTION = np.finfo(np.float64).resolution


# ---------------------------------------------------------------------------- spike trains
@njit(cache=True, nogil=True)
def _train_init(tr: np.ndarray) -> None:
    tr[:] = 0.0
    tr[_LATENCY] = np.nan
    tr[_LAST_T] = np.nan


@njit(cache=True, nogil=True)
def _add_spike(tr: np.ndarray, t: float, start: float, stop: float, onset: float) -> None:
    """Add a spike at time ``t`` (in time order) to the running train statistics ``tr``."""
    if not (start <= t < stop):
        return
    tr[_COUNT] += 1.0
    if np.isnan(tr[_LATENCY]) and t >= onset:
        tr[_LATENCY] = t - onset
    last = tr[_LAST_T]
    tr[_LAST_T] = t
    if np.isnan(last):
        return
    isi = t - last
    n = tr[_N_ISI] + 1.0
    tr[_N_ISI] = n
    tr[_ISI_SUM] += isi
    delta = isi - tr[_ISI_MEAN]  # Welford's update of the ISI variance
    tr[_ISI_MEAN] += delta / n
    tr[_ISI_M2] += delta * (isi - tr[_ISI_MEAN])
    if n >= 2.0:
        previous = tr[_LAST_ISI]
        tr[_RATIO_SUM] += (isi - previous) / (isi + previous)
        tr[_N_PAIRS] += 1.0
    tr[_LAST_ISI] = isi


@njit(cache=True, nogil=True)
def _train_finish(tr: np.ndarray, out: np.ndarray) -> None:
    """Spike count, first-spike latency, ISI mean, ISI CV, adaptation index (NaN: undefined)."""
    n_isi = tr[_N_ISI]
    out[0] = tr[_COUNT]
    out[1] = tr[_LATENCY]
    out[2] = tr[_ISI_SUM] / n_isi if n_isi >= 1.0 else np.nan
    out[3] = np.sqrt(tr[_ISI_M2] / (n_isi - 1.0)) / out[2] if n_isi >= 2.0 else np.nan
    out[4] = tr[_RATIO_SUM] / tr[_N_PAIRS] if tr[_N_PAIRS] >= 1.0 else np.nan


@njit(cache=True, nogil=True)
def spike_train_features(
    row: np.ndarray,
    times: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    onset: np.ndarray,
    out: np.ndarray,
) -> None:
    """Spike-timing features of recorded spikes.

    Parameters
    ----------
    row, times : numpy.ndarray
        Row (trace) index and time in seconds of each spike, sorted by row, then time.
    start, stop, onset : numpy.ndarray
        Per row: window start and end (spikes outside ``[start, stop)`` are ignored) and the
        reference time of the first-spike latency, in seconds.
    out : numpy.ndarray
        ``(n_rows, len(TRAIN_COLUMNS))``, filled with the features (NaN: undefined).
    """
    n_rows = out.shape[0]
    tr = np.empty((n_rows, _N_TRAIN))
    for r in range(n_rows):
        _train_init(tr[r])
    for j in range(times.shape[0]):
        r = row[j]
        _add_spike(tr[r], times[j], start[r], stop[r], onset[r])
    for r in range(n_rows):
        _train_finish(tr[r], out[r])


# ---------------------------------------------------------------------------- trace segments
def _extremum(name: str):  # noqa: ANN202 - builds a numba intrinsic
    """``llvm.maxnum``/``llvm.minnum`` of two floats, assuming no NaN (so that it vectorizes).

    Only called on data known to be finite (a finite sum), where it is the plain max/min.
    """

    def typer(typingctx, a, b):  # noqa: ANN001, ANN202
        def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
            double = ir.DoubleType()
            fn = builder.module.declare_intrinsic(
                f"llvm.{name}", [double], ir.FunctionType(double, [double, double])
            )
            return builder.call(fn, args, fastmath=("nnan", "nsz"))

        return types.float64(types.float64, types.float64), codegen

    typer.__name__ = f"_{name}"
    return intrinsic(typer)


_fmax = _extremum("maxnum")
_fmin = _extremum("minnum")


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _sum(v: np.ndarray, t0: int, t1: int) -> float:
    """Sum of ``v[t0:t1]`` (reassociated: SIMD; NaN or inf give a non-finite sum)."""
    total = 0.0
    for i in range(t0, t1):
        total += v[i]
    return total


@njit(cache=True, nogil=True)
def _extremes(v: np.ndarray, t0: int, t1: int) -> tuple[float, float]:
    """Maximum and minimum of ``v[t0:t1]``, which must be finite (SIMD)."""
    vmax = vmin = v[t0]
    for i in range(t0, t1):
        vmax = _fmax(vmax, v[i])
        vmin = _fmin(vmin, v[i])
    return vmax, vmin


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _central_sums(w: np.ndarray, mean: float) -> tuple[float, float, float, float]:
    """Sums of the 1st to 4th powers of ``w - mean`` (reassociated: SIMD)."""
    m1 = m2 = m3 = m4 = 0.0
    for i in range(w.shape[0]):
        d = w[i] - mean
        d2 = d * d
        m1 += d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return m1, m2, m3, m4


@njit(cache=True, nogil=True)
def _add_moments(s: np.ndarray, w: np.ndarray, total: float) -> None:
    """Merge the central moments of the segment ``w`` (sum ``total``) into the running ones.

    The segment's moments are taken about ``total / n`` and corrected by the mean deviation
    from it (exact for a constant trace); segments are merged with Pébay's formulas.
    """
    nb = float(w.shape[0])
    mean_b = total / nb
    m1, m2b, m3b, m4b = _central_sums(w, mean_b)
    e = m1 / nb
    m4b += e * (-4.0 * m3b + e * (6.0 * m2b - 3.0 * e * m1))
    m3b += e * (-3.0 * m2b + 2.0 * e * m1)
    m2b -= e * m1
    mean_b += e
    na = s[_MOM_N]
    if na == 0.0:
        s[_MOM_N], s[_MOM_MEAN], s[_M2], s[_M3], s[_M4] = nb, mean_b, m2b, m3b, m4b
        return
    n = na + nb
    delta = mean_b - s[_MOM_MEAN]
    d_n = delta / n
    m2a, m3a = s[_M2], s[_M3]
    s[_M4] += (m4b + delta * d_n**3 * na * nb * (na * na - na * nb + nb * nb)
               + 6.0 * d_n * d_n * (na * na * m2b + nb * nb * m2a)
               + 4.0 * d_n * (na * m3b - nb * m3a))
    s[_M3] += m3b + delta * d_n * d_n * na * nb * (na - nb) + 3.0 * d_n * (na * m2b - nb * m2a)
    s[_M2] += m2b + delta * d_n * na * nb
    s[_MOM_MEAN] += d_n * nb
    s[_MOM_N] = n


@njit(cache=True, nogil=True)
def _rise_at(v: np.ndarray, r: int, level: float) -> float:
    """Where ``v`` rises through ``level`` between samples ``r`` and ``r + 1`` (in samples)."""
    return r + (level - v[r]) / (v[r + 1] - v[r])


@njit(cache=True, nogil=True)
def _fall_at(v: np.ndarray, f: int, level: float) -> float:
    """Where ``v`` falls through ``level`` between samples ``f - 1`` and ``f`` (in samples)."""
    return (f - 1) + (v[f - 1] - level) / (v[f - 1] - v[f])


@njit(cache=True, nogil=True)
def _end_ap(s: np.ndarray, v: np.ndarray, end: int, widths: bool, dt: float) -> None:
    """Close the AP that ends at sample ``end`` (first sample below threshold, or the row end).

    Its half-height level is crossed on the rise at the last sample below it before the peak
    (after the previous AP's end), and on the fall at the first sample below it after the peak;
    a fall crossing not found by ``end`` is searched on (``_PENDING``) until the next AP.
    """
    peak = s[_PEAK]
    s[_N_AP] += 1.0
    s[_PEAK_SUM] += peak
    s[_IN_AP] = 0.0
    s[_PENDING] = 0.0  # the search of the previous AP's fall ended at this AP's start
    if not widths:
        return
    level = 0.5 * (peak + s[_TROUGH])
    peak_at, before = int(s[_PEAK_AT]), int(s[_PREV_END])
    r = peak_at - 1
    while r >= before and v[r] >= level:
        r -= 1
    if r < before:  # cannot happen for finite values: the trough lies below the level
        return
    t_rise = _rise_at(v, r, level)
    limit = min(end, v.shape[0] - 1)
    f = peak_at + 1
    while f <= limit and v[f] >= level:
        f += 1
    if f <= limit:
        s[_WIDTH_SUM] += (_fall_at(v, f, level) - t_rise) * dt
        s[_N_WIDTH] += 1.0
    elif end < v.shape[0]:
        s[_PENDING], s[_LEVEL], s[_T_RISE] = 1.0, level, t_rise


@njit(cache=True, nogil=True)
def _scan(
    s: np.ndarray,
    tr: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    t0: int,
    t1: int,
    thr: float,
    aps: bool,
    widths: bool,
    lo: int,
    dt: float,
    start: float,
    stop: float,
    onset: float,
) -> tuple[float, float]:
    """Threshold crossings, AP peaks, troughs and widths in ``v[t0:t1]``; its max and min.

    ``w`` holds ``v[t0:t1]`` contiguously (``w[i - t0] == v[i]``), which must be finite; ``v``
    (the whole trace) is only read around an AP for its width. A spike (an AP start) is a
    sample ``i >= 1`` with ``v[i - 1] < thr <= v[i]``; its AP ends at the next sample below
    ``thr``. The trough of an AP is the minimum since the previous AP's end (or the row
    start). Blocks of ``_BLOCK`` samples that stay on one side of the threshold (and hold no
    awaited crossing) are summarized by their extremes; the others are looked at sample by
    sample.
    """
    in_ap = s[_IN_AP] != 0.0
    above = s[_ABOVE] != 0.0
    pending = s[_PENDING] != 0.0
    seg_min, peak, peak_at = s[_SEG_MIN], s[_PEAK], int(s[_PEAK_AT])
    vmax = vmin = w[0]
    i = max(t0, 1)  # a spike needs the sample before it
    while i < t1:
        j = min(i + _BLOCK, t1)
        bmax, bmin = _extremes(w, i - t0, j - t0)
        vmax = max(vmax, bmax)
        vmin = min(vmin, bmin)
        if in_ap:
            if bmin >= thr:  # the AP goes on
                if bmax > peak:
                    peak = bmax
                    peak_at = i
                    while w[peak_at - t0] != bmax:
                        peak_at += 1
                i = j
                continue
        elif bmax < thr and not (pending and bmin < s[_LEVEL]):  # no spike, no crossing
            above = False
            seg_min = min(seg_min, bmin)
            i = j
            continue
        for k in range(i, j):
            x = w[k - t0]
            if in_ap:
                if x >= thr:
                    if x > peak:
                        peak, peak_at = x, k
                    continue
                s[_PEAK], s[_PEAK_AT] = peak, peak_at
                if aps:
                    _end_ap(s, v, k, widths, dt)
                    pending = s[_PENDING] != 0.0
                in_ap = above = False
                s[_PREV_END] = k
                seg_min = x
            elif x >= thr:
                if not above:  # a spike
                    _add_spike(tr, (lo + k) * dt, start, stop, onset)
                    pending = False
                    in_ap = True
                    s[_TROUGH] = seg_min
                    peak, peak_at = x, k
                above = True
            else:
                above = False
                if x < seg_min:
                    seg_min = x
                if pending and x < s[_LEVEL]:
                    s[_WIDTH_SUM] += (_fall_at(v, k, s[_LEVEL]) - s[_T_RISE]) * dt
                    s[_N_WIDTH] += 1.0
                    pending = False
        i = j
    s[_IN_AP] = 1.0 if in_ap else 0.0
    s[_ABOVE] = 1.0 if above else 0.0
    s[_PENDING] = 1.0 if pending else 0.0
    s[_SEG_MIN], s[_PEAK], s[_PEAK_AT] = seg_min, peak, float(peak_at)
    return vmax, vmin


@njit(cache=True, nogil=True)
def _init(s: np.ndarray, tr: np.ndarray, v: np.ndarray, thr: float) -> None:
    s[:] = 0.0
    s[_MAX] = s[_MIN] = s[_SEG_MIN] = v[0]
    s[_ABOVE] = 1.0 if v[0] >= thr else 0.0
    _train_init(tr)


@njit(cache=True, nogil=True)
def _segment(
    s: np.ndarray,
    tr: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    t0: int,
    spans: np.ndarray,
    thr: float,
    detect: bool,
    aps: bool,
    widths: bool,
    moments: bool,
    lo: int,
    dt: float,
    start: float,
    stop: float,
    onset: float,
) -> None:
    """Advance the state ``s`` (and spike train ``tr``) of trace ``v`` over ``v[t0:t1]``.

    ``w`` holds ``v[t0:t1]`` contiguously. A segment with NaN or infinite values (a
    non-finite sum) marks the trace as invalid (``_BAD``); its later segments are skipped.
    """
    if s[_BAD] != 0.0:
        return
    n = w.shape[0]
    t1 = t0 + n
    total = _sum(w, 0, n)
    if not np.isfinite(total):
        s[_BAD] = 1.0
        return
    s[_TOTAL] += total
    if detect:
        vmax, vmin = _scan(s, tr, v, w, t0, t1, thr, aps, widths, lo, dt, start, stop, onset)
    else:
        vmax, vmin = _extremes(w, 0, n)
    s[_MAX] = max(s[_MAX], vmax)
    s[_MIN] = min(s[_MIN], vmin)
    for k in range(3):
        a, b = max(spans[k, 0], t0), min(spans[k, 1], t1)
        if a < b:
            s[_SPAN + k] += _sum(w, a - t0, b - t0)
    if moments:
        _add_moments(s, w, total)


@njit(cache=True, nogil=True)
def _finish(s: np.ndarray, tr: np.ndarray, v: np.ndarray, spans: np.ndarray, widths: bool,
            dt: float, out: np.ndarray) -> None:
    """Features of trace ``v`` from its final state, in ``COLUMNS`` order (NaN: undefined).

    Every feature of an invalid trace (NaN or infinite values) is NaN.
    """
    if s[_BAD] != 0.0:
        out[:] = np.nan
        return
    length = v.shape[0]
    if s[_IN_AP] != 0.0:  # an AP still above threshold at the row end ends there
        _end_ap(s, v, length, widths, dt)
    mean = s[_TOTAL] / length
    out[0] = mean
    m2 = max(s[_M2] / length, 0.0)
    out[1] = np.sqrt(m2)
    if m2 <= (_RESOLUTION * mean) ** 2:  # constant: no skewness or kurtosis
        out[2] = out[3] = np.nan
    else:
        out[2] = s[_M3] / length / m2**1.5
        out[3] = s[_M4] / length / m2**2 - 3.0
    out[4], out[5] = s[_MAX], s[_MIN]
    for k in range(3):
        n = spans[k, 1] - spans[k, 0]
        out[_SPAN_COL + k] = s[_SPAN + k] / n if n > 0 else np.nan
    _train_finish(tr, out[_TRAIN_COL : _TRAIN_COL + 5])
    n_ap = s[_N_AP]
    out[_AP_COL] = n_ap
    out[_AP_COL + 1] = s[_PEAK_SUM] / n_ap if n_ap > 0 else np.nan
    out[_AP_COL + 2] = s[_WIDTH_SUM] / s[_N_WIDTH] if s[_N_WIDTH] > 0 else np.nan


@njit(cache=True, nogil=True)
def _load_tile(x: np.ndarray, r0: int, r1: int, t0: int, t1: int, buf: np.ndarray) -> None:
    """Copy ``x[r0:r1, t0:t1]`` into ``buf`` (rows contiguous), reading ``x`` in memory order."""
    if x.strides[1] > x.strides[0]:  # time-major: 8 x 8 blocks, each a few cache lines
        for tb in range(t0, t1, 8):
            te = min(tb + 8, t1)
            for rb in range(r0, r1, 8):
                re = min(rb + 8, r1)
                for t in range(tb, te):
                    for r in range(rb, re):
                        buf[r - r0, t - t0] = x[r, t]
    else:
        for r in range(r0, r1):
            for t in range(t0, t1):
                buf[r - r0, t - t0] = x[r, t]


@njit(cache=True, nogil=True)
def _rows_kernel(
    x: np.ndarray,
    spans: np.ndarray,
    thr: float,
    detect: bool,
    aps: bool,
    widths: bool,
    moments: bool,
    lo: int,
    dt: float,
    start: float,
    stop: float,
    onset: float,
    out: np.ndarray,
) -> None:
    """:func:`trace_features` for C-contiguous traces: one whole row after another."""
    n_rows = x.shape[0]
    state = np.empty((n_rows, _N_STATE))
    trains = np.empty((n_rows, _N_TRAIN))
    for r in range(n_rows):
        v = x[r]
        _init(state[r], trains[r], v, thr)
        _segment(state[r], trains[r], v, v, 0, spans, thr, detect, aps, widths, moments, lo, dt,
                 start, stop, onset)
        _finish(state[r], trains[r], v, spans, widths, dt, out[r])


@njit(cache=True, nogil=True)
def _tiles_kernel(
    x: np.ndarray,
    spans: np.ndarray,
    thr: float,
    detect: bool,
    aps: bool,
    widths: bool,
    moments: bool,
    lo: int,
    dt: float,
    start: float,
    stop: float,
    onset: float,
    out: np.ndarray,
) -> None:
    """:func:`trace_features` for traces in any memory layout (time-major, strided...).

    Tiles of ``_TILE_ROWS`` traces by ``_TILE_STEPS`` time steps are copied, in memory order,
    into a contiguous buffer that stays in the CPU cache, and processed from there.
    """
    n_rows, length = x.shape
    state = np.empty((n_rows, _N_STATE))
    trains = np.empty((n_rows, _N_TRAIN))
    # rows padded by a cache line: a power-of-two stride would map them onto few cache sets
    buf = np.empty((min(n_rows, _TILE_ROWS), min(length, _TILE_STEPS) + 8))
    for r0 in range(0, n_rows, _TILE_ROWS):
        r1 = min(n_rows, r0 + _TILE_ROWS)
        for r in range(r0, r1):
            _init(state[r], trains[r], x[r], thr)
        for t0 in range(0, length, _TILE_STEPS):
            t1 = min(length, t0 + _TILE_STEPS)
            _load_tile(x, r0, r1, t0, t1, buf)
            for r in range(r0, r1):
                _segment(state[r], trains[r], x[r], buf[r - r0, : t1 - t0], t0, spans, thr,
                         detect, aps, widths, moments, lo, dt, start, stop, onset)
        for r in range(r0, r1):
            _finish(state[r], trains[r], x[r], spans, widths, dt, out[r])


#: The one compiled version of ``_tiles_kernel``: arrays of any layout ("A"), so that C-, F-
#: and non-contiguous arrays do not each compile a version of their own.
_TILES_SIGNATURE = (
    "void(float64[:, :], int64[:, :], float64, boolean, boolean, boolean, boolean, int64, "
    "float64, float64, float64, float64, float64[:, :])"
)


def trace_features(
    x: np.ndarray,
    spans: np.ndarray,
    thr: float,
    detect: bool,
    aps: bool,
    widths: bool,
    moments: bool,
    lo: int,
    dt: float,
    start: float,
    stop: float,
    onset: float,
    out: np.ndarray,
) -> None:
    """Features of each row of ``x`` (one trace each, inside one analysis window).

    Parameters
    ----------
    x : numpy.ndarray
        ``(n_rows, length)`` float64 traces in any memory layout: C-contiguous rows are
        processed whole, other layouts (e.g. the time-major memory of a ``StateMonitor``) in
        cache-sized tiles, without copying the array.
    spans : numpy.ndarray
        ``(3, 2)`` int64 sample ranges ``[a, b)`` (relative to the window start) whose means
        are the columns ``resting_potential``, ``steady_state`` and ``steady_state_stimend``;
        an empty range (``a >= b``) gives NaN.
    thr : float
        Spike threshold (used when ``detect``).
    detect, aps, widths, moments : bool
        Detect threshold crossings (spikes); analyse APs (peaks); measure AP widths (needs
        ``aps``); compute the central moments (``std``, ``skewness``, ``kurtosis``).
    lo : int
        Index of the window's first sample in the recording: spike ``i`` is at
        ``(lo + i) * dt``.
    dt, start, stop, onset : float
        Sampling step, window start and end, and reference of the first-spike latency, in
        seconds.
    out : numpy.ndarray
        ``(n_rows, len(COLUMNS))`` float64, filled with the features (NaN: undefined; every
        column NaN for a trace with NaN or infinite values). Columns not asked for (spikes
        without ``detect``, APs without ``aps``...) hold meaningless values.
    """
    args = (spans, float(thr), bool(detect), bool(aps), bool(widths), bool(moments), int(lo),
            float(dt), float(start), float(stop), float(onset), out)  # fmt: skip
    if not x.flags.writeable:  # numba types read-only arrays apart: one compiled version less
        x = np.array(x)
    if x.flags.c_contiguous:
        _rows_kernel(x, *args)
        return
    if not _tiles_kernel.signatures:
        _tiles_kernel.compile(_TILES_SIGNATURE)  # or load it from the cache
        _tiles_kernel.disable_compile()
    _tiles_kernel(x, *args)
