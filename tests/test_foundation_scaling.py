"""The torch boundaries: parameters to the unit box, features to moderate magnitudes."""

from __future__ import annotations

import numpy as np
import torch

from brian2modelfitting_sbi.scaling import feature_scale, x_to_torch


def test_feature_scale_is_the_power_of_ten_of_each_magnitude():
    rng = np.random.default_rng(0)
    x = np.stack([
        -0.07 + 0.01 * rng.standard_normal(500),   # a voltage: magnitude 0.07
        2e-10 * rng.random(500),                    # a current in amps
        np.zeros(500),                              # constant zero
        5 + rng.integers(0, 10, 500),               # a spike count
    ], axis=1)
    x[3, 0] = np.nan  # invalid rows are ignored
    np.testing.assert_allclose(feature_scale(x), [0.1, 1e-10, 1.0, 10.0])


def test_columns_of_one_trace_share_a_scale():
    # A raw trace: flat (noise only) before the stimulus, varying after it.
    rng = np.random.default_rng(1)
    flat = -0.07 + 1e-5 * rng.standard_normal((200, 5))
    active = -0.07 + 0.02 * rng.random((200, 5))
    scale = feature_scale(np.concatenate([flat, active], axis=1))
    assert np.all(scale == scale[0])


def test_x_to_torch_divides_and_casts():
    t = x_to_torch(np.array([[2e-10, 30.0]]), np.array([1e-10, 10.0]))
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), [[2.0, 3.0]])
