"""Measurement noise on simulated traces: statistics, reproducibility, an inferred level,
the recording-noise estimate and warning, and every bad input."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from brian2 import ms, mV, nA, nS, pF, second, volt
from conftest import fitter_args, passive, window_features
from workflow_support import LEARNING, bounds, estimator_options

from brian2modelfitting_sbi import Inferencer, MeasurementNoise, ProblemError
from brian2modelfitting_sbi.inference.options import SimulationOptions
from brian2modelfitting_sbi.inference.simulate import simulate_prior_tests
from brian2modelfitting_sbi.simulation import SimulationResult, runner
from brian2modelfitting_sbi.simulation.measurement import (
    estimate_noise,
    plan_measurement,
    stream,
)

SIGMA = 0.5e-3  # volt


@functools.cache
def _args() -> dict:
    return fitter_args(passive.__wrapped__())


@functools.cache
def noisy_output() -> np.ndarray:
    """The fixture's recording plus 0.5 mV of white measurement noise (volt)."""
    v = np.asarray(_args()["output"])
    return v + SIGMA * np.random.default_rng(7).standard_normal(v.shape)


def _inferencer(noise=None, output=None, features=None) -> Inferencer:
    args = dict(_args())
    if output is not None:
        args["output"] = output * volt
    return Inferencer(**args, features=features or window_features(), measurement_noise=noise)


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail loudly if any simulation starts."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the error was raised")

    monkeypatch.setattr(runner, "run_chunk", boom)


def _zeros(m: int, n_steps: int, dt: float = 1e-4) -> SimulationResult:
    traces = {"v": np.zeros((m, 2, n_steps))}
    spikes = np.array([0, 3, 3]), np.array([0.001, 0.002, 0.004])
    return SimulationResult(traces, {"v": volt}, dt, m, 2, *spikes)


# ---------------------------------------------------------------------- statistics
def test_white_noise_has_its_mean_variance_and_no_correlation():
    problem = _inferencer().problem
    plan = plan_measurement(problem, {"v": 0.5 * mV})
    result = plan.apply(_zeros(20, 2000), ("C", "gL"), np.zeros((20, 2)), entropy=1, start=0)
    e = result.traces["v"]
    assert abs(e.mean()) < 4 * SIGMA / np.sqrt(e.size)
    assert e.std() == pytest.approx(SIGMA, rel=0.02)
    lag1 = np.mean(e[..., 1:] * e[..., :-1]) / e.var()
    assert abs(lag1) < 0.02
    # spikes are untouched
    np.testing.assert_array_equal(result.spike_times, [0.001, 0.002, 0.004])
    np.testing.assert_array_equal(result.spike_neuron, [0, 3, 3])


def test_ou_noise_is_stationary_with_exponential_autocorrelation():
    problem = _inferencer().problem
    dt, tau = 1e-4, 2e-3
    plan = plan_measurement(problem, {"v": MeasurementNoise(0.5 * mV, tau=2 * ms)})
    e = plan.apply(_zeros(40, 2000, dt), ("C", "gL"), np.zeros((40, 2)), 1, 0).traces["v"]
    assert abs(e.mean()) < 0.05 * SIGMA
    # stationary from the first sample on: the variance is sigma**2 at every time
    assert e[..., 0].std() == pytest.approx(SIGMA, rel=0.15)
    assert e.std() == pytest.approx(SIGMA, rel=0.05)
    for lag in (1, 10, 20, 40):
        corr = np.mean(e[..., lag:] * e[..., :-lag]) / e.var()
        assert corr == pytest.approx(np.exp(-lag * dt / tau), abs=0.05)


