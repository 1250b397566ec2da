"""The windows of :class:`~brian2modelfitting_sbi.features.EphysFeatures`: the ``window=`` and
``stimulus=`` arguments checked as ``(start, stop)`` pairs of times, and planned, for one
recording protocol, into the sample ranges each stimulus is analysed on (its window, the
baseline before the onset, the steady state after the stimulus, the end of the stimulus).
Stimuli that share all their ranges form one :class:`~.blocks.Group`, computed together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, second
from brian2.units.fundamentalunits import get_dimensions

from ..errors import ProblemError
from .blocks import Group

__all__ = ["check_pairs", "check_time", "fmt_ms", "plan_groups"]


def check_time(name: str, value: Any, allow_none: bool = False) -> float | None:
    """A time with units (or a plain 0) → seconds; None passes if ``allow_none``; anything
    else raises a ProblemError naming the argument ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    if not isinstance(value, Quantity) or get_dimensions(value) != second.dim or np.ndim(value):
        raise ProblemError(f"{name}: expected a time with units (e.g. 10*ms), got {value!r}")
    return float(value)


def check_pairs(name: str, value: Any, allow_none: bool) -> list[tuple[float, float | None]] | None:
    """``(start, stop)`` or a sequence of such pairs (one per stimulus) → list of pairs."""
    if value is None:
        return None
    if isinstance(value, Sequence) and len(value) == 2 and not isinstance(value[0], Sequence):
        value = [value]
    elif not isinstance(value, Sequence) or not value:
        raise ProblemError(f"{name}: expected (start, stop) with units, or one such pair per "
                           f"stimulus, got {value!r}")
    pairs = []
    for k, pair in enumerate(value):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ProblemError(f"{name}[{k}]: expected (start, stop), got {pair!r}")
        start = check_time(f"{name}[{k}] start", pair[0])
        stop = check_time(f"{name}[{k}] stop", pair[1], allow_none=allow_none)
        if stop is not None and stop <= start:
            raise ProblemError(f"{name}[{k}]: stop must be after start, got {pair!r}")
        pairs.append((start, stop))
    return pairs


def fmt_ms(seconds: float) -> str:
    """Seconds written as milliseconds, shortest form (``0.01`` → ``'10'``)."""
    return f"{seconds * 1000:g}"


def plan_groups(
    window: list[tuple[float, float | None]] | None,
    stimulus: list[tuple[float, float]] | None,
    features: Sequence[str],
    dt: float,
    n_steps: int,
    n_traces: int,
) -> list[Group]:
    """The stimuli grouped by their sample ranges, for recordings of ``n_steps`` steps of
    ``dt`` seconds and ``n_traces`` stimuli.

    Parameters
    ----------
    window, stimulus : list of (start, stop) in seconds, or None
        As returned by :func:`check_pairs`: one pair for all stimuli or one per stimulus.
    features : sequence of str
        The features computed; those measured relative to the stimulus need their ranges
        inside the window.
    dt : float
        Time step, in seconds.
    n_steps, n_traces : int
        Samples per trace and number of stimuli.

    Returns
    -------
    list of Group
        Each group: its stimuli, window and ranges (relative to the window start).

    Raises
    ------
    ProblemError
        If a window ends after the recording or holds fewer than 3 samples, if the number
        of pairs matches neither 1 nor ``n_traces``, or if a feature's range leaves no sample.
    """
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

    windows = per_trace(window, "window") or [(0.0, None)] * n_traces
    stimuli = per_trace(stimulus, "stimulus")
    specs: dict[tuple, list[int]] = {}
    for k in range(n_traces):
        start, stop = windows[k]
        stop = duration if stop is None else stop
        if stop > duration + dt / 2:
            raise ProblemError(
                f"window: ends at {fmt_ms(stop)} ms, after the end of the recording "
                f"({fmt_ms(duration)} ms)"
            )
        lo, hi = int(round(start / dt)), min(n_steps, int(round(stop / dt)))
        if hi - lo < 3:
            raise ProblemError(
                f"window: ({fmt_ms(start)}, {fmt_ms(stop)}) ms holds {max(hi - lo, 0)} "
                f"samples; it needs at least 3"
            )
        onset, rest, steady, stimend = start, None, None, None
        if stimuli is not None:
            on, off = stimuli[k]
            s0, s1 = int(round(on / dt)), int(round(off / dt))
            onset = on
            if "first_spike_latency" in features and not start <= on < stop:
                raise ProblemError(
                    f"stimulus: first_spike_latency needs the onset ({fmt_ms(on)} ms) "
                    f"inside the window ({fmt_ms(start)}, {fmt_ms(stop)}) ms"
                )
            if {"resting_potential", "ap_amplitude"} & set(features):
                if s0 - lo < 1 or s0 > hi:
                    raise ProblemError(
                        f"stimulus: the resting potential is measured between the window "
                        f"start ({fmt_ms(start)} ms) and the onset ({fmt_ms(on)} ms), "
                        f"which leaves no sample"
                    )
                rest = (0, s0 - lo)
            if "steady_state" in features:
                if hi - s1 < 1 or s1 < lo:
                    raise ProblemError(
                        f"stimulus: steady_state is measured between the stimulus end "
                        f"({fmt_ms(off)} ms) and the window end ({fmt_ms(stop)} ms), "
                        f"which leaves no sample"
                    )
                steady = (s1 - lo, hi - lo)
            if "steady_state_stimend" in features:
                first = s1 - max(1, int(round(0.1 * (s1 - s0))))
                if first < lo or s1 > hi:
                    raise ProblemError(
                        f"stimulus: steady_state_stimend needs the end of the stimulus "
                        f"({fmt_ms(off)} ms) inside the window"
                    )
                stimend = (first - lo, s1 - lo)
        spec = (lo, hi, float(start), float(stop), float(onset), rest, steady, stimend)
        specs.setdefault(spec, []).append(k)
    return [Group(tuple(ks), *spec) for spec, ks in specs.items()]
