"""Electrophysiology summary features, computed on whole arrays of traces.

:class:`EphysFeatures` computes named features of one recorded variable for every sample and
stimulus at once: the traces of a chunk, ``(n_samples, n_traces, n_steps)``, are processed in
cache-sized blocks of rows with array operations (``np.bincount``, ``ufunc.reduceat``...);
there is no Python loop over traces or spikes.

Features (values in SI units: volts, seconds, hertz; "var" is the unit of the variable)
----------------------------------------------------------------------------------------

=======================  ======  ===========================================================
name                     unit    definition (inside the window)
=======================  ======  ===========================================================
spike_count              1       number of spikes
firing_rate              Hz      spike_count / window duration
first_spike_latency      s       first spike at or after the stimulus onset, minus the onset
                                 (the window start when no ``stimulus`` is given)
isi_mean                 s       mean inter-spike interval
isi_cv                   1       std (ddof=1) / mean of the inter-spike intervals
adaptation_index         1       mean of (ISI[i+1] - ISI[i]) / (ISI[i+1] + ISI[i])
mean, std                var     mean and standard deviation (ddof=0) of the trace
skewness, kurtosis       1       moment skewness and excess kurtosis (``scipy.stats`` defaults)
max, min                 var     extreme values of the trace
resting_potential        var     mean from the window start to the stimulus onset
steady_state             var     mean from the stimulus end to the window end
steady_state_stimend     var     mean over the last 10 % of the stimulus
ap_peak                  var     mean over APs of the maximum between threshold crossings
ap_amplitude             var     ap_peak - resting_potential
ap_width                 s       mean AP width at half height: time above
                                 (peak + trough) / 2, trough = minimum since the previous AP
                                 (or the window start); crossings linearly interpolated
=======================  ======  ===========================================================

Spikes are either the recorded spike times (when spikes are observed, ``output_var='spikes'``;
needed for integrate-and-fire models, whose reset hides the spike in the trace) or, with
``threshold=``, the upward crossings of the threshold by the trace: a spike at sample ``i``
when ``v[i - 1] < threshold <= v[i]``, at time ``i * dt``. AP features always need
``threshold=``. An AP runs from its upward crossing to the next downward one.

Undefined values
----------------
With too few spikes some features are undefined; they then take these documented values, so
that non-spiking simulations stay in the training set (``fill=`` replaces them by a constant,
e.g. ``fill=np.nan`` to discard such simulations as invalid):

* ``first_spike_latency`` without a spike: the time from the onset to the window end;
* ``isi_mean`` with fewer than 2 spikes: the window duration;
* ``isi_cv``, ``adaptation_index`` with fewer than 3 spikes: 0;
* ``skewness``, ``kurtosis`` of a constant trace: 0;
* ``ap_peak`` without an AP: the maximum of the trace; ``ap_amplitude``: that maximum minus
  the resting potential; ``ap_width``: 0 (an AP whose trace never falls back below half
  height before the next AP or the window end has no width and is left out of the mean).

A trace with NaN or infinite values gives NaN for every feature (an invalid simulation).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, second
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from ..problem import SPIKES, Problem, ProblemError
from ..simulation.network import Recording
from ..simulation.result import SimulationResult
from .base import FeatureProvider, feature_major, per_trace_names

__all__ = ["FEATURES", "EphysFeatures", "FeatureInfo"]


@dataclass(frozen=True)
class FeatureInfo:
    """Documentation of one library feature.

    Attributes
    ----------
    unit : str
        ``'var'`` (the unit of the analysed variable), ``'second'``, ``'Hz'`` or ``'1'``.
    kind : str
        ``'spikes'`` (spike times), ``'trace'`` (trace statistics) or ``'ap'`` (AP shape).
    description : str
        What the feature is.
    stimulus : bool
        Whether it needs ``stimulus=(start, stop)``.
    """

    unit: str
    kind: str
    description: str
    stimulus: bool = False


#: The features of :class:`EphysFeatures`, by name.
FEATURES: dict[str, FeatureInfo] = {
    "spike_count": FeatureInfo("1", "spikes", "number of spikes"),
    "firing_rate": FeatureInfo("Hz", "spikes", "spike count / window duration"),
    "first_spike_latency": FeatureInfo(
        "second", "spikes", "time from the stimulus onset (or window start) to the first spike"
    ),
    "isi_mean": FeatureInfo("second", "spikes", "mean inter-spike interval"),
    "isi_cv": FeatureInfo("1", "spikes", "coefficient of variation of the ISIs (ddof=1)"),
    "adaptation_index": FeatureInfo(
        "1", "spikes", "mean of (ISI[i+1] - ISI[i]) / (ISI[i+1] + ISI[i])"
    ),
    "mean": FeatureInfo("var", "trace", "mean of the trace"),
    "std": FeatureInfo("var", "trace", "standard deviation of the trace (ddof=0)"),
    "skewness": FeatureInfo("1", "trace", "moment skewness of the trace"),
    "kurtosis": FeatureInfo("1", "trace", "excess (Fisher) kurtosis of the trace"),
    "max": FeatureInfo("var", "trace", "maximum of the trace"),
    "min": FeatureInfo("var", "trace", "minimum of the trace"),
    "resting_potential": FeatureInfo(
        "var", "trace", "mean from the window start to the stimulus onset", True
    ),
    "steady_state": FeatureInfo(
        "var", "trace", "mean from the stimulus end to the window end", True
    ),
    "steady_state_stimend": FeatureInfo(
        "var", "trace", "mean over the last 10% of the stimulus", True
    ),
    "ap_peak": FeatureInfo("var", "ap", "mean AP peak"),
    "ap_amplitude": FeatureInfo("var", "ap", "mean AP peak minus the resting potential", True),
    "ap_width": FeatureInfo("second", "ap", "mean AP width at half height"),
}

_SPIKE_TIMING = frozenset(n for n, info in FEATURES.items() if info.kind == "spikes")
_AP_SHAPE = frozenset(n for n, info in FEATURES.items() if info.kind == "ap")
#: Features that can be undefined, and what they are then by default.
_DEFAULT_FILL = {
    "first_spike_latency": "time from the onset to the window end",
    "isi_mean": "window duration",
    "isi_cv": 0.0,
    "adaptation_index": 0.0,
    "skewness": 0.0,
    "kurtosis": 0.0,
    "ap_peak": "maximum of the trace",
    "ap_amplitude": "maximum minus resting potential",
    "ap_width": 0.0,
}
#: Bytes of trace data analysed at once (spike and AP analysis work on such blocks).
_BLOCK_BYTES = 16 * 2**20
#: Bytes of trace data per sub-block of the streaming statistics (which stays in the CPU's L2
#: cache with its temporaries; larger sub-blocks would spend less time in Python calls).
_SUB_BYTES = 2**20
#: Samples first looked at around an AP peak for the half-height crossings (then doubled).
_SCAN = 16


# ---------------------------------------------------------------------------- argument checks
def _time(name: str, value: Any, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    if not isinstance(value, Quantity) or get_dimensions(value) != second.dim or np.ndim(value):
        raise ProblemError(f"{name}: expected a time with units (e.g. 10*ms), got {value!r}")
    return float(value)


def _pairs(name: str, value: Any, allow_none: bool) -> list[tuple[float, float | None]] | None:
    """``(start, stop)`` or a sequence of such pairs (one per stimulus) → list of pairs."""
    if value is None:
        return None
    if isinstance(value, Sequence) and len(value) == 2 and not isinstance(value[0], Sequence):
        value = [value]
    elif not isinstance(value, Sequence) or not value:
        raise ProblemError(
            f"{name}: expected (start, stop) with units, or one such pair per stimulus, "
            f"got {value!r}"
        )
    pairs = []
    for k, pair in enumerate(value):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ProblemError(f"{name}[{k}]: expected (start, stop), got {pair!r}")
        start = _time(f"{name}[{k}] start", pair[0])
        stop = _time(f"{name}[{k}] stop", pair[1], allow_none=allow_none)
        if stop is not None and stop <= start:
            raise ProblemError(f"{name}[{k}]: stop must be after start, got {pair!r}")
        pairs.append((start, stop))
    return pairs


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:g}"


# ---------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class _Group:
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


class EphysFeatures(FeatureProvider):
    """Electrophysiology features of one recorded variable, for every stimulus.

    Parameters
    ----------
    features : str or sequence of str
        Feature names, see :data:`FEATURES` (e.g. ``['spike_count', 'isi_cv', 'mean']``).
    variable : str, optional
        The recorded variable to analyse (default: the only observed trace variable).
    window : (Quantity, Quantity) or list of pairs, optional
        Part of the recording analysed, e.g. ``(10*ms, 60*ms)``; one pair for all stimuli or
        one pair per stimulus. ``stop`` may be None (end of the recording). Default: all.
    stimulus : (Quantity, Quantity) or list of pairs, optional
        Onset and end of the stimulus (one pair, or one per stimulus); needed by
        ``resting_potential``, ``steady_state``, ``steady_state_stimend`` and
        ``ap_amplitude``, and the reference of ``first_spike_latency``.
    threshold : Quantity, optional
        Detect spikes as upward crossings of this value by the trace (e.g. ``0*mV``); needed
        by the AP features. Without it, spike features use the recorded spikes.
    fill : float or dict, optional
        Value of undefined features (see the module documentation) instead of the defaults:
        one value for all, or ``{feature: value}``. ``np.nan`` marks such simulations invalid.

    Examples
    --------
    >>> features = EphysFeatures(['spike_count', 'first_spike_latency', 'ap_width'],
    ...                          threshold=0*mV, stimulus=(10*ms, 110*ms))  # doctest: +SKIP
    """

    def __init__(
        self,
        features: str | Sequence[str],
        variable: str | None = None,
        *,
        window: Any = None,
        stimulus: Any = None,
        threshold: Quantity | None = None,
        fill: float | Mapping[str, float] | None = None,
    ) -> None:
        names = [features] if isinstance(features, str) else list(features)
        if not names:
            raise ProblemError("features: the list of feature names is empty")
        for name in names:
            if not isinstance(name, str) or name not in FEATURES:
                close = difflib.get_close_matches(str(name), list(FEATURES), n=3)
                hint = f" (did you mean {close}?)" if close else ""
                raise ProblemError(
                    f"features: unknown feature {name!r}{hint}; available: {sorted(FEATURES)}"
                )
        if len(set(names)) != len(names):
            raise ProblemError(f"features: duplicate names in {names}")
        if variable is not None and not isinstance(variable, str):
            raise ProblemError(f"variable: expected a variable name, got {variable!r}")
        self.features = names
        self.variable = variable
        self.window = _pairs("window", window, allow_none=True)
        self.stimulus = _pairs("stimulus", stimulus, allow_none=False)
        needs_stim = [n for n in names if FEATURES[n].stimulus]
        if needs_stim and self.stimulus is None:
            raise ProblemError(
                f"stimulus: {needs_stim} are measured relative to the stimulus; give "
                f"stimulus=(start, stop), e.g. stimulus=(10*ms, 110*ms)"
            )
        if threshold is not None and (not isinstance(threshold, Quantity | float | int) or
                                      np.ndim(threshold) != 0):
            raise ProblemError(f"threshold: expected a single value with units, got {threshold!r}")
        self.threshold = threshold
        needs_thr = [n for n in names if FEATURES[n].kind == "ap"]
        if needs_thr and threshold is None:
            raise ProblemError(
                f"threshold: {needs_thr} analyse the AP shape in the trace; give the voltage "
                f"that detects a spike, e.g. threshold=0*mV"
            )
        self.fill = self._check_fill(fill)
        self._var: str | None = variable
        self._unit: Any = None

    def _check_fill(self, fill: Any) -> dict[str, float]:
        if fill is None:
            return {}
        if isinstance(fill, Mapping):
            for name in fill:
                if name not in _DEFAULT_FILL:
                    raise ProblemError(
                        f"fill: {name!r} is never undefined; features with a fill value are "
                        f"{sorted(_DEFAULT_FILL)}"
                    )
            return {name: float(value) for name, value in fill.items()}
        try:
            value = float(fill)
        except (TypeError, ValueError):
            raise ProblemError(
                f"fill: expected a number or a dict {{feature: number}}, got {fill!r}"
            ) from None
        return {name: value for name in self.features if name in _DEFAULT_FILL}

    def __repr__(self) -> str:
        extra = "".join(
            f", {key}={getattr(self, key)!r}"
            for key in ("variable", "window", "stimulus", "threshold")
            if getattr(self, key) is not None
        )
        return f"EphysFeatures({self.features!r}{extra})"

    # ------------------------------------------------------------------ what is needed
    def _kinds(self) -> set[str]:
        return {FEATURES[n].kind for n in self.features}

    @property
    def _uses_recorded_spikes(self) -> bool:
        return "spikes" in self._kinds() and self.threshold is None

    @property
    def _uses_trace(self) -> bool:
        kinds = self._kinds()
        return bool(kinds & {"trace", "ap"}) or ("spikes" in kinds and self.threshold is not None)

    def recording(self) -> Recording:
        variables: tuple[str, ...] = ()
        if self._uses_trace:
            if self._var is None:
                raise RuntimeError("EphysFeatures: bind(problem) first, or give variable=")
            variables = (self._var,)
        return Recording(variables, self._uses_recorded_spikes)

    def names(self, n_traces: int) -> list[str]:
        prefix = (self._var or "trace") if self._uses_trace else SPIKES
        suffix = ""
        if self.window is not None:
            if len(self.window) == 1:
                start, stop = self.window[0]
                end = "end" if stop is None else _fmt_ms(stop)
                suffix = f"({_fmt_ms(start)}-{end}ms)"
            else:
                suffix = "(window)"
        return per_trace_names(prefix, [f + suffix for f in self.features], n_traces)

    def units(self) -> dict[str, Any]:
        """The Brian 2 unit of each feature (after :meth:`bind`; ``'var'`` units need it)."""
        out = {}
        for name in self.features:
            unit = FEATURES[name].unit
            if unit == "var":
                out[name] = self._unit if self._unit is not None else 1
            else:
                out[name] = {"second": second, "Hz": Hz, "1": 1}[unit]
        return out

    # ------------------------------------------------------------------ binding
    def bind(self, problem: Problem) -> EphysFeatures:
        """Choose the variable and check windows, threshold and spikes against ``problem``."""
        var = self.variable
        if self._uses_trace:
            if var is None:
                traces = problem.trace_outputs
                if len(traces) != 1:
                    what = "no trace was observed" if not traces else f"outputs are {traces}"
                    raise ProblemError(
                        f"variable: EphysFeatures{self.features} needs a recorded trace but "
                        f"{what}; give variable='v' (a trace output)"
                    )
                var = traces[0]
            elif var not in problem.trace_outputs:
                raise ProblemError(
                    f"variable: {var!r} is not an observed trace; observed traces are "
                    f"{problem.trace_outputs}"
                )
            self._unit = problem.output_units[var]
            if self.threshold is not None:
                dim = get_dimensions(self.threshold)
                if dim != get_dimensions(self._unit) and not (
                    dim is DIMENSIONLESS and float(self.threshold) == 0
                ):
                    raise ProblemError(
                        f"threshold: expected units of {self._unit} (like {var!r}), got "
                        f"{self.threshold!r}"
                    )
        if self._uses_recorded_spikes and not problem.has_spikes:
            spiking = [n for n in self.features if FEATURES[n].kind == "spikes"]
            raise ProblemError(
                f"features: {spiking} need spikes in both simulations and recordings: give "
                f"threshold= (e.g. threshold=0*mV) to detect them as crossings in the trace, "
                f"or observe spike times (output={{'v': ..., 'spikes': ...}})"
            )
        self._var = var
        self._groups(problem.dt, problem.n_steps, problem.n_traces)  # checks the windows
        return self

    # ------------------------------------------------------------------ windows
    def _groups(self, dt: float, n_steps: int, n_traces: int) -> list[_Group]:
        key = (dt, n_steps, n_traces)
        cached = getattr(self, "_plan_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        duration = n_steps * dt

        def per_trace(pairs, what):  # noqa: ANN001, ANN202
            if pairs is None:
                return None
            if len(pairs) == 1:
                return pairs * n_traces
            if len(pairs) != n_traces:
                raise ProblemError(
                    f"{what}: got {len(pairs)} pairs for {n_traces} stimuli; give one pair "
                    f"for all, or one per stimulus"
                )
            return pairs

        windows = per_trace(self.window, "window") or [(0.0, None)] * n_traces
        stimuli = per_trace(self.stimulus, "stimulus")
        specs: dict[tuple, list[int]] = {}
        for k in range(n_traces):
            start, stop = windows[k]
            stop = duration if stop is None else stop
            if stop > duration + dt / 2:
                raise ProblemError(
                    f"window: ends at {_fmt_ms(stop)} ms, after the end of the recording "
                    f"({_fmt_ms(duration)} ms)"
                )
            lo, hi = int(round(start / dt)), min(n_steps, int(round(stop / dt)))
            if hi - lo < 3:
                raise ProblemError(
                    f"window: ({_fmt_ms(start)}, {_fmt_ms(stop)}) ms holds {max(hi - lo, 0)} "
                    f"samples; it needs at least 3"
                )
            onset, rest, steady, stimend = start, None, None, None
            if stimuli is not None:
                on, off = stimuli[k]
                s0, s1 = int(round(on / dt)), int(round(off / dt))
                onset = on
                if "first_spike_latency" in self.features and not start <= on < stop:
                    raise ProblemError(
                        f"stimulus: first_spike_latency needs the onset ({_fmt_ms(on)} ms) "
                        f"inside the window ({_fmt_ms(start)}, {_fmt_ms(stop)}) ms"
                    )
                if {"resting_potential", "ap_amplitude"} & set(self.features):
                    if s0 - lo < 1 or s0 > hi:
                        raise ProblemError(
                            f"stimulus: the resting potential is measured between the window "
                            f"start ({_fmt_ms(start)} ms) and the onset ({_fmt_ms(on)} ms), "
                            f"which leaves no sample"
                        )
                    rest = (0, s0 - lo)
                if "steady_state" in self.features:
                    if hi - s1 < 1 or s1 < lo:
                        raise ProblemError(
                            f"stimulus: steady_state is measured between the stimulus end "
                            f"({_fmt_ms(off)} ms) and the window end ({_fmt_ms(stop)} ms), "
                            f"which leaves no sample"
                        )
                    steady = (s1 - lo, hi - lo)
                if "steady_state_stimend" in self.features:
                    first = s1 - max(1, int(round(0.1 * (s1 - s0))))
                    if first < lo or s1 > hi:
                        raise ProblemError(
                            f"stimulus: steady_state_stimend needs the end of the stimulus "
                            f"({_fmt_ms(off)} ms) inside the window"
                        )
                    stimend = (first - lo, s1 - lo)
            spec = (lo, hi, float(start), float(stop), float(onset), rest, steady, stimend)
            specs.setdefault(spec, []).append(k)
        groups = [_Group(tuple(ks), *spec) for spec, ks in specs.items()]
        self._plan_cache = (key, groups)
        return groups

    # ------------------------------------------------------------------ computation
    def compute(self, result: SimulationResult) -> np.ndarray:
        """Features of every sample and stimulus, ``(n_samples, n_features * n_traces)``."""
        n, k = result.n_samples, result.n_traces
        out = np.full((n, k, len(self.features)), np.nan)
        col = {name: j for j, name in enumerate(self.features)}
        if self._uses_trace:
            var = self._var
            if var is None:
                if len(result.traces) != 1:
                    raise RuntimeError("EphysFeatures: bind(problem) first, or give variable=")
                var = self._var = next(iter(result.traces))
            traces = result.traces[var]
            n_steps = traces.shape[-1]
        else:
            traces, n_steps = None, int(round(result.duration / result.dt))
        groups = self._groups(result.dt, n_steps, k)
        wanted = set(self.features)
        thr = None if self.threshold is None else float(self.threshold)

        if self._uses_recorded_spikes:
            spiking = wanted & _SPIKE_TIMING
            starts, stops, onsets = np.empty(k), np.empty(k), np.empty(k)
            for g in groups:
                starts[list(g.traces)], stops[list(g.traces)] = g.start, g.stop
                onsets[list(g.traces)] = g.onset
            row, times = _sorted_spikes(result)
            trace_of_row = np.tile(np.arange(k), n)
            values = _spike_timing(
                row, times, n * k, starts[trace_of_row], stops[trace_of_row],
                onsets[trace_of_row], spiking, self.fill,
            )
            for name, v in values.items():
                out[:, :, col[name]] = v.reshape(n, k)
            wanted -= spiking

        if wanted:
            for g in groups:
                ks = list(g.traces)
                length = g.hi - g.lo
                per_block = max(1, _BLOCK_BYTES // (8 * length * len(ks)))
                for s0 in range(0, n, per_block):
                    s1 = min(n, s0 + per_block)
                    if len(ks) == k:
                        block = traces[s0:s1, :, g.lo : g.hi]
                    else:
                        block = traces[s0:s1][:, ks, g.lo : g.hi]
                    rows = np.ascontiguousarray(block, dtype=float).reshape(-1, length)
                    values = _block_features(rows, g, wanted, thr, result.dt, self.fill)
                    for name, v in values.items():
                        out[s0:s1, ks, col[name]] = v.reshape(s1 - s0, len(ks))
        return feature_major(out)


# ---------------------------------------------------------------------------- spike timing
def _sorted_spikes(result: SimulationResult) -> tuple[np.ndarray, np.ndarray]:
    """Recorded spikes as (row, time) sorted by row, then time."""
    if not result.has_spikes:
        raise ValueError("EphysFeatures: spikes were not recorded for this result")
    neuron = np.asarray(result.spike_neuron, dtype=np.int64)
    times = np.asarray(result.spike_times, dtype=float)
    order = np.lexsort((times, neuron))
    return neuron[order], times[order]


def _first_per_row(row: np.ndarray) -> np.ndarray:
    """Positions of the first entry of each run of equal (sorted) rows."""
    if row.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))


def _spike_timing(
    row: np.ndarray,
    times: np.ndarray,
    n_rows: int,
    start: np.ndarray | float,
    stop: np.ndarray | float,
    onset: np.ndarray | float,
    wanted: set[str],
    fill: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Spike-time features per row from spikes sorted by (row, time).

    ``start``, ``stop`` and ``onset`` (seconds) are scalars or one value per row; spikes
    outside ``[start, stop)`` are ignored.
    """
    start = np.broadcast_to(np.asarray(start, dtype=float), (n_rows,))
    stop = np.broadcast_to(np.asarray(stop, dtype=float), (n_rows,))
    onset = np.broadcast_to(np.asarray(onset, dtype=float), (n_rows,))
    inside = (times >= start[row]) & (times < stop[row])
    row, times = row[inside], times[inside]
    counts = np.bincount(row, minlength=n_rows).astype(float)
    out: dict[str, np.ndarray] = {}
    if "spike_count" in wanted:
        out["spike_count"] = counts
    if "firing_rate" in wanted:
        out["firing_rate"] = counts / (stop - start)
    if "first_spike_latency" in wanted:
        after = times >= onset[row]
        r_on, t_on = row[after], times[after]
        first = _first_per_row(r_on)
        latency = np.full(n_rows, np.nan)
        latency[r_on[first]] = t_on[first] - onset[r_on[first]]
        _fill(latency, "first_spike_latency", fill, stop - onset)
        out["first_spike_latency"] = latency
    if not wanted & {"isi_mean", "isi_cv", "adaptation_index"}:
        return out
    same = row[1:] == row[:-1]
    isi = np.diff(times)[same]
    isi_row = row[1:][same]
    n_isi = np.bincount(isi_row, minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        isi_mean = np.bincount(isi_row, isi, minlength=n_rows) / n_isi
        if "isi_mean" in wanted:
            values = isi_mean.copy()
            _fill(values, "isi_mean", fill, stop - start)
            out["isi_mean"] = values
        if "isi_cv" in wanted:
            dev = isi - isi_mean[isi_row]
            var = np.bincount(isi_row, dev * dev, minlength=n_rows) / (n_isi - 1)
            cv = np.where(n_isi >= 2, np.sqrt(var) / isi_mean, np.nan)
            _fill(cv, "isi_cv", fill, 0.0)
            out["isi_cv"] = cv
        if "adaptation_index" in wanted:
            pair = isi_row[1:] == isi_row[:-1]
            ratio = ((isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1]))[pair]
            pair_row = isi_row[1:][pair]
            n_pairs = np.bincount(pair_row, minlength=n_rows)
            adapt = np.bincount(pair_row, ratio, minlength=n_rows) / n_pairs
            _fill(adapt, "adaptation_index", fill, 0.0)
            out["adaptation_index"] = adapt
    return out


