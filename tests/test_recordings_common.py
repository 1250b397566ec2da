"""Recordings and the checks every loader shares (no optional dependency needed)."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import amp, ms, mV, nA, pA, second, volt

from brian2modelfitting_sbi.recordings import RecordingError, Recordings, condition_many_kwargs
from brian2modelfitting_sbi.recordings._common import Sweep, assemble, parse_unit


def sweep(label="sweep 0", n=100, dt=1e-4, unit="mV", stim=True, stim_unit="pA", level=-70.0):
    return Sweep(
        label=label,
        response=np.full(n, level),
        response_unit=unit,
        dt=dt,
        stimulus=np.arange(n) * dt * 1e6 if stim else None,  # pA, a ramp in time
        stimulus_unit=stim_unit if stim else None,
    )


@pytest.mark.parametrize(
    ("text", "scale", "unit"),
    [("mV", 1e-3, volt), ("V", 1.0, volt), ("volts", 1.0, volt), ("uV", 1e-6, volt),
     ("pA", 1e-12, amp), ("nA", 1e-9, amp), ("amperes", 1.0, amp), ("nanoamperes", 1e-9, amp)],
)
def test_parse_unit(text, scale, unit):
    got_scale, got_unit = parse_unit(text, "f")
    assert got_unit is unit and got_scale == pytest.approx(scale)


def test_units_are_kept_as_quantities():
    rec = assemble([sweep(), sweep("sweep 1")], "cell.x")
    assert isinstance(rec, Recordings) and rec.n_sweeps == 2
    assert rec.output.dim == volt.dim and rec.input.dim == amp.dim
    assert float(rec.output[0, 0] / mV) == pytest.approx(-70.0)
    assert float(rec.input[0, -1] / pA) == pytest.approx(9900.0)
    assert rec.dt == 0.1 * ms and rec.duration == 10 * ms
    kwargs = rec.as_inferencer_kwargs()
    assert set(kwargs) == {"input_var", "input", "output_var", "output", "dt"}
    assert rec.sweeps == ["sweep 0", "sweep 1"] and "cell.x" in repr(rec)


def test_liquid_junction_potential_and_window():
    rec = assemble([sweep()], "f", liquid_junction_potential=14 * mV, t_start=2 * ms,
                   t_stop=7 * ms)
    assert float(rec.output[0, 0] / mV) == pytest.approx(-84.0)
    assert rec.output.shape == (1, 50)
    assert float(rec.input[0, 0] / pA) == pytest.approx(2000.0)


def test_resampling_to_a_given_dt_and_mixed_rates():
    sweeps = [sweep(dt=1e-4, n=100), sweep("sweep 1", dt=5e-5, n=200)]
    with pytest.raises(RecordingError, match=r"f: mixed sampling rates \(sweep 0: 10000 Hz, "
                                             r"sweep 1: 20000 Hz\); give dt="):
        assemble(sweeps, "f")
    rec = assemble(sweeps, "f", dt=0.2 * ms)
    assert rec.dt == 0.2 * ms and rec.output.shape == (2, 50)
    np.testing.assert_allclose(np.asarray(rec.input[0]), np.asarray(rec.input[1]), rtol=1e-6)


def test_given_stimulus_replaces_a_missing_one():
    with pytest.raises(RecordingError, match="f, sweep 0: missing stimulus"):
        assemble([sweep(stim=False)], "f")
    rec = assemble([sweep(stim=False)], "f", stimulus=np.ones(100) * 0.2 * nA)
    assert float(rec.input[0, 3] / nA) == pytest.approx(0.2)
    with pytest.raises(RecordingError, match="stimulus: expected a current with units"):
        assemble([sweep(stim=False)], "f", stimulus=np.ones(100))
    with pytest.raises(RecordingError, match="the given stimulus has 99 steps, the sweep 100"):
        assemble([sweep(stim=False)], "f", stimulus=np.ones(99) * nA)


def test_errors_name_file_sweep_and_problem():
    with pytest.raises(RecordingError, match="f, sweep 3: unknown unit 'uS'"):
        assemble([sweep("sweep 3", unit="uS")], "f")
    with pytest.raises(RecordingError, match="f, sweep 0: the response is in 'pA'.*not "
                                             "current-clamp data"):
        assemble([sweep(unit="pA")], "f")
    with pytest.raises(RecordingError, match="different lengths"):
        assemble([sweep(n=100), sweep("sweep 1", n=90)], "f")
    with pytest.raises(RecordingError, match="ends after the sweep"):
        assemble([sweep()], "f", t_stop=20 * ms)
    with pytest.raises(RecordingError, match="t_start: expected a time"):
        assemble([sweep()], "f", t_start=2)
    with pytest.raises(RecordingError, match="liquid_junction_potential: expected a voltage"):
        assemble([sweep()], "f", liquid_junction_potential=14)
    with pytest.raises(RecordingError, match="no current-clamp sweeps"):
        assemble([], "f")


def test_condition_many_kwargs_checks_the_protocol():
    a, b = assemble([sweep()], "a.nwb"), assemble([sweep(level=-65.0)], "b.nwb")
    kwargs = condition_many_kwargs([a, b])
    assert kwargs["names"] == ["a.nwb", "b.nwb"] and len(kwargs["outputs"]) == 2
    assert kwargs["dt"] == a.dt and kwargs["input_var"] == "I"
    other = assemble([sweep(stim=False)], "c.nwb", stimulus=np.zeros(100) * amp)
    with pytest.raises(RecordingError, match="c.nwb: its stimulus differs from a.nwb's"):
        condition_many_kwargs([a, other])
    slow = assemble([sweep()], "d.nwb", dt=0.2 * ms)
    with pytest.raises(RecordingError, match="d.nwb: dt"):
        condition_many_kwargs([a, slow])
    assert condition_many_kwargs([a], names=["cell A"])["names"] == ["cell A"]
    assert a.dt == 1e-4 * second
