"""Resumable store: atomic chunks, resume after SIGKILL, refusal of other simulations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from brian2 import ms, nS, pF, volt
from conftest import EL, FAST_ESTIMATOR, FAST_TRAINING, passive_inputs
from test_simulation_engine import DETERMINISTIC_EQS

import brian2modelfitting_sbi.simulation.runner as runner
from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import vectorized
from brian2modelfitting_sbi.simulation import SimulationStore, StoreMismatchError, store_identity

TESTS = Path(__file__).parent
BOUNDS = {"gL": [1 * nS, 30 * nS], "C": [50 * pF, 400 * pF]}
N, CHUNK, SEED = 24, 4, 11


@vectorized
def slow_std(rows):
    if os.environ.get("SBI_TEST_SLOW"):
        time.sleep(0.3)  # one call per chunk: gives the killer time to strike between chunks
    return rows.std(axis=1)


def rest(v):
    return v[:50].mean()


def plateau(v):
    return v[200:250].mean()


def make_inferencer(features=None, **overrides) -> Inferencer:
    current = passive_inputs()
    observed = np.linspace(-0.070, -0.060, current.shape[1])[None].repeat(2, axis=0) * volt
    args = dict(
        model=DETERMINISTIC_EQS, input_var="I", input=current, output_var="v", output=observed,
        dt=0.1 * ms, param_init={"v": EL}, namespace={"EL": EL},
    )  # fmt: skip
    args.update(overrides)
    return Inferencer(**args, features=features or [rest, plateau, slow_std])


def run_killed(store: Path) -> set[int]:
    """Run the simulation in a subprocess, SIGKILL it once a chunk is stored."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_simulation_store import make_inferencer, BOUNDS, N, CHUNK, SEED
        inf = make_inferencer()
        inf.simulate(N, seed=SEED, chunk_size=CHUNK, store={str(store)!r}, progress=False,
                     **BOUNDS)
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", SBI_TEST_SLOW="1")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=TESTS.parent)
    folder = store / "round_001"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if folder.exists() and any(folder.glob("chunk_*.npz")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the simulation ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return {int(p.stem.split("_")[1]) for p in folder.glob("chunk_*.npz")}


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path, monkeypatch):
    store = tmp_path / "store"
    finished = run_killed(store)
    assert 1 <= len(finished) < N // CHUNK

    ran: list[int] = []
    original = runner.run_chunk

    def counting(task, start, theta, seed):
        ran.append(start)
        return original(task, start, theta, seed)

    monkeypatch.setattr(runner, "run_chunk", counting)
    inf = make_inferencer()
    theta, x = inf.simulate(N, seed=SEED, chunk_size=CHUNK, store=store, progress=False, **BOUNDS)
    assert not set(ran) & finished  # no finished chunk recomputed
    assert set(ran) | finished == set(range(0, N, CHUNK))
    assert not list((store / "round_001").glob("*.tmp*"))

    ran.clear()
    fresh = make_inferencer()
    theta_ref, x_ref = fresh.simulate(N, seed=SEED, chunk_size=CHUNK, progress=False, **BOUNDS)
    np.testing.assert_array_equal(theta, theta_ref)
    np.testing.assert_array_equal(x, x_ref)


def test_stored_simulations_load_without_simulating_and_train(tmp_path, monkeypatch):
    store = tmp_path / "store"
    first = make_inferencer(features=[rest, plateau])
    theta, x = first.simulate(12, seed=3, store=store, progress=False, **BOUNDS)
    monkeypatch.setattr(runner, "run_chunk", None)  # any simulation would fail
    second = make_inferencer(features=[rest, plateau])
    theta2, x2 = second.simulate(12, seed=3, store=store, progress=False, **BOUNDS)
    np.testing.assert_array_equal(theta2, theta)
    np.testing.assert_array_equal(x2, x)
    backend = second.train("snle", training=FAST_TRAINING, estimator_options=FAST_ESTIMATOR, seed=0)
    assert backend.num_simulations == 12


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": 4}, "seed"),
        ({"chunk_size": 5}, "chunk_size"),
        ({"n_samples": 10}, "n_samples"),
        ({"features": [rest]}, "features"),
        ({"bounds": {"gL": [2 * nS, 30 * nS], "C": [50 * pF, 400 * pF]}}, "prior"),
        ({"dt": 0.05 * ms}, "problem"),
    ],
)
def test_mismatched_store_refused(tmp_path, change, match):
    store = tmp_path / "store"
    make_inferencer(features=[rest, plateau]).simulate(
        8, seed=3, chunk_size=4, store=store, progress=False, **BOUNDS
    )
    before = sorted((p.name, p.stat().st_mtime_ns) for p in store.rglob("*"))
    features = change.pop("features", [rest, plateau])
    overrides = {}
    if "dt" in change:
        overrides["dt"] = change.pop("dt")
        current = passive_inputs()
        overrides["input"] = current
    kwargs = {"seed": 3, "chunk_size": 4, "n_samples": 8, "bounds": BOUNDS} | change
    inf = make_inferencer(features=features, **overrides)
    with pytest.raises(StoreMismatchError, match=match):
        inf.simulate(
            kwargs["n_samples"], seed=kwargs["seed"], chunk_size=kwargs["chunk_size"],
            store=store, progress=False, **kwargs["bounds"],
        )  # fmt: skip
    assert sorted((p.name, p.stat().st_mtime_ns) for p in store.rglob("*")) == before
    assert inf.rounds == []


def test_store_refuses_foreign_directory_and_other_proposal(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    identity = store_identity("abc", ["f"], np.zeros((1, 1)), {"names": ["a"]})
    with pytest.raises(StoreMismatchError, match="not a simulation store"):
        SimulationStore(foreign, identity)
    store = SimulationStore(tmp_path / "s", identity)
    settings = dict(n_samples=4, seed=1, entropy=1, chunk_size=2, chunk_size_given=False)
    store.round(1, proposal="SNPEBackend", **settings)
    with pytest.raises(StoreMismatchError, match="proposal"):
        store.round(1, proposal="SNLEBackend", **settings)
    # an unset chunk size adopts the stored one; the round keeps its noise seed
    rnd = store.round(1, proposal="SNPEBackend", **(settings | {"chunk_size": 3}))
    assert rnd.chunk_size == 2 and rnd.entropy == 1


def test_chunk_files_are_plain_npz(tmp_path):
    store = tmp_path / "store"
    inf = make_inferencer(features=[rest, plateau])
    theta, x = inf.simulate(6, seed=1, chunk_size=4, store=store, progress=False, **BOUNDS)
    files = sorted((store / "round_001").glob("chunk_*.npz"))
    assert [f.name for f in files] == ["chunk_000000000.npz", "chunk_000000004.npz"]
    with np.load(files[1], allow_pickle=False) as data:
        np.testing.assert_array_equal(data["theta"], theta[4:])
        np.testing.assert_array_equal(data["x"], x[4:])
        assert int(data["start"]) == 4
    np.testing.assert_array_equal(np.load(store / "round_001" / "theta.npy"), theta)