def test_noise_of_a_sample_comes_from_its_own_stream():
    problem = _inferencer().problem
    plan = plan_measurement(problem, {"v": 0.5 * mV})
    whole = plan.apply(_zeros(6, 50), ("C", "gL"), np.zeros((6, 2)), 3, 0).traces["v"]
    part = plan.apply(_zeros(2, 50), ("C", "gL"), np.zeros((2, 2)), 3, 4).traces["v"]
    np.testing.assert_array_equal(whole[4:], part)
    expected = SIGMA * stream(3, 5).standard_normal((1, 2, 50))[0]
    np.testing.assert_allclose(whole[5], expected)


# ---------------------------------------------------------------------- reproducibility
@pytest.mark.slow
def test_same_seed_same_noise_whatever_the_chunks_and_workers():
    inf = _inferencer({"v": 0.5 * mV})
    _, x1 = inf.simulate(24, seed=5, chunk_size=24, progress=False, **bounds())
    _, x2 = inf.simulate(24, seed=5, chunk_size=5, progress=False)
    _, x3 = inf.simulate(24, seed=5, chunk_size=6, n_jobs=2, progress=False)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(x1, x3)
    clean = _inferencer()
    _, x0 = clean.simulate(24, seed=5, progress=False, **bounds())
    diff = np.abs(x1 - x0)
    assert diff.max() > 1e-5 and diff.max() < 1e-3  # the noise, averaged over windows


# ---------------------------------------------------------------------- inferred level
def _noise_features():
    def rest_spread(v):
        return v[:50].std()

    def step_spread(v):
        return np.diff(v).std()

    return [*window_features(), rest_spread, step_spread]


def test_noise_level_as_a_parameter_is_recovered():
    inf = _inferencer({"v": "sigma_v"}, output=noisy_output(), features=_noise_features())
    lo, hi = 0.1e-3, 1.0e-3
    inf.infer(
        1000,
        backend="snpe",
        seed=2,
        progress=False,
        training=LEARNING,
        estimator_options=estimator_options("snpe"),
        sigma_v=[0.1 * mV, 1.0 * mV],
        **bounds(),
    )
    assert inf.space.names == ["C", "gL", "sigma_v"]
    samples = inf.sample_array(1000, seed=0)
    median = np.median(samples[:, 2])
    assert abs(median - SIGMA) < 0.1 * (hi - lo), median
    # predictive traces get the inferred noise too
    out = inf.generate_traces(n_samples=3, seed=1)
    spread = np.std(np.diff(np.asarray(out["v"]), axis=-1)) / np.sqrt(2)
    assert spread == pytest.approx(SIGMA, rel=0.3)


# ---------------------------------------------------------------------- estimate, warning
def test_recording_noise_is_estimated_and_warned_about():
    noisy = _inferencer(output=noisy_output())
    level = noisy.recording_noise["v"]
    assert float(level) == pytest.approx(SIGMA, rel=0.15)
    assert _inferencer().recording_noise["v"] < 0.02 * mV  # membrane noise is not measurement
    with pytest.warns(RuntimeWarning, match=r"measurement_noise=\{'v': 0\.\d+\*mV\}"):
        noisy.simulate(4, seed=0, progress=False, **bounds())
    quiet = _inferencer({"v": level}, output=noisy_output())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        quiet.simulate(4, seed=0, progress=False, **bounds())


def test_estimate_separates_measurement_from_model_noise():
    rng = np.random.default_rng(0)
    walk = np.cumsum(1e-4 * rng.standard_normal((2, 5000)), axis=1)  # model (process) noise
    assert not estimate_noise(walk)[1]
    sigma, noisy = estimate_noise(walk + 2e-4 * rng.standard_normal(walk.shape))
    assert sigma == pytest.approx(2e-4, rel=0.1) and noisy
    # a smooth, spiking-like signal with noise: the level is the noise's
    t = np.linspace(0, 1, 4000)
    spiky = 0.05 * np.sin(40 * t) ** 21 + 5e-4 * rng.standard_normal((2, t.size))
    sigma, noisy = estimate_noise(spiky)
    assert sigma == pytest.approx(5e-4, rel=0.1) and noisy
    smooth = np.sin(np.linspace(0, 20, 5000))[None]
    assert estimate_noise(smooth) == (pytest.approx(0, abs=1e-6), False)


