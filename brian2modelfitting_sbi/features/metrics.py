"""brian2modelfitting metrics as feature providers.

A metric that a user already owns from fitting becomes a summary statistic:

* any ``TraceMetric`` (``MSEMetric``, user subclasses): its ``get_features(model_traces,
  data_traces, dt)``, i.e. the discrepancy of each simulated trace to the observed one,
  ``(n_samples, n_traces)``, prepared as ``TraceMetric.calc`` does (``t_start`` cut or
  ``t_weights``, and ``normalization``);
* any ``SpikeMetric`` (``GammaFactor``, user subclasses): its ``get_features(model_spikes,
  data_spikes, dt)`` on the spike trains after ``t_start``, as ``SpikeMetric.calc`` does;
* a ``FeatureMetric``: its eFEL features as raw values per trace (see :class:`EfelFeatures`),
  not their differences to the data, so that the network sees the features themselves.

Discrepancies are 0 for the observed data themselves, so ``x_o`` is all zeros: at the edge of
what simulations produce when the recordings hold noise that the model lacks. Summary features
(:class:`~brian2modelfitting_sbi.features.library.EphysFeatures`) avoid that.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, ms, second, volt
from brian2.units.fundamentalunits import get_dimensions

from .._optional import loaded, require
from ..errors import UserCallableError
from ..problem import SPIKES, Problem, ProblemError
from ..simulation.network import Recording
from ..simulation.result import SimulationResult
from .base import FeatureProvider, feature_major, per_trace_names

__all__ = [
    "EfelFeatures",
    "SpikeMetricFeatures",
    "TraceMetricFeatures",
    "is_metric",
    "metric_provider",
]


def is_metric(obj: Any) -> bool:
    """Whether ``obj`` is a brian2modelfitting ``Metric`` instance."""
    module = loaded("brian2modelfitting.metric")  # a Metric exists only once it is imported
    return module is not None and isinstance(obj, module.Metric)


def metric_provider(metric: Any, variable: str | None = None) -> FeatureProvider:
    """Wrap a brian2modelfitting metric as a feature provider.

    Parameters
    ----------
    metric : brian2modelfitting.metric.Metric
        A ``TraceMetric``, ``SpikeMetric`` or ``FeatureMetric`` instance.
    variable : str, optional
        The trace output a trace metric compares (default: the only observed trace).
    """
    bmf = require("brian2modelfitting.metric", "a brian2modelfitting metric as features")
    FeatureMetric, SpikeMetric, TraceMetric = bmf.FeatureMetric, bmf.SpikeMetric, bmf.TraceMetric

    if isinstance(metric, FeatureMetric):
        return EfelFeatures.from_metric(metric, variable)
    if isinstance(metric, TraceMetric):
        return TraceMetricFeatures(metric, variable)
    if isinstance(metric, SpikeMetric):
        return SpikeMetricFeatures(metric)
    raise ProblemError(
        f"features: {type(metric).__name__} derives from Metric but neither from TraceMetric nor "
        f"from SpikeMetric, so it is unknown whether it compares traces or spikes; derive it "
        f"from one of them"
    )


def _trace_variable(problem: Problem, variable: str | None, who: str) -> str:
    traces = problem.trace_outputs
    if variable is None:
        if len(traces) != 1:
            found = "no trace was observed" if not traces else f"the observed traces are {traces}"
            raise ProblemError(
                f"features: {who} compares a recorded trace, but {found}; pass "
                f"{{'v': [metric]}} to say which one"
            )
        return traces[0]
    if variable not in traces:
        raise ProblemError(
            f"features: {who} compares the trace {variable!r}, which is not observed "
            f"(observed traces: {traces})"
        )
    return variable


def _get_features(metric: Any, who: str, *args: Any) -> Any:
    """``metric.get_features(*args)``; a failure names the metric."""
    try:
        return metric.get_features(*args)
    except Exception as exc:
        raise UserCallableError(
            f"features: {who}.get_features failed: {type(exc).__name__}: {exc}"
        ) from exc


def _as_values(values: Any, shape: tuple[int, int], who: str) -> np.ndarray:
    try:
        arr = None if isinstance(values, str | bytes) else np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != shape:
        got = f"shape {arr.shape}" if arr is not None else repr(values)[:60]
        raise UserCallableError(
            f"features: {who}.get_features returned {got}, expected numbers of shape {shape} "
            f"(n_samples, n_traces)"
        )
    return arr


class TraceMetricFeatures(FeatureProvider):
    """A brian2modelfitting ``TraceMetric``'s per-trace discrepancy as one feature per trace.

    Parameters
    ----------
    metric : brian2modelfitting.metric.TraceMetric
        E.g. ``MSEMetric()`` or a user subclass implementing ``get_features``.
    variable : str, optional
        The observed trace it compares (default: the only one).
    """

    def __init__(self, metric: Any, variable: str | None = None) -> None:
        self.metric = metric
        self.variable = variable
        self._data: np.ndarray | None = None

    @property
    def _label(self) -> str:
        return type(self.metric).__name__

    def recording(self) -> Recording:
        if self.variable is None:
            raise RuntimeError(f"{self._label}: bind(problem) first")
        return Recording((self.variable,), False)

    def names(self, n_traces: int) -> list[str]:
        return per_trace_names(self.variable or "trace", [self._label], n_traces)

    def bind(self, problem: Problem) -> TraceMetricFeatures:
        """Take the observed traces that the metric compares to."""
        bound = copy.copy(self)  # the provider given by the user is not changed
        bound.variable = _trace_variable(problem, self.variable, self._label)
        data = problem.outputs[bound.variable]
        weights = getattr(self.metric, "t_weights", None)
        if weights is not None and np.shape(weights) != (data.shape[1],):
            raise ProblemError(
                f"features: {self._label}'s t_weights has shape {np.shape(weights)}, expected "
                f"({data.shape[1]},) (one weight per time step)"
            )
        bound._data = np.asarray(data, dtype=float)
        return bound

    def compute(self, result: SimulationResult) -> np.ndarray:
        if self._data is None:
            raise RuntimeError(f"{self._label}: bind(problem) first")
        model = result.traces[self.variable]
        data = self._data
        scale = float(self.metric.normalization)
        if getattr(self.metric, "t_weights", None) is None:
            start = int(round(float(self.metric.t_start) / result.dt))
            model, data = model[:, :, start:], data[:, start:]
        values = _get_features(
            self.metric, self._label, model * scale, data * scale, result.dt * second
        )
        return _as_values(values, (result.n_samples, result.n_traces), self._label)


class SpikeMetricFeatures(FeatureProvider):
    """A brian2modelfitting ``SpikeMetric``'s per-trace discrepancy as one feature per trace.

    Parameters
    ----------
    metric : brian2modelfitting.metric.SpikeMetric
        E.g. ``GammaFactor(delta=2*ms, time=duration)`` or a user subclass.
    """

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self._data: list[np.ndarray] | None = None

    @property
    def _label(self) -> str:
        return type(self.metric).__name__

    def recording(self) -> Recording:
        return Recording((), True)

    def names(self, n_traces: int) -> list[str]:
        return per_trace_names(SPIKES, [self._label], n_traces)

    def bind(self, problem: Problem) -> SpikeMetricFeatures:
        """Take the observed spike trains that the metric compares to."""
        bound = copy.copy(self)  # the provider given by the user is not changed
        if not problem.has_spikes:
            raise ProblemError(
                f"features: {self._label} compares spike trains; observe spike times "
                f"(output_var='spikes', or output={{'v': ..., 'spikes': ...}})"
            )
        bound._data = [bound._after_start(np.asarray(tr)) for tr in problem.outputs[SPIKES]]
        return bound

    def _after_start(self, train: np.ndarray) -> np.ndarray:
        t_start = float(self.metric.t_start)
        return train[train > t_start] if t_start > 0 else train

    def compute(self, result: SimulationResult) -> np.ndarray:
        if self._data is None:
            raise RuntimeError(f"{self._label}: bind(problem) first")
        trains = [[self._after_start(tr) for tr in sample] for sample in result.spike_trains()]
        values = _get_features(self.metric, self._label, trains, self._data, result.dt * second)
        return _as_values(values, (result.n_samples, result.n_traces), self._label)


class EfelFeatures(FeatureProvider):
    """eFEL features of each trace, as raw values.

    Each trace goes to ``efel.get_feature_values`` with eFEL's conventions: time in ms and,
    for a voltage, the trace in mV (so that eFEL's default threshold of -20 mV applies).
    Values are returned in eFEL's units (mV, ms, Hz...). Features that give one value per
    spike (``peak_voltage``...) are averaged over spikes; a feature eFEL cannot compute
    (``None``, e.g. ISIs without spikes) is NaN, an invalid simulation.

    Parameters
    ----------
    features : sequence of str
        eFEL feature names (``efel.get_feature_names()``).
    stim_times : (start, stop) or list of pairs
        Stimulus onset and end, as Quantities or plain numbers in ms, for all traces or one
        pair per trace (like ``FeatureMetric``'s ``stim_times``).
    variable : str, optional
        The observed trace to analyse (default: the only one).
    threshold : Quantity, optional
        Spike detection threshold (eFEL's ``Threshold`` setting) for these traces.
    t_start : Quantity
        Only the recording from ``t_start`` on is analysed (times stay absolute).
    """

    def __init__(
        self,
        features: Sequence[str],
        stim_times: Any,
        variable: str | None = None,
        threshold: Quantity | None = None,
        t_start: Quantity = 0 * second,
    ) -> None:
        efel = require("efel", "EfelFeatures")
        names = [features] if isinstance(features, str) else list(features)
        unknown = [n for n in names if n not in efel.get_feature_names()]
        if not names or unknown:
            raise ProblemError(
                f"features: {unknown or 'no'} eFEL feature names given; see "
                f"efel.get_feature_names()"
            )
        self.features = names
        self.stim_times = self._stim_ms(stim_times)
        self.variable = variable
        if threshold is not None and get_dimensions(threshold) != volt.dim:
            raise ProblemError(f"threshold: expected a voltage (e.g. -20*mV), got {threshold!r}")
        self.threshold = threshold
        self.t_start = float(t_start)
        self._is_voltage = True

    @classmethod
    def from_metric(cls, metric: Any, variable: str | None = None) -> EfelFeatures:
        """The features of a brian2modelfitting ``FeatureMetric`` (its weights are unused)."""
        return cls(metric.feat_list, metric.stim_times, variable, t_start=metric.t_start)

    @staticmethod
    def _stim_ms(stim_times: Any) -> list[tuple[float, float]]:
        def ms_value(v: Any) -> float:
            return float(v / ms) if isinstance(v, Quantity) else float(v)

        pairs = stim_times
        if isinstance(pairs, Sequence) and len(pairs) == 2 and np.ndim(pairs[0]) == 0:
            pairs = [pairs]
        try:
            out = [(ms_value(a), ms_value(b)) for a, b in pairs]
        except (TypeError, ValueError):
            raise ProblemError(
                f"stim_times: expected (start, stop) or one pair per trace, got {stim_times!r}"
            ) from None
        if not out:
            raise ProblemError("stim_times: empty")
        return out

    def recording(self) -> Recording:
        if self.variable is None:
            raise RuntimeError("EfelFeatures: bind(problem) first")
        return Recording((self.variable,), False)

    def names(self, n_traces: int) -> list[str]:
        return per_trace_names(self.variable or "v", self.features, n_traces)

    def bind(self, problem: Problem) -> EfelFeatures:
        """Choose the trace and check stim_times against the number of traces."""
        bound = copy.copy(self)  # the provider given by the user is not changed
        bound.variable = _trace_variable(problem, self.variable, "EfelFeatures")
        bound._is_voltage = get_dimensions(problem.output_units[bound.variable]) == volt.dim
        if len(self.stim_times) not in (1, problem.n_traces):
            raise ProblemError(
                f"stim_times: {len(self.stim_times)} pairs for {problem.n_traces} traces; give "
                f"one pair for all or one per trace"
            )
        return bound

    def compute(self, result: SimulationResult) -> np.ndarray:
        import efel

        if self.variable is None:
            raise RuntimeError("EfelFeatures: bind(problem) first")
        values = result.traces[self.variable]
        n, k, n_steps = values.shape
        start = int(round(self.t_start / result.dt))
        time_ms = np.arange(start, n_steps) * result.dt * 1000.0
        scale = 1000.0 if self._is_voltage else 1.0
        stims = self.stim_times * k if len(self.stim_times) == 1 else self.stim_times
        traces = [
            {
                "T": time_ms,
                "V": values[s, j, start:] * scale,
                "stim_start": [stims[j][0]],
                "stim_end": [stims[j][1]],
            }
            for s in range(n)
            for j in range(k)
        ]
        old = efel.get_settings().Threshold
        if self.threshold is not None:
            efel.set_setting("Threshold", float(self.threshold) * scale)
        try:
            found = efel.get_feature_values(traces, self.features, raise_warnings=False)
        finally:
            efel.set_setting("Threshold", old)
        out = np.full((n * k, len(self.features)), np.nan)
        for row, feats in enumerate(found):
            for j, name in enumerate(self.features):
                value = feats.get(name)
                if value is not None and np.size(value):
                    out[row, j] = float(np.mean(value))
        return feature_major(out.reshape(n, k, len(self.features)))
