"""The vectorized feature library against per-trace Python callables computing the same values.

Synthetic recordings (noisy step responses with trains of stereotyped APs, from silent to
~40 Hz, adapting) are analysed in chunks, as the simulation engine hands them over: once by
:class:`~brian2modelfitting_sbi.features.EphysFeatures` on whole chunks, once by per-trace
callables ``f(v) -> float`` (one per feature, as users wrote them for the upstream Inferencer,
run through :class:`~brian2modelfitting_sbi.features.CallableFeatures`). Prints the CPU time
of each (process time: robust to other jobs sharing the cores), the speed-up, and the largest
relative difference per feature.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_features.py            # 10,000 x 20,000
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_features.py --traces 1000  # quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.stats
from brian2 import ms, volt

from brian2modelfitting_sbi.features import FEATURES, CallableFeatures, EphysFeatures
from brian2modelfitting_sbi.simulation.result import SimulationResult

DT = 0.05e-3
THRESHOLD = -0.02
STIMULUS = (0.1, 0.9)  # seconds, for steps of 20,000 x 0.05 ms = 1 s
AP_LENGTH = 120  # samples of the AP waveform (6 ms)


# ---------------------------------------------------------------------------- synthetic data
def ap_waveform(width: float) -> np.ndarray:
    i = np.arange(AP_LENGTH, dtype=float)
    rise = np.exp(-((i - 10) / (0.35 * width)) ** 2)
    fall = np.exp(-((i - 10) / width) ** 2)
    ahp = -0.15 * np.exp(-np.maximum(i - 14, 0) / 40.0) * (i > 12)
    return np.where(i < 10, rise, fall) + ahp


def synthetic_block(n: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, n_steps)`` membrane potentials in volts."""
    t = np.arange(n_steps) * DT
    on, off = (t >= STIMULUS[0]) & (t < STIMULUS[1]), t >= STIMULUS[1]
    depol = rng.uniform(0.005, 0.02, n)[:, None]
    tau = rng.uniform(0.005, 0.03, n)[:, None]
    v = -0.07 + depol * on * (1 - np.exp(-(t - STIMULUS[0]).clip(0) / tau))
    v += depol * off * np.exp(-(t - STIMULUS[1]).clip(0) / tau) * (1 - np.exp(-0.8 / tau))
    v += rng.normal(0, 0.3e-3, v.shape)
    # spike trains: adapting ISIs from a per-trace rate (0 to ~40 Hz), a few spontaneous spikes
    rate = rng.choice([0.0, 1.5, 3.0, 10.0, 20.0, 40.0], n)
    first = STIMULUS[0] + rng.uniform(0.002, 0.05, n)
    adapt = rng.uniform(0.0, 0.3, n)
    rows, onsets = [], []
    for r in range(n):  # building the data, not timed
        if rate[r] == 0:
            continue
        times, isi, s = [first[r]], 1 / rate[r], first[r]
        while True:
            isi *= 1 + adapt[r] * rng.uniform(0.2, 1.0)
            s += max(isi * rng.uniform(0.8, 1.2), 0.008)
            if s >= STIMULUS[1] - 0.006:
                break
            times.append(s)
        if rng.random() < 0.2:
            times.insert(0, rng.uniform(0.01, STIMULUS[0] - 0.01))
        rows += [r] * len(times)
        onsets += times
    rows = np.asarray(rows, dtype=np.int64)
    onsets = np.round(np.asarray(onsets) / DT).astype(np.int64)
    widths = rng.uniform(5.0, 12.0, n)
    amps = rng.uniform(0.09, 0.12, rows.size)
    wave = np.stack([ap_waveform(w) for w in widths])  # (n, AP_LENGTH)
    idx = onsets[:, None] + np.arange(AP_LENGTH)
    keep = idx < n_steps
    flat_idx = (rows[:, None] * n_steps + idx)[keep]
    v.reshape(-1)[flat_idx] += (amps[:, None] * wave[rows])[keep]  # APs never overlap
    return v


