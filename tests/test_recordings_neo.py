"""Files that Neo reads, written here with Neo itself (its MATLAB format), through load_neo."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, nA

neo = pytest.importorskip("neo", reason="needs the optional [neo] extra")
pq = pytest.importorskip("quantities")

from conftest import FAST_ESTIMATOR, fitter_args  # noqa: E402

from brian2modelfitting_sbi import Inferencer  # noqa: E402
from brian2modelfitting_sbi.recordings import RecordingError, load_neo  # noqa: E402


def block(v_mV, i_pA=None, rate_kHz=10.0, v_unit="mV", i_unit="pA"):
    """One segment per row; a voltage channel and, with ``i_pA``, a current channel."""
    result = neo.Block(name="cell")
    for k, v in enumerate(v_mV):
        segment = neo.Segment(name=f"sweep{k}")
        segment.analogsignals.append(neo.AnalogSignal(
            np.asarray(v)[:, None], units=v_unit, sampling_rate=rate_kHz * pq.kHz, name="Vm",
        ))
        if i_pA is not None:
            segment.analogsignals.append(neo.AnalogSignal(
                np.asarray(i_pA[k])[:, None], units=i_unit, sampling_rate=rate_kHz * pq.kHz,
                name="Icmd",
            ))
        result.segments.append(segment)
    return result


def write_mat(path, blk):
    neo.io.NeoMatlabIO(str(path)).write_block(blk)
    return path


def passive_block(passive):
    return block(np.asarray(passive["output"] / mV), np.asarray(passive["input"] / nA) * 1e3)


def test_round_trip_of_a_file_neo_writes(passive, tmp_path):
    rec = load_neo(write_mat(tmp_path / "cell.mat", passive_block(passive)))
    assert rec.n_sweeps == 2 and rec.dt == 0.1 * ms
    np.testing.assert_allclose(np.asarray(rec.output), np.asarray(passive["output"]), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(rec.input), np.asarray(passive["input"]), rtol=1e-9)
    assert rec.sweeps == ["sweep 0 (Vm)", "sweep 1 (Vm)"]
    # a block already read, channel choice by name, the options
    again = load_neo(passive_block(passive), channel="Vm", stimulus_channel="Icmd", sweeps=[1],
                     liquid_junction_potential=5 * mV, t_stop=20 * ms)
    assert again.output.shape == (1, 200)
    assert float(again.output[0, 0] / mV) == pytest.approx(float(passive["output"][1, 0] / mV) - 5)


def test_errors_name_file_sweep_and_problem(tmp_path):
    v, i = np.full((2, 50), -70.0), np.zeros((2, 50))
    path = write_mat(tmp_path / "vonly.mat", block(v))
    with pytest.raises(RecordingError, match=r"vonly.mat, sweep 0 \(Vm\): missing stimulus"):
        load_neo(path)
    assert load_neo(path, stimulus=np.zeros(50) * nA).n_sweeps == 2
    odd = write_mat(tmp_path / "odd.mat", block(v, i, v_unit="uS"))
    with pytest.raises(RecordingError, match="odd.mat, sweep 0: unknown unit 'uS'"):
        load_neo(odd)
    vc = write_mat(tmp_path / "vc.mat", block(i, v_unit="pA"))
    with pytest.raises(RecordingError, match="vc.mat, sweep 0: no current-clamp data"):
        load_neo(vc)
    fast, slow = block(v[:1], i[:1]), block(np.full((1, 100), -70.0), np.zeros((1, 100)),
                                            rate_kHz=20.0)
    fast.segments.append(slow.segments[0])
    with pytest.raises(RecordingError, match="cell: mixed sampling rates"):
        load_neo(fast)
    with pytest.raises(RecordingError, match="no channel named 'Vx'"):
        load_neo(path, channel="Vx")
    with pytest.raises(RecordingError, match="nothere.abf: no such file"):
        load_neo(tmp_path / "nothere.abf")
    broken = tmp_path / "broken.abf"
    broken.write_bytes(b"not an ABF file")
    with pytest.raises(RecordingError, match="broken.abf: Neo cannot read it"):
        load_neo(broken)


def test_neo_file_to_posterior(passive, tmp_path):
    rec = load_neo(write_mat(tmp_path / "cell.mat", passive_block(passive)))
    args = {k: v for k, v in fitter_args(passive).items()
            if k not in ("input_var", "input", "output_var", "output", "dt")}
    inferencer = Inferencer(**args, **rec.as_inferencer_kwargs(),
                            features=[lambda v: v[100:150].mean(), lambda v: v[200:250].mean()])
    inferencer.infer(60, backend="snpe", seed=2, progress=False,
                     training={"max_num_epochs": 5}, estimator_options=FAST_ESTIMATOR,
                     **passive["bounds"])
    assert inferencer.sample(10, seed=0)["gL"].shape == (10,)
