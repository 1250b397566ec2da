"""The vectorized electrophysiology library against per-trace references (numpy, scipy, eFEL)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from brian2 import ms, mV, nA, volt

from brian2modelfitting_sbi.features import FEATURES, EphysFeatures
from brian2modelfitting_sbi.features import library as lib
from brian2modelfitting_sbi.problem import Problem, ProblemError
from brian2modelfitting_sbi.simulation.result import SimulationResult

DT = 1e-4  # 0.1 ms, eFEL's interpolation step: its traces are then used as given
N_STEPS = 3000
THR = -0.02
STIM = (50e-3, 250e-3)
SPIKE_FEATURES = ["spike_count", "firing_rate", "first_spike_latency", "isi_mean", "isi_cv",
                  "adaptation_index"]
ALL = list(FEATURES)


# ---------------------------------------------------------------------------- synthetic data
def ap_shape(n: int = 120, width: float = 8.0) -> np.ndarray:
    """A stereotyped AP (1 = its height above rest) followed by an after-hyperpolarization."""
    i = np.arange(n, dtype=float)
    rise = np.exp(-((i - 10) / (0.35 * width)) ** 2)
    fall = np.exp(-((i - 10) / width) ** 2)
    ahp = -0.15 * np.exp(-np.maximum(i - 14, 0) / 30.0) * (i > 12)
    return np.where(i < 10, rise, fall) + ahp


def make_traces(trains, noise=0.0, vary=True, seed=0) -> np.ndarray:
    """One row per spike train (AP onsets in steps) at -70 mV, APs of about 100 mV."""
    rng = np.random.default_rng(seed)
    v = np.full((len(trains), N_STEPS), -0.07)
    for r, train in enumerate(trains):
        for j, s in enumerate(train):
            shape = ap_shape(width=6.0 + 2 * (r % 3))
            m = min(shape.size, N_STEPS - s)
            v[r, s : s + m] += 0.1 * (1 + (0.1 * (j % 3) if vary else 0)) * shape[:m]
    return v + noise * rng.normal(size=v.shape)


TRAINS = [
    [],  # no spike
    [700],  # single spike
    [700, 1100],  # one ISI
    [600, 800, 1100, 1500, 2000],  # adapting
    [550, 650, 800, 1000, 1300, 1700, 2900],  # last AP cut by the end of the recording
    [300, 1200, 1290, 2600],  # spikes before the stimulus and after it
]


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    """(3 samples, 2 stimuli, steps): the trains above plus noisy subthreshold traces."""
    v = make_traces(TRAINS, noise=0.3e-3)
    extra = -0.07 + 0.005 * np.sin(np.arange(N_STEPS) / 200.0)[None] + make_traces([[], []], 1e-3)
    return np.concatenate([v, extra + 0.07]).reshape(4, 2, N_STEPS)[:3]


def result_of(v: np.ndarray, spikes: list[list[float]] | None = None) -> SimulationResult:
    n, k, _ = v.shape
    neuron = times = None
    if spikes is not None:
        neuron = np.concatenate([np.full(len(s), i) for i, s in enumerate(spikes)]).astype(int)
        times = np.concatenate([np.asarray(s, dtype=float) for s in spikes])
        order = np.random.default_rng(1).permutation(len(times))  # monitors are time-ordered
        neuron, times = neuron[order], times[order]
    return SimulationResult({"v": v}, {"v": volt}, DT, n, k, neuron, times)


# ---------------------------------------------------------------------------- reference
def reference(v, thr=THR, window=(0.0, N_STEPS * DT), stim=STIM, spikes=None) -> dict:
    """Every feature of one 1-D trace, computed with plain loops, numpy and scipy.stats."""
    lo, hi = round(window[0] / DT), round(window[1] / DT)
    seg = v[lo:hi]
    start, stop = window
    onset = stim[0] if stim is not None else start
    ups = [i for i in range(1, len(seg)) if seg[i - 1] < thr <= seg[i]]
    if spikes is None:
        times = [(lo + i) * DT for i in ups]
    else:
        times = sorted(t for t in spikes if start <= t < stop)
    isi = np.diff(times)
    out = {
        "spike_count": len(times),
        "firing_rate": len(times) / (stop - start),
        "first_spike_latency": next((t - onset for t in times if t >= onset), stop - onset),
        "isi_mean": isi.mean() if len(isi) else stop - start,
        "isi_cv": isi.std(ddof=1) / isi.mean() if len(isi) >= 2 else 0.0,
        "adaptation_index": (
            np.mean([(b - a) / (b + a) for a, b in zip(isi[:-1], isi[1:], strict=True)])
            if len(isi) >= 2 else 0.0
        ),
        "mean": seg.mean(),
        "std": seg.std(),
        "skewness": scipy.stats.skew(seg) if seg.std() > 0 else 0.0,
        "kurtosis": scipy.stats.kurtosis(seg) if seg.std() > 0 else 0.0,
        "max": seg.max(),
        "min": seg.min(),
    }
    if stim is not None:
        s0, s1 = round(stim[0] / DT), round(stim[1] / DT)
        out["resting_potential"] = v[lo:s0].mean()
        out["steady_state"] = v[s1:hi].mean()
        out["steady_state_stimend"] = v[s1 - round(0.1 * (s1 - s0)) : s1].mean()
    peaks, widths, prev_end = [], [], 0
    for j, i in enumerate(ups):
        end = next((e for e in range(i + 1, len(seg)) if seg[e] < thr), len(seg))
        peak_at = i + int(np.argmax(seg[i:end]))
        peak, trough = seg[peak_at], seg[prev_end:i].min()
        level = (peak + trough) / 2
        r = peak_at - 1
        while seg[r] >= level:
            r -= 1
        limit = ups[j + 1] if j + 1 < len(ups) else len(seg)
        f = next((f for f in range(peak_at + 1, limit) if seg[f] < level), None)
        if f is not None:
            t_rise = r + (level - seg[r]) / (seg[r + 1] - seg[r])
            t_fall = f - 1 + (seg[f - 1] - level) / (seg[f - 1] - seg[f])
            widths.append((t_fall - t_rise) * DT)
        peaks.append(peak)
        prev_end = end
    out["ap_peak"] = np.mean(peaks) if peaks else seg.max()
    out["ap_width"] = np.mean(widths) if peaks else 0.0
    if stim is not None:
        out["ap_amplitude"] = out["ap_peak"] - out["resting_potential"]
    return out


def check(features: EphysFeatures, res: SimulationResult, refs: list[list[dict]]) -> None:
    x = features.compute(res)
    n, k = res.n_samples, res.n_traces
    assert x.shape == (n, len(features.features) * k)
    values = x.reshape(n, len(features.features), k)
    for f, name in enumerate(features.features):
        expected = np.array([[refs[s][j][name] for j in range(k)] for s in range(n)])
        np.testing.assert_allclose(values[:, f, :], expected, rtol=1e-9, atol=1e-12,
                                   err_msg=name)


# ---------------------------------------------------------------------------- against references
def test_every_feature_matches_the_per_trace_reference(traces):
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=(50 * ms, 250 * ms))
    refs = [[reference(tr) for tr in sample] for sample in traces]
    check(features, result_of(traces), refs)
    # the cases the definitions single out are present
    counts = [r["spike_count"] for sample in refs for r in sample]
    assert {0, 1, 2} <= set(counts) and max(counts) >= 5


def test_window_restricts_every_feature(traces):
    window = (40e-3, 200e-3)
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=(50 * ms, 150 * ms),
                             window=(40 * ms, 200 * ms))
    refs = [[reference(tr, window=window, stim=(50e-3, 150e-3)) for tr in s] for s in traces]
    check(features, result_of(traces), refs)
    assert features.names(2)[0] == "v.spike_count(40-200ms)[0]"


def test_one_window_per_stimulus(traces):
    windows = [(0.0, 0.3), (0.02, 0.28)]
    features = EphysFeatures(["spike_count", "isi_mean", "mean", "ap_width"],
                             threshold=THR * volt,
                             window=[(0 * ms, None), (20 * ms, 280 * ms)])
    refs = [[reference(tr, window=windows[j], stim=None) for j, tr in enumerate(s)]
            for s in traces]
    check(features, result_of(traces), refs)


def test_recorded_spikes_give_the_spike_features():
    trains = [[0.01, 0.06, 0.075, 0.1, 0.14], [], [0.2], [0.055, 0.21, 0.26, 0.29]]
    v = np.zeros((2, 2, N_STEPS))
    features = EphysFeatures(SPIKE_FEATURES, stimulus=(50 * ms, 250 * ms),
                             window=(0 * ms, 280 * ms))
    refs = [reference(v[0, 0], window=(0.0, 0.28), spikes=tr) for tr in trains]
    check(features, result_of(v, trains), [refs[:2], refs[2:]])
    assert features.recording().spikes and not features.recording().variables


def test_small_blocks_give_the_same_values(traces, monkeypatch):
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=(50 * ms, 250 * ms))
    whole = features.compute(result_of(traces))
    monkeypatch.setattr(lib, "_BLOCK_BYTES", 8 * N_STEPS)  # one sample per block
    np.testing.assert_allclose(features.compute(result_of(traces)), whole, rtol=1e-12)


def test_constant_trace_and_fill_values():
    v = np.full((1, 1, N_STEPS), -0.07)
    names = ["skewness", "kurtosis", "isi_cv", "first_spike_latency", "ap_peak", "ap_width"]
    default = EphysFeatures(names, threshold=THR * volt).compute(result_of(v))[0]
    np.testing.assert_allclose(default, [0, 0, 0, N_STEPS * DT, -0.07, 0])
    as_nan = EphysFeatures(names, threshold=THR * volt, fill=np.nan).compute(result_of(v))[0]
    assert np.isnan(as_nan).all()
    some = EphysFeatures(names, threshold=THR * volt, fill={"ap_width": -1.0})
    assert some.compute(result_of(v))[0][-1] == -1.0


def test_non_finite_trace_gives_nan_features(traces):
    v = traces.copy()
    v[1, 0, 100] = np.nan
    v[2, 1, 5] = np.inf
    v[2, 0, 660] = np.nan  # at the peak of an AP
    x = EphysFeatures(ALL, threshold=THR * volt, stimulus=(50 * ms, 250 * ms)).compute(
        result_of(v)).reshape(3, len(ALL), 2)
    assert np.isnan(x[1, :, 0]).all() and np.isnan(x[2, :, :]).all()
    assert np.isfinite(x[0]).all() and np.isfinite(x[1, :, 1]).all()


# ---------------------------------------------------------------------------- against eFEL
def test_features_shared_with_efel():
    efel = pytest.importorskip("efel")
    v = make_traces(TRAINS[:4] + [TRAINS[5]], vary=False)  # equal APs: crossing-to-peak fixed
    mine = EphysFeatures(
        ["spike_count", "isi_cv", "resting_potential", "steady_state", "steady_state_stimend",
         "max", "min", "ap_peak", "ap_amplitude"],
        threshold=-20 * mV, stimulus=(50 * ms, 250 * ms),
    ).compute(result_of(v[:, None]))
    old = efel.get_settings()
    efel.set_setting("voltage_base_start_perc", 0.0)  # resting potential: from the start
    efel.set_setting("ignore_first_ISI", False)
    try:
        found = efel.get_feature_values(
            [{"T": np.arange(N_STEPS) * 0.1, "V": row * 1000, "stim_start": [50.0],
              "stim_end": [250.0]} for row in v],
            ["spike_count", "ISI_CV", "voltage_base", "steady_state_voltage",
             "steady_state_voltage_stimend", "maximum_voltage", "minimum_voltage",
             "peak_voltage", "AP_amplitude_from_voltagebase"],
            raise_warnings=False,
        )
    finally:
        efel.set_setting("voltage_base_start_perc", old.voltage_base_start_perc)
        efel.set_setting("ignore_first_ISI", old.ignore_first_ISI)
    for row, feats in enumerate(found):
        ref = [np.mean(val) if val is not None and np.size(val) else np.nan
               for val in feats.values()]
        ref = np.array(ref) * [1, 1, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3]
        got = mine[row].copy()
        if np.isnan(ref[1]):  # eFEL: no CV below 3 spikes; here 0
            assert got[1] == 0
            ref[1] = got[1]
        if np.isnan(ref[7]):  # eFEL: no peak without spikes; here the trace maximum
            ref[7], ref[8] = ref[5], ref[5] - ref[2]
        # eFEL's windows include their end sample: 1e-4 covers that one sample
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-9, err_msg=f"row {row}")


def test_adaptation_index_is_efel_adaptation_index2_after_the_first_spike():
    efel = pytest.importorskip("efel")
    v = make_traces([TRAINS[3]], vary=False)
    # eFEL's adaptation_index2 leaves out the first ISI; here: a window after the first spike
    mine = EphysFeatures(["adaptation_index"], threshold=-20 * mV,
                         window=(70 * ms, None)).compute(result_of(v[:, None]))
    found = efel.get_feature_values(
        [{"T": np.arange(N_STEPS) * 0.1, "V": v[0] * 1000, "stim_start": [50.0],
          "stim_end": [250.0]}], ["adaptation_index2"], raise_warnings=False)
    np.testing.assert_allclose(mine[0, 0], found[0]["adaptation_index2"][0], rtol=1e-6)


# ---------------------------------------------------------------------------- API and errors
@pytest.fixture(scope="module")
def problem() -> Problem:
    current = np.zeros((2, N_STEPS))
    current[:, 500:2500] = 0.5
    return Problem.from_arguments(
        "dv/dt = (-70*mV - v + 100*Mohm*I)/(10*ms) : volt", input_var="I", input=current * nA,
        output_var="v", output=make_traces(TRAINS[:2]) * volt, dt=0.1 * ms,
    )


def test_bind_picks_the_variable_and_names_are_feature_major(problem):
    f = EphysFeatures(["mean", "spike_count"], threshold=0 * mV).bind(problem)
    assert f.recording().variables == ("v",) and not f.recording().spikes
    assert f.names(2) == ["v.mean[0]", "v.mean[1]", "v.spike_count[0]", "v.spike_count[1]"]
    assert f.units()["mean"] == volt


@pytest.mark.parametrize(
    ("kwargs", "bound", "message"),
    [
        ({"features": ["spike_cnt"]}, False, "did you mean"),
        ({"features": []}, False, "empty"),
        ({"features": ["resting_potential"]}, False, "stimulus="),
        ({"features": ["ap_width"]}, False, "threshold="),
        ({"features": ["mean"], "window": (10 * ms,)}, False, "start, stop"),
        ({"features": ["mean"], "window": (10, 20)}, False, "time with units"),
        ({"features": ["mean"], "window": (20 * ms, 10 * ms)}, False, "after start"),
        ({"features": ["mean"], "fill": {"mean": 0}}, False, "never undefined"),
        ({"features": ["spike_count"]}, True, "threshold="),  # no spikes observed
        ({"features": ["max"], "threshold": 1 * nA}, True, "units of"),
        ({"features": ["mean"], "window": (0 * ms, 400 * ms)}, True, "after the end"),
        ({"features": ["mean"], "variable": "w"}, True, "not an observed trace"),
        ({"features": ["steady_state"], "stimulus": (50 * ms, 300 * ms)}, True, "no sample"),
        ({"features": ["mean"], "window": [(0 * ms, None)] * 3}, True, "3 pairs for 2"),
    ],
)
def test_mistakes_are_reported_with_the_argument(problem, kwargs, bound, message):
    with pytest.raises(ProblemError, match=message):
        f = EphysFeatures(**kwargs)
        if bound:
            f.bind(problem)
