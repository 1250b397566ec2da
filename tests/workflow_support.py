"""Shared, cached trained Inferencers for the workflow tests (tests/test_workflow_*.py).

Training is the slow part of these tests, so each configuration is trained once per test
session and the tests only read from it (tests that change an Inferencer build their own).
"""

from __future__ import annotations

import functools

from conftest import FAST_ESTIMATOR, fitter_args, passive, window_features

from brian2modelfitting_sbi import Inferencer

#: Training that learns the 2-parameter passive posterior from a few hundred simulations in
#: seconds (the shared FAST_TRAINING stops too early to learn it: its posteriors stay as broad
#: as the prior, which multi-round tests cannot use).
LEARNING = {
    "training_batch_size": 50,
    "learning_rate": 3e-3,
    "max_num_epochs": 100,
    "stop_after_epochs": 10,
}
#: Few short MCMC chains for SNLE/SNRE.
SMALL_MCMC = {
    "mcmc_parameters": {
        "num_chains": 10,
        "warmup_steps": 10,
        "thin": 1,
        "init_strategy": "resample",
    }
}


def estimator_options(backend: str) -> dict:
    """Small networks (SNRE's classifier takes no ``num_transforms``)."""
    if backend == "snre":
        return {"hidden_features": FAST_ESTIMATOR["hidden_features"]}
    return dict(FAST_ESTIMATOR)


def passive_args() -> dict:
    """The passive-membrane problem (arguments, truth and bounds)."""
    return passive.__wrapped__()


@functools.cache
def _passive() -> dict:
    return passive_args()


def new_inferencer(**kwargs) -> Inferencer:
    """A fresh passive-membrane Inferencer with the window features."""
    return Inferencer(**fitter_args(_passive()), features=window_features(), **kwargs)


def run(inf: Inferencer, backend: str, n: int, **kwargs) -> None:
    """``inf.infer`` with the small test settings."""
    inf.infer(
        n,
        backend=backend,
        progress=False,
        training=LEARNING,
        estimator_options=estimator_options(backend),
        sampling=SMALL_MCMC if backend != "snpe" else None,
        **{**_passive()["bounds"], **kwargs},
    )


@functools.cache
def trained_snpe() -> Inferencer:
    """One round of SNPE on 300 passive-membrane simulations (read-only for tests)."""
    inf = new_inferencer()
    run(inf, "snpe", 300, seed=3)
    return inf


def truth() -> dict:
    """Ground truth of the passive problem."""
    return dict(_passive()["truth"])


def bounds() -> dict:
    """Prior bounds of the passive problem."""
    return dict(_passive()["bounds"])


@functools.cache
def two_round(backend: str) -> tuple[Inferencer, float]:
    """Two rounds of 200 simulations; returns the Inferencer and the round-1 spread (mean
    posterior std over the prior width)."""
    import numpy as np

    inf = new_inferencer()
    run(inf, backend, 200, seed=1)
    samples = inf.sample_array(300, seed=0)
    first = float(np.mean(samples.std(axis=0) / inf.space.width))
    run(inf, backend, 200, seed=1)
    return inf, first