# ---------------------------------------------------------------------- saving, store
def test_measurement_noise_survives_save_and_load_and_enters_the_store(tmp_path):
    inf = _inferencer({"v": MeasurementNoise(0.5 * mV, tau=2 * ms)})
    inf.infer(60, seed=1, progress=False, training=LEARNING, store=tmp_path / "s",
              estimator_options=estimator_options("snpe"), **bounds())
    inf.save(tmp_path / "a.zip")
    loaded = Inferencer.load(tmp_path / "a.zip", features=window_features())
    assert loaded.measurement == inf.measurement
    other = _inferencer({"v": 0.4 * mV})
    from brian2modelfitting_sbi.simulation import StoreMismatchError

    with pytest.raises(StoreMismatchError, match="measurement"):
        other.simulate(60, seed=1, progress=False, store=tmp_path / "s", **bounds())


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "noise, match",
    [
        ({"v": 0.5 * nA}, r"measurement_noise\['v'\]: expected a noise level in units of volt"),
        ({"v": -1 * mV}, r"measurement_noise\['v'\]: expected a noise level > 0"),
        ({"v": 0 * mV}, r"expected a noise level > 0"),
        ({"I": 1 * nA}, r"measurement_noise: 'I' is not a recorded output"),
        ({"spikes": 1 * mV}, r"spike outputs carry no measurement noise"),
        ({"v": MeasurementNoise(0.5 * mV, tau=2 * mV)},
         r"measurement_noise\['v'\].tau: expected a correlation time in units of second"),
        ({"v": MeasurementNoise(0.5 * mV, tau=0 * second)}, r"correlation time > 0"),
        ({"v": "gL"}, r"'gL' cannot name a noise parameter"),
        ([0.5 * mV], r"measurement_noise: expected a dict"),
    ],
)
def test_bad_noise_fails_at_construction(noise, match):
    with pytest.raises(ProblemError, match=match):
        _inferencer(noise)


def test_noise_parameter_without_bound_fails_before_simulating(no_simulation):
    inf = _inferencer({"v": "sigma_v"})
    with pytest.raises(ProblemError, match=r"no range given for the parameters \['sigma_v'\]"):
        inf.infer(10, progress=False, **bounds())
    with pytest.raises(ProblemError, match=r"bounds\['sigma_v'\]: expected values in units"):
        inf.infer(10, progress=False, sigma_v=[1 * nS, 2 * nS], C=[50 * pF, 400 * pF],
                  gL=[1 * nS, 30 * nS])


# ---------------------------------------------------------------------- every use of the runner
def test_calibration_tests_and_upstream_steps_get_the_noise():
    """The one chunk runner adds the noise for training, calibration tests and upstream steps."""
    noisy = _inferencer({"v": 0.5 * mV}, features=_noise_features())
    clean = _inferencer(features=_noise_features())
    for inf in (noisy, clean):
        inf.set_bounds(**bounds())
    options = SimulationOptions(progress=False)
    theta, x = simulate_prior_tests(noisy.problem, noisy.features, noisy.space, 4, seed=3,
                                    target=None, options=options, measurement=noisy.measurement)
    _, x0 = simulate_prior_tests(clean.problem, clean.features, clean.space, 4, seed=3,
                                 target=None, options=options)
    # the spread at rest (noise-free: ~0) rises to about sigma
    k = next(i for i, name in enumerate(noisy.feature_names) if "rest_spread" in name)
    assert np.all(x[:, k] > 0.6 * SIGMA) and np.all(x0[:, k] < 0.2 * SIGMA)
    # upstream's extract_summary_statistics simulates through the same runner
    np.testing.assert_allclose(noisy.extract_summary_statistics(theta)[:, k], x[:, k], rtol=0.5)
