"""Lost workers: a local pool whose worker dies, and a Dask cluster of separate processes
(``dask scheduler`` / ``dask worker`` on loopback, the way users start one) that loses one
worker or all of them. Every wait has a timeout: a failure here must never hang."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FAST_ESTIMATOR, FAST_TRAINING, window_features
from test_simulation_engine import draw, make_problem, make_task
from test_simulation_parallel import noisy_args

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.simulation import (
    WorkerPool,
    dispatch,
    process_pool,
    simulate_features,
)

#: Separate processes and whole example scripts: the slow tier (make test-slow, .ci/run).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PARENT = os.getpid()


# ---------------------------------------------------------------------- local process pool
def _killer(marker: Path | None):
    """A per-trace feature that SIGKILLs its worker process (once if ``marker`` is given)."""

    def kill_once(v):
        if os.getpid() != PARENT and (marker is None or not marker.exists()):
            if marker is not None:
                marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return float(v.mean())

    return kill_once


@pytest.mark.timeout(120)
def test_pool_worker_killed_is_retried_on_a_fresh_pool(tmp_path):
    problem, theta = make_problem(noisy=True, n_steps=120), draw(8)
    task = make_task(problem, 2, features=[_killer(tmp_path / "killed"), np.std])
    serial = simulate_features(task, theta, seed=4, progress=False)
    with WorkerPool(2) as pool, pytest.warns(RuntimeWarning, match="worker process died"):
        timings: list = []
        x = simulate_features(task, theta, executor=pool, seed=4, progress=False, timings=timings)
        assert pool.restarts == 1
    np.testing.assert_array_equal(x, serial)  # nothing lost, nothing twice
    assert sorted(t.start for t in timings) == [0, 2, 4, 6]
    assert all(t.simulate_s > 0 and t.features_s >= 0 for t in timings)


@pytest.mark.timeout(120)
def test_pool_worker_always_killed_gives_a_clear_error_in_bounded_time():
    problem, theta = make_problem(noisy=True, n_steps=120), draw(4)
    task = make_task(problem, 2, features=[_killer(None)])
    began = time.monotonic()
    with (
        WorkerPool(2) as pool,
        pytest.warns(RuntimeWarning, match="fresh pool"),
        pytest.raises(dispatch.ChunkFailedError, match="worker process died.*same store"),
    ):
        simulate_features(task, theta, executor=pool, seed=4, progress=False)
    assert pool.restarts == dispatch.MAX_POOL_RESTARTS
    assert time.monotonic() - began < 100


@pytest.mark.timeout(120)
def test_a_plain_process_pool_is_not_restarted_but_fails_clearly():
    """A pool the user made (not a WorkerPool) cannot be replaced: a clear error at once."""
    problem, theta = make_problem(noisy=True, n_steps=120), draw(4)
    task = make_task(problem, 2, features=[_killer(None)])
    with process_pool(2) as pool, pytest.raises(dispatch.ChunkFailedError, match="died") as err:
        simulate_features(task, theta, executor=pool, seed=4, progress=False)
    assert err.value.finished == [] and err.value.unfinished == [0, 2]


# ---------------------------------------------------------------------- Dask, separate processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and workers started as the CLI does, each its own process."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.env = {
            **os.environ,
            # workers need only the package (and, here, the test modules the features are in)
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "OMP_NUM_THREADS": "1",
        }
        self.scheduler = self._start("dask_scheduler", "--host", "127.0.0.1", "--port",
                                     self.address.rsplit(":", 1)[1], "--no-dashboard")
        self.workers: list[subprocess.Popen] = []

    def _start(self, cli: str, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{cli}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", f"distributed.cli.{cli}", *args],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )

    def ensure(self, client, n: int) -> None:  # noqa: ANN001
        """Start workers until ``n`` are alive and connected."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < n:
            self.workers.append(self._start(
                "dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--death-timeout", "60",
            ))
        client.wait_for_workers(n, timeout=90)

    def kill(self, worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    distributed = pytest.importorskip("distributed")
    c = Cluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        with distributed.Client(c.address, timeout=60) as client:
            c.ensure(client, 2)
            yield c, client
    finally:
        c.close()


def _slow_features():
    """Window means, slowed down in the workers only, so that chunks take long enough to be
    killed while running (the serial reference in this process runs at full speed)."""
    base = window_features()

    def slow(v):
        if os.getpid() != PARENT:
            time.sleep(0.15)
        return float(v[200:250].mean())

    return [*base[:2], slow]


def _simulate(passive, **options):
    inf = Inferencer(**noisy_args(passive), features=_slow_features())
    return inf.simulate(16, seed=7, chunk_size=2, progress=False, **options, **passive["bounds"])


def _wait_for_chunks(store: Path, n: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while len(list(store.glob("round_001/chunk_*.npz"))) < n:
        assert time.monotonic() < end, f"no {n} finished chunks in {timeout} s"
        time.sleep(0.05)


@pytest.mark.timeout(240)
def test_separate_process_cluster_equals_serial(passive, cluster):
    c, client = cluster
    c.ensure(client, 2)
    runs = {}
    for name, executor in (("serial", None), ("dask", client)):
        inf = Inferencer(**noisy_args(passive), features=window_features())
        inf.infer(24, seed=3, executor=executor, progress=False, training=FAST_TRAINING,
                  estimator_options=FAST_ESTIMATOR, chunk_size=6, **passive["bounds"])
        runs[name] = inf
    np.testing.assert_array_equal(runs["dask"].theta, runs["serial"].theta)
    np.testing.assert_array_equal(runs["dask"].x, runs["serial"].x)


@pytest.mark.timeout(240)
def test_worker_killed_mid_chunk_gives_the_undisturbed_result(passive, cluster, tmp_path):
    c, client = cluster
    c.ensure(client, 2)
    reference = _simulate(passive)
    store = tmp_path / "store"
    with cf.ThreadPoolExecutor(1) as thread:
        run = thread.submit(_simulate, passive, executor=client, store=store)
        _wait_for_chunks(store, 1)
        c.kill(c.workers[0])  # both workers are busy: this one dies inside a chunk
        theta, x = run.result(timeout=180)
    np.testing.assert_array_equal(theta, reference[0])
    np.testing.assert_array_equal(x, reference[1])
    chunks = sorted(store.glob("round_001/chunk_*.npz"))
    assert [int(p.stem.split("_")[1]) for p in chunks] == list(range(0, 16, 2))


@pytest.mark.timeout(240)
def test_all_workers_lost_then_resume_from_the_store(passive, cluster, tmp_path, monkeypatch):
    c, client = cluster
    c.ensure(client, 2)
    monkeypatch.setattr(dispatch, "WORKER_GRACE_S", 2.0)
    reference = _simulate(passive)
    store = tmp_path / "store"
    with cf.ThreadPoolExecutor(1) as thread:
        run = thread.submit(_simulate, passive, executor=client, store=store)
        _wait_for_chunks(store, 1)
        for worker in list(c.workers):
            c.kill(worker)
        with pytest.raises(dispatch.WorkersLostError, match="all Dask workers are gone") as err:
            run.result(timeout=120)
    assert "same store" in str(err.value) and err.value.unfinished
    before = {p.name: p.stat().st_mtime_ns for p in store.glob("round_001/chunk_*.npz")}
    assert before and len(before) == len(err.value.finished)
    theta, x = _simulate(passive, store=store)  # here, serially: resumes from the store
    np.testing.assert_array_equal(theta, reference[0])
    np.testing.assert_array_equal(x, reference[1])
    after = {p.name: p.stat().st_mtime_ns for p in store.glob("round_001/chunk_*.npz")}
    assert len(after) == 8 and all(after[name] == t for name, t in before.items())
