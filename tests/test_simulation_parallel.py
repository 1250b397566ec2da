"""Serial, local process pool and Dask give the same (theta, x) for the same seed."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest
from brian2 import mV
from conftest import EL, fitter_args, window_features
from test_simulation_engine import NOISY_EQS, draw, make_problem, make_task

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.problem import ProblemError
from brian2modelfitting_sbi.simulation import (
    as_executor,
    chunk_executor,
    n_workers,
    simulate_features,
)


def noisy_args(passive: dict) -> dict:
    args = fitter_args(passive)
    args.update(model=NOISY_EQS, method="euler", namespace={"EL": EL, "sigma": 1 * mV})
    return args


def test_serial_equals_process_pool(passive):
    results = []
    for n_jobs in (None, 2):
        inf = Inferencer(**noisy_args(passive), features=window_features())
        results.append(inf.simulate(10, seed=3, n_jobs=n_jobs, progress=False, **passive["bounds"]))
    (theta_s, x_s), (theta_p, x_p) = results
    np.testing.assert_array_equal(theta_p, theta_s)
    np.testing.assert_array_equal(x_p, x_s)
    assert np.all(np.isfinite(x_s))


@pytest.mark.slow
def test_serial_equals_dask(passive):
    distributed = pytest.importorskip("distributed")
    inf = Inferencer(**noisy_args(passive), features=window_features())
    theta_s, x_s = inf.simulate(9, seed=8, chunk_size=4, progress=False, **passive["bounds"])
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert n_workers(client) == 2
        for executor in (client, client.get_executor()):
            other = Inferencer(**noisy_args(passive), features=window_features())
            theta_d, x_d = other.simulate(
                9, seed=8, executor=executor, progress=False, **passive["bounds"]
            )
            np.testing.assert_array_equal(theta_d, theta_s)
            np.testing.assert_array_equal(x_d, x_s)


def test_any_executor_thread_pool():
    problem = make_problem(noisy=True, n_steps=120)
    task = make_task(problem, 2, features=[np.mean, np.std])
    theta = draw(5)
    serial = simulate_features(task, theta, seed=2, progress=False)
    with cf.ThreadPoolExecutor(2) as pool:
        threaded = simulate_features(task, theta, executor=pool, seed=2, progress=False)
    np.testing.assert_array_equal(threaded, serial)


def test_executor_arguments_checked():
    with pytest.raises(ProblemError, match="n_jobs"), chunk_executor(0, None):
        pass
    with pytest.raises(ProblemError, match="one or the other"), chunk_executor(2, object()):
        pass
    with pytest.raises(ProblemError, match="executor"):
        as_executor("processes")
    with chunk_executor(1, None) as ex:
        assert ex is None  # one job runs in this process
