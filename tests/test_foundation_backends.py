"""End to end: each built-in backend recovers the passive-membrane truth."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Quantity
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args, window_features

from brian2modelfitting_sbi import Inferencer

MCMC = {"mcmc_parameters": {"num_chains": 10, "warmup_steps": 30, "thin": 1}}


@pytest.mark.parametrize("backend", ["snpe", "snle", "snre"])
def test_backend_recovers_truth(passive, backend):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    options = {} if backend == "snre" else {"estimator_options": FAST_ESTIMATOR}
    inf.infer(
        1500, backend=backend, seed=3, progress=False, training=FAST_TRAINING,
        sampling=None if backend == "snpe" else MCMC, **options, **passive["bounds"],
    )
    samples = inf.sample(500, seed=0)
    assert set(samples) == {"gL", "C"}
    for name, (lo, hi) in passive["bounds"].items():
        values = samples[name]
        assert isinstance(values, Quantity) and values.shape == (500,)
        assert values.has_same_dimensions(lo)
        error = abs(float(np.mean(values)) - float(passive["truth"][name]))
        width = float(hi) - float(lo)
        assert error < 0.1 * width, f"{backend}: {name} mean off by {error / width:.1%} of prior"
    assert inf.n_simulations == 1500 and len(inf.rounds) == 1
