"""The compiled kernels of EphysFeatures: memory layouts, tile boundaries, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from brian2 import ms, volt
from test_features_library import ALL, DT, N_STEPS, THR, ap_shape, reference, result_of

from brian2modelfitting_sbi.features import EphysFeatures
from brian2modelfitting_sbi.features import _kernels as kernels

STIM = (50 * ms, 250 * ms)


def random_traces(n: int, seed: int = 0) -> np.ndarray:
    """``(n, N_STEPS)`` noisy traces with random AP trains of random heights and widths.

    Some APs barely pass the threshold (their half-height level lies below it, so that their
    fall is found after they end), some lie across the boundaries of the time tiles in which
    the kernels process time-major traces, one trace starts above threshold and some APs are
    cut by the end.
    """
    rng = np.random.default_rng(seed)
    v = -0.07 + 0.3e-3 * rng.normal(size=(n, N_STEPS))
    for r in range(n):
        onsets = np.sort(rng.choice(np.arange(5, N_STEPS - 5), rng.integers(0, 12), False))
        onsets = onsets[np.diff(onsets, prepend=-200) > 60]
        if r % 3 == 0:  # APs around the boundaries of the kernels' 256-step tiles
            onsets = 256 * np.arange(1, 11) - rng.integers(0, 25, 10)
        if r % 7 == 3:
            onsets = np.append(onsets, N_STEPS - 8)  # still above threshold at the end
        for s in onsets:
            shape = ap_shape(width=rng.uniform(3.0, 12.0))
            m = min(shape.size, N_STEPS - s)
            v[r, s : s + m] += rng.choice([0.055, 0.07, 0.1, 0.12]) * shape[:m]
    v[1, :30] = 0.01  # starts above threshold: not a spike
    return v


def time_major(v: np.ndarray) -> np.ndarray:
    """The same values as ``v`` (samples, traces, steps), laid out like a StateMonitor's memory:
    ``(steps, neurons)``, with a few extra neurons."""
    n, k, steps = v.shape
    memory = np.full((steps, n * k + 3), np.nan)
    memory[:, : n * k] = v.reshape(n * k, steps).T
    view = memory.T[: n * k].reshape(n, k, steps)
    assert np.shares_memory(view, memory) and view.strides[-1] > view.strides[0]
    return view


@pytest.fixture(scope="module")
def traces() -> np.ndarray:
    return random_traces(28).reshape(14, 2, N_STEPS)


def check_against_reference(features, v, window=(0.0, N_STEPS * DT), stim=(0.05, 0.25)):
    x = features.compute(result_of(v)).reshape(v.shape[0], len(features.features), -1)
    for s in range(v.shape[0]):
        for j in range(v.shape[1]):
            ref = reference(v[s, j], window=window, stim=stim)
            expected = [ref[name] for name in features.features]
            np.testing.assert_allclose(x[s, :, j], expected, rtol=1e-9, atol=1e-12,
                                       err_msg=f"sample {s}, trace {j}")
    return x


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
@pytest.mark.parametrize("layout", ["rows", "time-major"])
def test_random_traces_match_the_reference(traces, layout):
    v = traces if layout == "rows" else time_major(traces)
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=STIM)
    x = check_against_reference(features, v)
    width = x[:, ALL.index("ap_width")]
    assert (x[:, ALL.index("spike_count")] >= 5).any() and (width > 0).any()


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
def test_layouts_and_windows_agree(traces):
    """Rows processed whole and tiles of a time-major layout give the same values."""
    for window in [None, (12 * ms, 290 * ms)]:
        features = EphysFeatures(ALL, threshold=THR * volt, stimulus=STIM, window=window)
        rows = features.compute(result_of(traces))
        tiles = features.compute(result_of(time_major(traces)))
        np.testing.assert_allclose(tiles, rows, rtol=1e-11, atol=1e-15)
    window = (0.012, 0.29)
    check_against_reference(features, time_major(traces), window=window)


def test_non_finite_values_in_a_later_tile(traces):
    v = np.array(traces)
    v[3, 1, N_STEPS - 10] = np.nan
    v[5, 0, 700] = -np.inf
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=STIM)
    for data in (v, time_major(v)):
        x = features.compute(result_of(data)).reshape(14, len(ALL), 2)
        assert np.isnan(x[3, :, 1]).all() and np.isnan(x[5, :, 0]).all()
        bad = np.zeros((14, 2), dtype=bool)
        bad[3, 1] = bad[5, 0] = True
        assert np.isfinite(x.transpose(0, 2, 1)[~bad]).all()


@pytest.mark.parametrize("layout", ["rows", "time-major"])
def test_moments_of_a_large_offset_and_a_constant(layout):
    """Two-pass accuracy: a tiny fluctuation on a large offset, and an exactly constant trace."""
    rng = np.random.default_rng(3)
    offset = 1e3 + 1e-6 * rng.gamma(2.0, size=N_STEPS)  # skewed, std 1e-6 on 1e3
    v = np.stack([offset, np.full(N_STEPS, -0.07123)])[:, None, :]
    v = v if layout == "rows" else time_major(v)
    names = ["mean", "std", "skewness", "kurtosis"]
    x = EphysFeatures(names).compute(result_of(v))
    expected = [offset.mean(), offset.std(), scipy.stats.skew(offset),
                scipy.stats.kurtosis(offset)]
    np.testing.assert_allclose(x[0], expected, rtol=1e-7)
    np.testing.assert_allclose(x[1, 0], -0.07123, rtol=1e-13)
    assert x[1, 1] < 1e-20 and x[1, 2] == x[1, 3] == 0  # constant: no skewness, no kurtosis


def test_float32_read_only_traces_and_recorded_spikes(traces):
    features = EphysFeatures(ALL, threshold=THR * volt, stimulus=STIM)
    single = traces.astype(np.float32)
    np.testing.assert_allclose(features.compute(result_of(single)),
                               features.compute(result_of(single.astype(float))), rtol=1e-12)
    expected = features.compute(result_of(traces))
    for v in (np.array(traces), time_major(traces)):  # e.g. a memory-mapped recording
        v.setflags(write=False)
        np.testing.assert_allclose(features.compute(result_of(v)), expected, rtol=1e-11)
    # the spike times detected in the trace, recorded instead: the same spike features
    spiking = ["spike_count", "first_spike_latency", "isi_mean", "isi_cv", "adaptation_index"]
    from_trace = EphysFeatures(spiking, threshold=THR * volt, stimulus=STIM)
    above = traces >= THR
    up = np.argwhere(~above[..., :-1] & above[..., 1:])
    spikes = [[] for _ in range(traces.shape[0] * traces.shape[1])]
    for s, j, i in up:
        spikes[s * traces.shape[1] + j].append((i + 1) * DT)
    recorded = EphysFeatures(spiking, stimulus=STIM)
    np.testing.assert_allclose(recorded.compute(result_of(traces, spikes)),
                               from_trace.compute(result_of(traces)), rtol=1e-12)


def test_kernel_columns_cover_the_library():
    assert set(kernels.COLUMNS) - {"n_ap"} <= set(ALL)
    assert set(ALL) - set(kernels.COLUMNS) == {"firing_rate", "ap_amplitude"}
    assert kernels.TRAIN_COLUMNS == ("spike_count", "first_spike_latency", "isi_mean",
                                     "isi_cv", "adaptation_index")


def test_recorded_spikes_of_unknown_neurons_are_refused():
    v = np.zeros((1, 2, N_STEPS))
    res = result_of(v, [[0.1], [0.2]])
    res.spike_neuron = np.array([0, 2])  # only traces 0 and 1 exist
    with pytest.raises(ValueError, match="neuron"):
        EphysFeatures(["spike_count"], stimulus=STIM).compute(res)
