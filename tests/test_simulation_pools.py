"""One warm pool per Inferencer across rounds and calibration; per-chunk timings; the
warning about feature functions slower than the simulations."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args, window_features

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.inference import workers
from brian2modelfitting_sbi.simulation import ChunkTiming, WorkerPool


def _infer(inf, passive, n_rounds=2, **options):
    return inf.infer(20, n_rounds=n_rounds, seed=1, progress=False, training=FAST_TRAINING,
                     estimator_options=FAST_ESTIMATOR, **options, **passive["bounds"])


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_one_pool_serves_every_round_and_calibration(passive):
    with Inferencer(**fitter_args(passive), features=window_features()) as inf:
        _infer(inf, passive, n_jobs=2)
        pool = inf._pools.pool
        assert isinstance(pool, WorkerPool) and pool.started and pool.restarts == 0
        inf.calibrate(n_tests=8, n_posterior_samples=20, n_jobs=2, seed=2)
        assert inf._pools.pool is pool
        used = {t.worker for r in inf.rounds for t in r.timings}
        # every chunk of both rounds ran in the pool's (at most two) processes, kept warm
        assert 1 <= len(used) <= 2 and not any(w.endswith(f":{os.getpid()}") for w in used)
        inf.calibrate(n_tests=8, n_posterior_samples=20, n_jobs=1, seed=2)  # serial: kept
        assert inf._pools.pool is pool
    assert inf._pools.pool is None and not pool.started  # the with block shut it down


def test_rounds_record_chunk_timings(passive):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    inf.simulate(12, seed=1, chunk_size=5, progress=False, **passive["bounds"])
    (timing_a, timing_b, timing_c), = (r.timings for r in inf.rounds)
    assert isinstance(timing_a, ChunkTiming)
    assert [(t.start, t.n) for t in (timing_a, timing_b, timing_c)] == [(0, 5), (5, 5), (10, 2)]
    assert all(t.simulate_s > 0 and t.features_s > 0 for t in (timing_a, timing_b, timing_c))
    inf.close()  # no pool: nothing to do


def test_slow_feature_functions_warned_once_with_their_share(passive, monkeypatch):
    monkeypatch.setattr(workers, "_WARNED", set())

    def slow(v):
        time.sleep(0.05)
        return v[200:250].mean()

    inf = Inferencer(**fitter_args(passive), features=[*window_features()[:2], slow])
    with pytest.warns(RuntimeWarning, match=r"feature functions took .*%.*EphysFeatures"):
        inf.simulate(10, seed=1, progress=False, **passive["bounds"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        inf.simulate(10, seed=2, progress=False)  # once only


def test_fast_features_not_warned(passive, monkeypatch):
    monkeypatch.setattr(workers, "_WARNED", set())
    inf = Inferencer(**fitter_args(passive), features=window_features())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        inf.simulate(10, seed=1, progress=False, **passive["bounds"])


@pytest.mark.timeout(240)
def test_predictive_traces_use_the_warm_pool(passive):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    _infer(inf, passive, n_rounds=1, n_jobs=2)
    pool = inf._pools.pool
    serial = inf.generate_traces(n_draws=6, seed=3)
    pooled = inf.generate_traces(n_draws=6, seed=3, n_jobs=2)
    assert inf._pools.pool is pool and pool.started
    np.testing.assert_array_equal(np.asarray(pooled["v"]), np.asarray(serial["v"]))
    inf.close()
    assert not pool.started
