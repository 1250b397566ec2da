"""Save/load: same posterior after loading, no simulation, and no code run from the file."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from brian2 import Equations, ms, mV, nS, pF
from conftest import window_features
from workflow_support import run, trained_snpe, two_round

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.io import SavedFileError, equations_text, value_from_json, value_json
from brian2modelfitting_sbi.simulation import ChunkSimulator, runner


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail if anything simulates features or builds a network (after training)."""
    trained_snpe()

    def refuse(*args, **kwargs):
        raise AssertionError("simulated during load")

    monkeypatch.setattr(runner, "run_chunk", refuse)
    return ChunkSimulator.n_builds


def test_round_trip_samples_the_same_posterior(tmp_path, no_simulation):
    inf = trained_snpe()
    path = tmp_path / "snpe.zip"
    inf.save(path)
    loaded = Inferencer.load(path)
    assert ChunkSimulator.n_builds == no_simulation
    np.testing.assert_array_equal(loaded.sample_array(200, seed=9), inf.sample_array(200, seed=9))
    assert loaded.space == inf.space
    assert [repr(u) for u in loaded.space.units] == [repr(u) for u in inf.space.units]
    np.testing.assert_array_equal(loaded.theta, inf.theta)
    np.testing.assert_array_equal(loaded.x, inf.x)
    np.testing.assert_array_equal(loaded.x_o, inf.x_o)
    assert loaded.feature_names == inf.feature_names
    assert [r.n_simulations for r in loaded.rounds] == [r.n_simulations for r in inf.rounds]
    assert type(loaded.backend) is type(inf.backend)
    assert loaded.backend.estimator_options == inf.backend.estimator_options
    assert loaded.problem.fingerprint() == inf.problem.fingerprint()
    assert loaded.log_prob({"C": 200 * pF, "gL": 10 * nS}) == pytest.approx(
        inf.log_prob({"C": 200 * pF, "gL": 10 * nS}), abs=1e-5
    )


@pytest.mark.slow
def test_round_trip_of_a_multi_round_mcmc_posterior(tmp_path):
    inf, _ = two_round("snle")
    path = tmp_path / "snle.zip"
    inf.save(path)
    loaded = Inferencer.load(path)
    a = loaded.sample_array(20, seed=4)
    np.testing.assert_array_equal(a, inf.sample_array(20, seed=4))
    assert not np.array_equal(a, loaded.sample_array(20, seed=5))
    assert len(loaded.rounds) == 2
    assert loaded.backend.num_simulations == inf.backend.num_simulations
    assert loaded.backend.sampling == inf.backend.sampling


def test_loaded_without_features_predicts_but_does_not_simulate_features(tmp_path):
    inf = trained_snpe()
    inf.save(tmp_path / "a.zip")
    loaded = Inferencer.load(tmp_path / "a.zip")
    traces = loaded.generate_traces(params={"C": 200 * pF, "gL": 10 * nS})
    assert traces["v"].shape == (1, 2, 300)
    with pytest.raises(RuntimeError, match=r"load\(path, features=\.\.\.\)"):
        loaded.simulate(5, progress=False)


def test_loaded_with_features_continues_inference(tmp_path):
    inf = trained_snpe()
    inf.save(tmp_path / "a.zip")
    loaded = Inferencer.load(tmp_path / "a.zip", features=window_features())
    before = loaded.posterior
    run(loaded, "snpe", 50, seed=11)
    assert len(loaded.rounds) == 2 and loaded.theta.shape == (350, 2)
    assert loaded.posterior is not before
    # the new round was drawn from the box around the loaded posterior (truncated to its
    # region); the estimator was trained afresh on every simulation inside that box, with the
    # box as its prior: all 50 new ones and the saved ones that fall inside
    proposal = loaded.rounds[1].proposal
    assert proposal.posterior is before
    low, high = loaded.backend.region
    assert torch.equal(low, proposal.low) and torch.equal(high, proposal.high)
    theta = loaded.space.to_torch(loaded.theta)
    inside = torch.all((theta >= low) & (theta <= high), dim=-1)
    assert bool(inside[300:].all())
    appended = loaded.backend.appended_rounds
    assert [n for n, _ in appended] == [int(inside.sum())] and appended[0][1] is None
    assert torch.allclose(loaded.backend.trainer._prior.base_dist.low, low)


def test_load_refuses_other_features(tmp_path):
    inf = trained_snpe()
    inf.save(tmp_path / "a.zip")
    with pytest.raises(ProblemError, match="do not reproduce"):
        Inferencer.load(tmp_path / "a.zip", features=[np.mean, np.max])


