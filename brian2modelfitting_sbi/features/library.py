"""Electrophysiology summary features, computed on whole arrays of traces.

:class:`EphysFeatures` computes named features of one recorded variable for every sample and
stimulus at once: the traces of a chunk, ``(n_samples, n_traces, n_steps)``, go to compiled
kernels (numba, :mod:`._kernels`) that read each trace once, in its memory layout (rows, or
the time-major memory of a Brian 2 monitor, which is not copied); there is no Python loop over
traces or spikes. The kernels are compiled on first use and cached on disk.

Features (values in SI units: volts, seconds, hertz; "var" is the unit of the variable)
----------------------------------------------------------------------------------------

=======================  ======  ===========================================================
name                     unit    definition (inside the window)
=======================  ======  ===========================================================
spike_count              1       number of spikes (an integer: discrete for ``'mnle'``)
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

import copy
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, second
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from ..problem import SPIKES, Problem, ProblemError
from ..simulation.network import Recording
from ..simulation.result import SimulationResult
from .base import FeatureProvider, feature_major, per_trace_names
from .blocks import Group, block_features, sorted_spikes, spike_timing
from .catalogue import _DEFAULT_FILL, _SPIKE_TIMING, FEATURES, FeatureInfo
from .windows import check_pairs, fmt_ms, plan_groups

__all__ = ["FEATURES", "EphysFeatures", "FeatureInfo"]


#: Bytes of trace data per call of the compiled kernel (copies, if any, are this large).
_BLOCK_BYTES = 64 * 2**20


# ---------------------------------------------------------------------------- the plan
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
        self.window = check_pairs("window", window, allow_none=True)
        self.stimulus = check_pairs("stimulus", stimulus, allow_none=False)
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
        keys = ("variable", "window", "stimulus", "threshold")
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in keys if getattr(self, k) is not None)
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
                end = "end" if stop is None else fmt_ms(stop)
                suffix = f"({fmt_ms(start)}-{end}ms)"
            else:
                suffix = "(window)"
        return per_trace_names(prefix, [f + suffix for f in self.features], n_traces)

    def discrete_columns(self, n_traces: int) -> list[bool]:
        """True for the integer-valued features (``spike_count``), in :meth:`names` order."""
        return [FEATURES[f].discrete for f in self.features for _ in range(n_traces)]

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
        bound = copy.copy(self)  # the provider given by the user is not changed
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
            bound._unit = problem.output_units[var]
            if self.threshold is not None:
                dim = get_dimensions(self.threshold)
                if dim != get_dimensions(bound._unit) and not (
                    dim is DIMENSIONLESS and float(self.threshold) == 0
                ):
                    raise ProblemError(
                        f"threshold: expected units of {bound._unit} (like {var!r}), got "
                        f"{self.threshold!r}"
                    )
        if self._uses_recorded_spikes and not problem.has_spikes:
            spiking = [n for n in self.features if FEATURES[n].kind == "spikes"]
            raise ProblemError(
                f"features: {spiking} need spikes in both simulations and recordings: give "
                f"threshold= (e.g. threshold=0*mV) to detect them as crossings in the trace, "
                f"or observe spike times (output={{'v': ..., 'spikes': ...}})"
            )
        bound._var = var
        bound._groups(problem.dt, problem.n_steps, problem.n_traces)  # checks the windows
        return bound

    # ------------------------------------------------------------------ windows
    def _groups(self, dt: float, n_steps: int, n_traces: int) -> list[Group]:
        key = (dt, n_steps, n_traces)
        cached = getattr(self, "_plan_cache", None)
        if cached is None or cached[0] != key:
            groups = plan_groups(self.window, self.stimulus, self.features, dt, n_steps, n_traces)
            self._plan_cache = (key, groups)
        return self._plan_cache[1]

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
            row, times = sorted_spikes(result)
            trace_of_row = np.tile(np.arange(k), n)
            values = spike_timing(
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
                    rows = np.asarray(block).reshape(-1, length)  # a view if it can
                    values = block_features(rows, g, wanted, thr, result.dt, self.fill)
                    for name, v in values.items():
                        out[s0:s1, ks, col[name]] = v.reshape(s1 - s0, len(ks))
        return feature_major(out)
