"""NWB files written here with pynwb, read back by load_nwb, and into an Inferencer."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from brian2 import ms, mV, nA

pynwb = pytest.importorskip("pynwb", reason="needs the optional [nwb] extra")

from conftest import FAST_ESTIMATOR, fitter_args  # noqa: E402
from pynwb.icephys import (  # noqa: E402
    CurrentClampSeries,
    CurrentClampStimulusSeries,
    VoltageClampSeries,
)

from brian2modelfitting_sbi import Inferencer  # noqa: E402
from brian2modelfitting_sbi.recordings import (  # noqa: E402
    RecordingError,
    condition_many_kwargs,
    load_nwb,
)


def write_nwb(path, v_mV, i_nA, rates=None, stimulus=True, sweep_numbers=True, clamp=True):
    """One CurrentClampSeries per row of ``v_mV`` (stored in mV through ``conversion``) and,
    with ``stimulus``, one CurrentClampStimulusSeries per row of ``i_nA``."""
    nwb = pynwb.NWBFile(
        session_description="test cell", identifier=str(path),
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    device = nwb.create_device(name="amplifier")
    electrode = nwb.create_icephys_electrode(name="e0", description="patch", device=device)
    rates = rates or [10_000.0] * len(v_mV)
    for k, (v, i, rate) in enumerate(zip(v_mV, i_nA, rates, strict=True)):
        number = {"sweep_number": k} if sweep_numbers else {}
        if clamp:
            nwb.add_acquisition(CurrentClampSeries(
                name=f"response_{k}", data=np.asarray(v, dtype=np.float32), electrode=electrode,
                rate=rate, gain=1.0, conversion=1e-3, **number,
            ))
        else:
            nwb.add_acquisition(VoltageClampSeries(
                name=f"vc_{k}", data=np.asarray(i, dtype=np.float32), electrode=electrode,
                rate=rate, gain=1.0, **number,
            ))
        if stimulus:
            nwb.add_stimulus(CurrentClampStimulusSeries(
                name=f"stimulus_{k}", data=np.asarray(i, dtype=float) * 1e-9,
                electrode=electrode, rate=rate, gain=1.0, **number,
            ))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def passive_file(passive, path):
    v = np.asarray(passive["output"] / mV)
    i = np.asarray(passive["input"] / nA)
    return write_nwb(path, v, i)


def test_round_trip_keeps_units_dt_and_stimulus(passive, tmp_path):
    rec = load_nwb(passive_file(passive, tmp_path / "cell.nwb"))
    assert rec.n_sweeps == 2 and rec.dt == 0.1 * ms
    np.testing.assert_allclose(np.asarray(rec.output), np.asarray(passive["output"]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(rec.input), np.asarray(passive["input"]), rtol=1e-12)
    assert rec.sweeps == ["sweep 0 (response_0)", "sweep 1 (response_1)"]
    assert rec.metadata["electrode"] == "patch"


def test_options_select_correct_cut_and_resample(passive, tmp_path):
    path = passive_file(passive, tmp_path / "cell.nwb")
    rec = load_nwb(path, sweeps=[1], liquid_junction_potential=10 * mV, t_start=5 * ms,
                   t_stop=25 * ms, dt=0.2 * ms)
    assert rec.output.shape == (1, 100) and rec.dt == 0.2 * ms
    assert float(rec.output[0, 0] / mV) == pytest.approx(
        float(passive["output"][1, 50] / mV) - 10, abs=1e-4
    )
    given = load_nwb(path, stimulus=np.zeros(300) * nA)
    assert float(abs(given.input).max()) == 0
    with pytest.raises(RecordingError, match=r"cell.nwb: sweeps \[7\] not found"):
        load_nwb(path, sweeps=[7])


def test_errors_name_file_and_sweep(tmp_path):
    v, i = np.full((2, 50), -70.0), np.zeros((2, 50))
    no_cc = write_nwb(tmp_path / "vc.nwb", v, i, clamp=False)
    with pytest.raises(RecordingError, match=r"vc.nwb: no current-clamp data \(no "
                                             r"CurrentClampSeries.*VoltageClampSeries"):
        load_nwb(no_cc)
    bare = write_nwb(tmp_path / "bare.nwb", v, i, stimulus=False)
    with pytest.raises(RecordingError, match=r"bare.nwb, sweep 0 \(response_0\): missing "
                                             r"stimulus"):
        load_nwb(bare)
    v2, i2 = [np.full(50, -70.0), np.full(100, -70.0)], [np.zeros(50), np.zeros(100)]
    mixed = write_nwb(tmp_path / "mixed.nwb", v2, i2, rates=[10_000.0, 20_000.0])
    with pytest.raises(RecordingError, match="mixed.nwb: mixed sampling rates"):
        load_nwb(mixed)
    assert load_nwb(mixed, dt=0.1 * ms).output.shape == (2, 50)
    with pytest.raises(RecordingError, match="nothere.nwb: no such file"):
        load_nwb(tmp_path / "nothere.nwb")
    unnumbered = write_nwb(tmp_path / "unnumbered.nwb", v, i, sweep_numbers=False)
    assert load_nwb(unnumbered).n_sweeps == 2


def test_nwb_file_to_posterior_and_condition_many(passive, tmp_path):
    """End to end: the file goes straight into the constructor; a tiny SNPE; two cells."""
    rec = load_nwb(passive_file(passive, tmp_path / "cell.nwb"))
    args = {k: v for k, v in fitter_args(passive).items()
            if k not in ("input_var", "input", "output_var", "output", "dt")}
    inferencer = Inferencer(**args, **rec.as_inferencer_kwargs(),
                            features=[lambda v: v[100:150].mean(), lambda v: v[200:250].mean()])
    inferencer.infer(60, backend="snpe", seed=1, progress=False,
                     training={"max_num_epochs": 5}, estimator_options=FAST_ESTIMATOR,
                     **passive["bounds"])
    samples = inferencer.sample(20, seed=0)
    assert set(samples) == {"C", "gL"} and samples["C"].shape == (20,)
    assert inferencer.problem.outputs["v"].shape == (2, 300)
    np.testing.assert_allclose(inferencer.problem.inputs["I"], np.asarray(passive["input"]))

    other = tmp_path / "cell2.nwb"
    write_nwb(other, np.asarray(passive["output"] / mV) + 1.0, np.asarray(passive["input"] / nA))
    cells = [rec, load_nwb(other)]
    results = inferencer.condition_many(**condition_many_kwargs(cells), n_samples=20,
                                        with_map=False)
    assert len(results) == 2 and results[1].name == "cell2.nwb"
