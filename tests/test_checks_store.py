"""A damaged store file is reported and recomputed, never half-used; the rest is kept."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from test_simulation_store import BOUNDS, make_inferencer, plateau, rest

import brian2modelfitting_sbi.simulation.runner as runner
from brian2modelfitting_sbi.simulation import StoreMismatchError
from brian2modelfitting_sbi.simulation.store import RoundStore, checksum

N, CHUNK, SEED = 12, 4, 5
CHUNKS = ["chunk_000000000.npz", "chunk_000000004.npz", "chunk_000000008.npz"]


@pytest.fixture
def count_chunks(monkeypatch):
    """Count the chunks actually simulated (each call of the runner's chunk entry)."""
    started: list[int] = []
    real = runner.run_chunk

    def spy(task, start, theta, seed):
        started.append(start)
        return real(task, start, theta, seed)

    monkeypatch.setattr(runner, "run_chunk", spy)
    return started


def _simulate(store):
    inf = make_inferencer(features=[rest, plateau])
    return inf.simulate(N, seed=SEED, chunk_size=CHUNK, store=store, progress=False, **BOUNDS)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One finished store and the data of that undamaged run (copied for each test)."""
    store = tmp_path_factory.mktemp("pristine") / "store"
    theta, x = _simulate(store)
    return store, theta, x


@pytest.fixture
def stored(pristine, tmp_path):
    """A fresh copy of the finished store, with the data of the undamaged run."""
    source, theta, x = pristine
    store = tmp_path / "store"
    shutil.copytree(source, store)
    return store, theta, x


def _files(store):
    return {p.name: p.read_bytes() for p in (store / "round_001").iterdir()}


def _rerun_and_check(store, theta, x, count_chunks, damaged, match):
    before = _files(store)
    with pytest.warns(RuntimeWarning, match=match) as record:
        theta2, x2 = _simulate(store)
    damaged_warnings = [w for w in record if "damaged file" in str(w.message)]
    assert len(damaged_warnings) == 1 and damaged in str(damaged_warnings[0].message)
    # exactly the data of the undamaged run
    np.testing.assert_array_equal(theta2, theta)
    np.testing.assert_array_equal(x2, x)
    after = _files(store)
    for name in CHUNKS:
        if name != damaged:
            assert after[name] == before[name], f"{name} was rewritten"
    return after


def test_truncated_chunk_is_reported_and_only_it_recomputed(stored, count_chunks):
    store, theta, x = stored
    path = store / "round_001" / CHUNKS[1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # e.g. a full disk or a killed copy
    after = _rerun_and_check(
        store, theta, x, count_chunks, CHUNKS[1],
        match=r"store: damaged file '.*chunk_000000004\.npz' \(unreadable: BadZipFile.*\); "
        r"simulating this chunk again",
    )  # fmt: skip
    assert count_chunks == [4]  # the other two chunks were loaded, not simulated
    assert after[CHUNKS[1]] == data  # rewritten, identical to the undamaged file
    # a third run loads everything
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _, x3 = _simulate(store)
    np.testing.assert_array_equal(x3, x)
    assert count_chunks == [4]


def test_garbage_chunk(stored, count_chunks):
    store, theta, x = stored
    (store / "round_001" / CHUNKS[0]).write_bytes(b"not a zip file at all")
    _rerun_and_check(store, theta, x, count_chunks, CHUNKS[0], match=r"unreadable")
    assert count_chunks == [0]


def test_checksum_mismatch_is_recomputed(stored, count_chunks):
    store, theta, x = stored
    path = store / "round_001" / CHUNKS[2]
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["x"] = arrays["x"] + 1e-3  # silently flipped data, the file itself is readable
    np.savez(path, **arrays)
    _rerun_and_check(store, theta, x, count_chunks, CHUNKS[2], match=r"checksum mismatch")
    assert count_chunks == [8]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda a: a | {"x": a["x"][:, :1]}, r"x of shape \(4, 1\), expected \(4, 4\)"),
        (lambda a: a | {"theta": a["theta"][:2]}, r"theta of shape \(2, 2\)"),
        (lambda a: a | {"start": np.array(8)}, r"holds start 8, expected 4"),
        (lambda a: a | {"format": np.array(99)}, r"format 99"),
        (lambda a: {k: v for k, v in a.items() if k != "x"}, r"missing arrays \['x'\]"),
    ],
)
def test_inconsistent_chunk_is_recomputed(stored, count_chunks, change, reason):
    store, theta, x = stored
    path = store / "round_001" / CHUNKS[1]
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays = change(arrays)
    if "x" in arrays and "theta" in arrays:
        arrays["sha256"] = np.array(checksum(arrays["theta"], arrays["x"]))
    np.savez(path, **arrays)
    _rerun_and_check(store, theta, x, count_chunks, CHUNKS[1], match=reason)
    assert count_chunks == [4]


def test_damaged_theta_is_drawn_again_and_chunks_kept(stored, count_chunks):
    store, theta, x = stored
    path = store / "round_001" / "theta.npy"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(RuntimeWarning, match=r"damaged file '.*theta\.npy'.*drawing the parameter"):
        theta2, x2 = _simulate(store)
    np.testing.assert_array_equal(theta2, theta)  # the seed draws the same parameter sets
    np.testing.assert_array_equal(x2, x)
    assert count_chunks == []  # so every stored chunk still matches and is used


def test_theta_checksum_mismatch(stored, count_chunks):
    store, theta, x = stored
    bad = theta.copy()
    bad[0, 0] *= 1.5
    np.save(store / "round_001" / "theta.npy", bad)
    with pytest.warns(RuntimeWarning, match=r"theta\.npy' \(checksum mismatch\)"):
        theta2, _ = _simulate(store)
    np.testing.assert_array_equal(theta2, theta)


def test_chunks_disagreeing_with_a_redrawn_theta_are_recomputed(tmp_path, count_chunks):
    store = tmp_path / "store"
    inf = make_inferencer(features=[rest, plateau])
    inf.simulate(N, chunk_size=CHUNK, store=store, progress=False, **BOUNDS)  # no seed
    (store / "round_001" / "theta.npy").write_bytes(b"junk")
    count_chunks.clear()
    with pytest.warns(RuntimeWarning, match="differ from the redrawn ones"):
        make_inferencer(features=[rest, plateau]).simulate(
            N, chunk_size=CHUNK, store=store, progress=False, **BOUNDS
        )
    assert sorted(count_chunks) == [0, 4, 8]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("store.json", b'{"format": 1, "problem"'),
        ("store.json", b"\xff\xfe"),
        ("round_001/round.json", b"[1, 2]"),
    ],
)
def test_damaged_metadata_is_refused_clearly(stored, count_chunks, name, content):
    store, _, _ = stored
    (store / name).write_bytes(content)
    with pytest.raises(StoreMismatchError, match=rf"store: '.*{name}' .*(damaged|holds list)"):
        _simulate(store)
    assert count_chunks == []


def test_round_store_records_what_it_loaded(stored):
    store, _, x = stored
    meta = json.loads((store / "round_001" / "round.json").read_text())
    rnd = RoundStore(store / "round_001", meta, n_features=x.shape[1])
    assert rnd.load_theta() is not None
    (store / "round_001" / CHUNKS[2]).write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="damaged"):
        got = [rnd.load_chunk(s) for s in (0, 4, 8)]
    np.testing.assert_array_equal(got[0], x[:4])
    assert got[2] is None
    assert rnd.loaded == [0, 4] and rnd.damaged == [CHUNKS[2]]