class Payload:
    """Unpickling this creates a marker file: stands for any code run on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def replace_member(path, member, data):
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def test_a_pickle_payload_in_the_weights_is_refused(tmp_path):
    inf = trained_snpe()
    path = tmp_path / "evil.zip"
    inf.save(path)
    marker = tmp_path / "weights-payload-ran"
    buf = io.BytesIO()
    torch.save({"weight": Payload(marker)}, buf)
    replace_member(path, "weights.pt", buf.getvalue())
    with pytest.raises(SavedFileError, match="weights.pt: refused"):
        Inferencer.load(path)
    assert not marker.exists()
    # control: the payload is live, an unsafe loader would have run it
    torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    assert marker.exists()


def test_a_pickle_payload_in_the_arrays_is_refused(tmp_path):
    inf = trained_snpe()
    path = tmp_path / "evil.zip"
    inf.save(path)
    marker = tmp_path / "arrays-payload-ran"
    buf = io.BytesIO()
    np.savez(buf, x_o=np.array([Payload(marker)], dtype=object))
    replace_member(path, "arrays.npz", buf.getvalue())
    with pytest.raises(SavedFileError, match="arrays.npz: refused"):
        Inferencer.load(path)
    assert not marker.exists()
    with np.load(io.BytesIO(buf.getvalue()), allow_pickle=True) as npz:
        npz["x_o"]
    assert marker.exists()


def test_malformed_files_are_refused(tmp_path):
    bad = tmp_path / "not-a-zip.zip"
    bad.write_bytes(b"hello")
    with pytest.raises(SavedFileError, match="not a saved inference"):
        Inferencer.load(bad)
    inf = trained_snpe()
    path = tmp_path / "other.zip"
    inf.save(path)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["format"] = "something-else"
    replace_member(path, "meta.json", json.dumps(meta).encode())
    with pytest.raises(SavedFileError, match="not a brian2modelfitting-sbi"):
        Inferencer.load(path)
    meta["format"] = "brian2modelfitting-sbi/inference"
    meta["space"]["units"][0] = "__import__('os').system('echo hi')"
    replace_member(path, "meta.json", json.dumps(meta).encode())
    with pytest.raises(SavedFileError, match="unit exponents"):
        Inferencer.load(path)
    meta["space"]["units"][0] = [0, 0, 0, 0, 0, 0, 0]
    del meta["problem"]["dt"]
    replace_member(path, "meta.json", json.dumps(meta).encode())
    with pytest.raises(SavedFileError, match="malformed"):
        Inferencer.load(path)


def test_equations_and_values_survive_json():
    eqs = Equations(
        """
        dv/dt = (gL*(EL - v) + I)/C + sigma*xi*sqrt(1/ms) : volt (unless refractory)
        gL : siemens/meter**2 (constant)
        C : farad (constant)
        n : integer (constant)
        flag : boolean
        rate = sqrt(C/farad) : 1 (constant over dt)
        sigma : volt
        """
    )
    assert Equations(equations_text(eqs)) == eqs
    for value in (-70 * mV, 3, 2.5, True, None, "v > -50*mV", np.arange(3) * ms, 2 * ms):
        back = value_from_json(json.loads(json.dumps(value_json(value))), "test")
        if isinstance(value, str | bool) or value is None:
            assert back == value
        else:
            np.testing.assert_array_equal(np.asarray(back), np.asarray(value))
            assert repr(back) == repr(value)
    assert value_json(lambda v: v) is None


def test_truncated_rounds_round_trip_keeps_the_box(tmp_path, monkeypatch):
    # the second round's estimator was trained on the simulations inside its box, with the
    # box as its prior: the file keeps the box, the loaded network is rebuilt on the same
    # simulations, and its draws and densities are the same (all inside the box)
    inf, _ = two_round("snpe")
    inf.save(tmp_path / "two.zip")
    monkeypatch.setattr(runner, "run_chunk", lambda *a, **k: pytest.fail("simulated on load"))
    loaded = Inferencer.load(tmp_path / "two.zip")
    low, high = inf.backend.region
    assert torch.equal(loaded.backend.region[0], low)
    assert torch.equal(loaded.backend.region[1], high)
    draws = loaded.sample_array(200, seed=3)
    np.testing.assert_allclose(draws, inf.sample_array(200, seed=3), rtol=1e-5)
    unit = loaded.space.to_torch(draws)
    assert bool(torch.all((unit >= low - 1e-6) & (unit <= high + 1e-6)))
    theta = torch.as_tensor(inf.space.to_torch(draws[:20]))
    x_o = inf.posterior.default_x
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded.posterior.log_prob(theta, x=x_o).numpy(),
            inf.posterior.log_prob(theta, x=x_o).numpy(), rtol=1e-3, atol=1e-3,
        )