def _fill(values: np.ndarray, name: str, fill: Mapping[str, float], default: Any) -> None:
    """Replace the undefined (NaN) entries of ``values`` in place."""
    undefined = np.isnan(values)
    if not undefined.any():
        return
    value = fill.get(name, default)
    values[undefined] = value[undefined] if np.ndim(value) else value


# ---------------------------------------------------------------------------- trace blocks
def _block_features(
    x: np.ndarray,
    g: _Group,
    wanted: set[str],
    thr: float | None,
    dt: float,
    fill: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Features of the rows of ``x`` (``(rows, length)``, one window) that need the trace.

    One pass over sub-blocks of a few rows, which stay in the CPU cache with their
    temporaries, gathers the sums, central moments, threshold crossings and, from ``reduceat``
    over segments cut at AP edges, the extremes of each row and the peak and preceding trough
    of each AP. Spike times and AP widths are then derived for the whole block at once.
    """
    n_rows, length = x.shape
    spiking = wanted & _SPIKE_TIMING
    aps = wanted & _AP_SHAPE
    detect = bool(spiking or aps) and thr is not None
    need_max = bool(wanted & {"max", "ap_peak", "ap_amplitude"})
    need_min = bool(wanted & {"min", "ap_width"})
    order = 4 if "kurtosis" in wanted else 3 if "skewness" in wanted else (
        2 if "std" in wanted else 0)
    spans = {"resting_potential": g.rest, "steady_state": g.steady,
             "steady_state_stimend": g.stimend}
    spans = {name: span for name, span in spans.items()
             if span is not None and (name in wanted or name == "resting_potential")}

    total = np.empty(n_rows)
    stats = {name: np.empty(n_rows) for name in spans}
    if need_max:
        stats["max"] = np.empty(n_rows)
    if need_min:
        stats["min"] = np.empty(n_rows)
    sums = {p: np.empty(n_rows) for p in range(2, order + 1)}
    rows = max(1, min(n_rows, _SUB_BYTES // (8 * length)))
    if order:
        d_buf, d2_buf = np.empty((rows, length)), np.empty((rows, length))
    if detect:
        above_buf = np.empty((rows, length), dtype=bool)
    events: list[tuple[np.ndarray, ...]] = []
    for a in range(0, n_rows, rows):
        b = min(n_rows, a + rows)
        xs = x[a:b]
        np.add.reduce(xs, axis=1, out=total[a:b])
        for name, (lo, hi) in spans.items():
            np.add.reduce(xs[:, lo:hi], axis=1, out=stats[name][a:b])
        if order:
            d = np.subtract(xs, (total[a:b] / length)[:, None], out=d_buf[: b - a])
            d2 = np.multiply(d, d, out=d2_buf[: b - a])
            np.add.reduce(d2, axis=1, out=sums[2][a:b])
            if order >= 3:
                sums[3][a:b] = np.einsum("ij,ij->i", d2, d)
            if order == 4:
                sums[4][a:b] = np.einsum("ij,ij->i", d2, d2)
        if not detect:
            if need_max:
                np.maximum.reduce(xs, axis=1, out=stats["max"][a:b])
            if need_min:
                np.minimum.reduce(xs, axis=1, out=stats["min"][a:b])
            continue
        above = np.greater_equal(xs, thr, out=above_buf[: b - a])
        up, end = _ap_edges(above)
        peaks = troughs = np.empty(0)
        if need_max or need_min:
            extremes = {k: v[a:b] for k, v in stats.items() if k in ("max", "min")}
            peaks, troughs = _extremes(xs.reshape(-1), b - a, length, up, end, need_max,
                                       need_min, extremes)
        events.append((up + a * length, end + a * length, peaks, troughs))

    bad = ~np.isfinite(total)
    out: dict[str, np.ndarray] = {"mean": total / length, **stats}
    for name, (lo, hi) in spans.items():
        out[name] = stats[name] / (hi - lo)
    if order:
        central = {p: v / length for p, v in sums.items()}
        out.update(_moments(out["mean"], central, wanted, fill))
    if detect:
        up, end, peaks, troughs = (np.concatenate(parts) for parts in zip(*events, strict=True))
        up_row, up_idx = np.divmod(up, length)
        if bad.any():  # rows with NaN/inf are NaN in the end: leave their APs out
            keep = ~bad[up_row]
            up, end, up_row, up_idx = up[keep], end[keep], up_row[keep], up_idx[keep]
            peaks = peaks[keep] if peaks.size else peaks
            troughs = troughs[keep] if troughs.size else troughs
        if spiking:
            times = (g.lo + up_idx) * dt
            out.update(
                _spike_timing(up_row, times, n_rows, g.start, g.stop, g.onset, spiking, fill)
            )
        if aps:
            out.update(_ap_shape(x, up_row, up, end, peaks, troughs, aps, dt, out.get("max"),
                                 out.get("resting_potential"), fill))
    out = {name: np.asarray(out[name], dtype=float) for name in wanted}
    if bad.any():
        out = {name: np.where(bad, np.nan, values) for name, values in out.items()}
    return out


def _ap_edges(above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of each AP's first sample above threshold and of its end.

    The end is the first sample below threshold again, or the end of the row.
    """
    n_rows, length = above.shape
    step = np.diff(above.view(np.int8), axis=1)  # +1: goes above, -1: falls below
    cross = np.flatnonzero(step != 0)  # nonzero of a bool array is much faster
    rising = step.reshape(-1)[cross] > 0
    row, idx = np.divmod(cross, length - 1)
    flat = row * length + idx + 1
    up, down = flat[rising], flat[~rising]
    up_row = row[rising]
    row_end = (up_row + 1) * length
    nxt = np.searchsorted(down, up)
    end = row_end
    if down.size:
        cand = down[np.minimum(nxt, down.size - 1)]
        end = np.where((nxt < down.size) & (cand < row_end), cand, row_end)
    return up, end


def _extremes(
    flat: np.ndarray,
    n_rows: int,
    length: int,
    up: np.ndarray,
    end: np.ndarray,
    need_max: bool,
    need_min: bool,
    out: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Row extremes (into ``out``) and the peak and preceding trough of each AP.

    Segments start at every row start, AP start and AP end: each AP is one segment, and the
    segment before it runs from the previous AP's end (or the row start) to the AP.
    """
    starts = np.arange(n_rows) * length
    bounds = np.unique(np.concatenate((starts, up, end[end < flat.size])))
    first = np.searchsorted(bounds, starts)
    seg = np.searchsorted(bounds, up)
    peaks = troughs = np.empty(0)
    if need_max:
        seg_max = np.maximum.reduceat(flat, bounds)
        np.maximum.reduceat(seg_max, first, out=out["max"])
        peaks = seg_max[seg]
    if need_min:
        seg_min = np.minimum.reduceat(flat, bounds)
        np.minimum.reduceat(seg_min, first, out=out["min"])
        troughs = seg_min[seg - 1]
    return peaks, troughs


def _moments(
    mean: np.ndarray, m: dict[int, np.ndarray], wanted: set[str], fill: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """Standard deviation, skewness and excess kurtosis from the central moments ``m[p]``."""
    m2 = m[2]
    out: dict[str, np.ndarray] = {"std": np.sqrt(m2)}
    # scipy.stats treats a variance below its resolution as a constant sample
    constant = m2 <= (np.finfo(float).resolution * mean) ** 2
    safe = np.where(constant, 1.0, m2)
    if "skewness" in wanted:
        skew = m[3] / safe**1.5
        skew[constant] = np.nan
        _fill(skew, "skewness", fill, 0.0)
        out["skewness"] = skew
    if "kurtosis" in wanted:
        kurt = m[4] / safe**2 - 3.0
        kurt[constant] = np.nan
        _fill(kurt, "kurtosis", fill, 0.0)
        out["kurtosis"] = kurt
    return out


def _ap_shape(
    x: np.ndarray,
    ap_row: np.ndarray,
    up: np.ndarray,
    end: np.ndarray,
    peaks: np.ndarray,
    troughs: np.ndarray,
    wanted: set[str],
    dt: float,
    vmax: np.ndarray | None,
    rest: np.ndarray | None,
    fill: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """AP peak, amplitude and half-height width per row.

    ``up`` and ``end`` are flat indices of each AP's first sample above threshold and of its
    end; ``peaks`` and ``troughs`` its maximum and the minimum since the previous AP.
    """
    n_rows, length = x.shape
    flat = x.reshape(-1)
    n_ap = up.size
    counts = np.bincount(ap_row, minlength=n_rows)
    out: dict[str, np.ndarray] = {}
    if wanted & {"ap_peak", "ap_amplitude"}:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_peak = np.bincount(ap_row, peaks, minlength=n_rows) / counts
        if "ap_peak" in wanted:
            values = mean_peak.copy()
            _fill(values, "ap_peak", fill, vmax)
            out["ap_peak"] = values
        if "ap_amplitude" in wanted:
            values = mean_peak - rest
            _fill(values, "ap_amplitude", fill, vmax - rest)
            out["ap_amplitude"] = values
    if "ap_width" not in wanted:
        return out
    widths = np.full(n_ap, np.nan)
    if n_ap:
        # index of each peak: the first sample of the AP at its maximum (APs are short)
        lengths = end - up
        offsets = np.cumsum(lengths) - lengths
        idx = np.arange(lengths.sum()) + np.repeat(up - offsets, lengths)
        vals = flat[idx]
        peak = np.maximum.reduceat(vals, offsets)
        seg = np.repeat(np.arange(n_ap), lengths)
        hit = np.flatnonzero(vals == peak[seg])
        peak_at = idx[hit[_first_per_row(seg[hit])]]
        level = 0.5 * (peak + troughs)
        same_prev = np.concatenate(([False], ap_row[1:] == ap_row[:-1]))
        before = np.where(same_prev, np.roll(end, 1), ap_row * length)
        same_next = np.concatenate((ap_row[1:] == ap_row[:-1], [False]))
        limit = np.where(same_next, np.roll(up, -1) - 1, (ap_row + 1) * length - 1)
        rise = _scan_below(flat, peak_at, before, level, -1)
        fall = _scan_below(flat, peak_at, limit, level, +1)
        ok = fall >= 0
        r, f, lv = rise[ok], fall[ok], level[ok]
        t_rise = r + (lv - flat[r]) / (flat[r + 1] - flat[r])
        t_fall = (f - 1) + (flat[f - 1] - lv) / (flat[f - 1] - flat[f])
        widths[ok] = (t_fall - t_rise) * dt
    defined = ~np.isnan(widths)
    n_defined = np.bincount(ap_row[defined], minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        width = np.bincount(ap_row[defined], widths[defined], minlength=n_rows) / n_defined
    width[counts == 0] = fill.get("ap_width", 0.0)
    out["ap_width"] = width
    return out


def _scan_below(
    flat: np.ndarray, origin: np.ndarray, bound: np.ndarray, level: np.ndarray, step: int
) -> np.ndarray:
    """For each origin, the nearest index in direction ``step`` with ``flat < level``.

    The search stops at ``bound`` (inclusive); -1 where nothing is found. Vectorized over
    origins, looking at ``_SCAN`` samples first and doubling the span for the rest.
    """
    found_at = np.full(origin.size, -1, dtype=np.int64)
    todo = np.arange(origin.size)
    done, span = 0, _SCAN
    while todo.size:
        offsets = np.arange(done + 1, done + span + 1)
        idx = origin[todo, None] + step * offsets
        inside = idx >= bound[todo, None] if step < 0 else idx <= bound[todo, None]
        safe = np.where(inside, idx, origin[todo, None])
        hit = (flat[safe] < level[todo, None]) & inside
        found = hit.any(axis=1)
        first = hit.argmax(axis=1)
        found_at[todo[found]] = idx[found, first[found]]
        todo = todo[~found & inside[:, -1]]
        done += span
        span *= 2
    return found_at