# ---------------------------------------------------------------------------- per-trace callables
def per_trace_callables(n_steps: int) -> list:
    """One ``f(v) -> float`` per library feature, as a user would write them."""
    duration = n_steps * DT
    s0, s1 = round(STIMULUS[0] / DT), round(STIMULUS[1] / DT)
    last = s1 - round(0.1 * (s1 - s0))

    def spike_times(v):
        above = v >= THRESHOLD
        return (np.flatnonzero(~above[:-1] & above[1:]) + 1) * DT

    def spike_count(v):
        return len(spike_times(v))

    def firing_rate(v):
        return len(spike_times(v)) / duration

    def first_spike_latency(v):
        t = spike_times(v)
        t = t[t >= STIMULUS[0]]
        return t[0] - STIMULUS[0] if len(t) else duration - STIMULUS[0]

    def isi_mean(v):
        isi = np.diff(spike_times(v))
        return isi.mean() if len(isi) else duration

    def isi_cv(v):
        isi = np.diff(spike_times(v))
        return isi.std(ddof=1) / isi.mean() if len(isi) >= 2 else 0.0

    def adaptation_index(v):
        isi = np.diff(spike_times(v))
        if len(isi) < 2:
            return 0.0
        return np.mean((isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1]))

    def mean(v):
        return v.mean()

    def std(v):
        return v.std()

    def skewness(v):
        return scipy.stats.skew(v)

    def kurtosis(v):
        return scipy.stats.kurtosis(v)

    def vmax(v):
        return v.max()

    def vmin(v):
        return v.min()

    def resting_potential(v):
        return v[:s0].mean()

    def steady_state(v):
        return v[s1:].mean()

    def steady_state_stimend(v):
        return v[last:s1].mean()

    def action_potentials(v):
        """(peak, width or None) of each AP, with a Python loop over APs."""
        above = v >= THRESHOLD
        ups = np.flatnonzero(~above[:-1] & above[1:]) + 1
        downs = np.flatnonzero(above[:-1] & ~above[1:]) + 1
        aps, prev_end = [], 0
        for j, u in enumerate(ups):
            k = np.searchsorted(downs, u)
            end = downs[k] if k < len(downs) else len(v)
            peak_at = u + int(np.argmax(v[u:end]))
            peak, trough = v[peak_at], v[prev_end:u].min()
            level = 0.5 * (peak + trough)
            r = prev_end + np.flatnonzero(v[prev_end:peak_at] < level)[-1]
            limit = ups[j + 1] - 1 if j + 1 < len(ups) else len(v) - 1
            below = np.flatnonzero(v[peak_at + 1 : limit + 1] < level)
            width = None
            if len(below):
                f = peak_at + 1 + below[0]
                t_rise = r + (level - v[r]) / (v[r + 1] - v[r])
                t_fall = (f - 1) + (v[f - 1] - level) / (v[f - 1] - v[f])
                width = (t_fall - t_rise) * DT
            aps.append((peak, width))
            prev_end = end
        return aps

    def ap_peak(v):
        aps = action_potentials(v)
        return np.mean([p for p, _ in aps]) if aps else v.max()

    def ap_amplitude(v):
        aps = action_potentials(v)
        peak = np.mean([p for p, _ in aps]) if aps else v.max()
        return peak - v[:s0].mean()

    def ap_width(v):
        aps = action_potentials(v)
        widths = [w for _, w in aps if w is not None]
        if not aps:
            return 0.0
        return np.mean(widths) if widths else np.nan

    funcs = {
        "spike_count": spike_count, "firing_rate": firing_rate,
        "first_spike_latency": first_spike_latency, "isi_mean": isi_mean, "isi_cv": isi_cv,
        "adaptation_index": adaptation_index, "mean": mean, "std": std, "skewness": skewness,
        "kurtosis": kurtosis, "max": vmax, "min": vmin, "resting_potential": resting_potential,
        "steady_state": steady_state, "steady_state_stimend": steady_state_stimend,
        "ap_peak": ap_peak, "ap_amplitude": ap_amplitude, "ap_width": ap_width,
    }
    assert list(funcs) == list(FEATURES)
    return list(funcs.values())


# ---------------------------------------------------------------------------- the comparison
def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|) per column (0 where both are 0; inf where only one is NaN)."""
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
    rel = np.where(both_nan, 0.0, np.where(one_nan, np.inf, rel))
    return rel.max(axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=500, help="traces per chunk")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    names = list(FEATURES)
    library = EphysFeatures(names, threshold=THRESHOLD * volt,
                            stimulus=(STIMULUS[0] * 1000 * ms, STIMULUS[1] * 1000 * ms))
    callables = CallableFeatures("v", per_trace_callables(args.steps))
    # the library's first call compiles its numba kernels (a few seconds), or loads them from
    # numba's on-disk cache (a fraction of a second): once per process, timed apart
    v = synthetic_block(2, args.steps, np.random.default_rng(args.seed + 1))
    t0 = time.process_time()
    library.compute(SimulationResult({"v": v[:, None, :]}, {"v": volt}, DT, 2, 1))
    t_first = time.process_time() - t0
    rng = np.random.default_rng(args.seed)
    t_lib = t_call = 0.0
    worst = np.zeros(len(names))
    n_spikes = []
    for start in range(0, args.traces, args.chunk):
        n = min(args.chunk, args.traces - start)
        v = synthetic_block(n, args.steps, rng)
        result = SimulationResult({"v": v[:, None, :]}, {"v": volt}, DT, n, 1,
                                  meta={"duration": args.steps * DT})
        t0 = time.process_time()
        x_lib = library.compute(result)
        t1 = time.process_time()
        x_call = callables.compute(result)
        t2 = time.process_time()
        t_lib, t_call = t_lib + t1 - t0, t_call + t2 - t1
        worst = np.maximum(worst, relative_difference(x_lib, x_call))
        n_spikes.append(x_lib[:, 0])
        del v, result
    counts = np.concatenate(n_spikes)

    print(f"{args.traces} traces x {args.steps} steps (dt = {DT * 1e3:g} ms), chunks of "
          f"{args.chunk}; spikes per trace: mean {counts.mean():.1f}, max {counts.max():.0f}, "
          f"{np.mean(counts == 0):.0%} silent, {np.mean(counts == 1):.0%} single spike")
    print(f"\n{'feature':<22}{'max rel. diff':>14}")
    for name, diff in zip(names, worst, strict=True):
        print(f"{name:<22}{diff:>14.2e}")
    print(f"\n{'':<22}{'CPU time (s)':>14}{'per trace (us)':>16}")
    for label, t in (("library (vectorized)", t_lib), ("per-trace callables", t_call)):
        print(f"{label:<22}{t:>14.2f}{1e6 * t / args.traces:>16.1f}")
    print(f"library first call in this process (numba compile or cache load): {t_first:.2f} s")
    speedup = t_call / t_lib
    print(f"\nspeed-up: {speedup:.1f}x (goal >= 20x; {t_call / (t_lib + t_first):.1f}x with the "
          f"first call); max relative difference: {worst.max():.2e} (goal <= 1e-6)")


if __name__ == "__main__":
    main()
