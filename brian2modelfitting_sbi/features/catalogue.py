"""The catalogue of :class:`~brian2modelfitting_sbi.features.EphysFeatures`: each feature's
unit, kind and definition, and what undefined features are by default (the table of
:mod:`.library`'s documentation)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FEATURES", "FeatureInfo"]


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
    discrete : bool
        Whether its values are integers (a count), modelled as discrete by ``'mnle'``.
    """

    unit: str
    kind: str
    description: str
    stimulus: bool = False
    discrete: bool = False


#: The features of :class:`EphysFeatures`, by name.
FEATURES: dict[str, FeatureInfo] = {
    "spike_count": FeatureInfo("1", "spikes", "number of spikes", discrete=True),
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
