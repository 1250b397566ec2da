"""brian2modelfitting metrics (and eFEL) as features, end to end through Inferencer.infer."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Mohm, ms, mV, nA, second

# the [fitters] extra; absent (not installable) on numpy >= 1.24, see docs/install.rst
pytest.importorskip("brian2modelfitting", reason="needs the optional [fitters] extra")

from brian2modelfitting.metric import (  # noqa: E402
    FeatureMetric,
    GammaFactor,
    Metric,
    MSEMetric,
    TraceMetric,
)
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args  # noqa: E402

from brian2modelfitting_sbi import Inferencer  # noqa: E402
from brian2modelfitting_sbi.features import (  # noqa: E402
    EfelFeatures,
    EphysFeatures,
    SpikeMetricFeatures,
    TraceMetricFeatures,
    metric_provider,
)
from brian2modelfitting_sbi.problem import Problem, ProblemError  # noqa: E402
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording  # noqa: E402
from brian2modelfitting_sbi.simulation.result import SimulationResult  # noqa: E402

LIF_EQS = """
dv/dt = (EL - v + R*I)/tau : volt (unless refractory)
R : ohm (constant)
tau : second (constant)
"""
EL = -70 * mV
LIF_TRUTH = {"R": 100 * Mohm, "tau": 10 * ms}
LIF_BOUNDS = {"R": [50 * Mohm, 200 * Mohm], "tau": [5 * ms, 20 * ms]}
LIF_SPIKING = {"threshold": "v > -50*mV", "reset": "v = EL", "refractory": 2 * ms,
               "method": "exact"}
TINY = {"training": FAST_TRAINING, "estimator_options": FAST_ESTIMATOR, "progress": False}


@pytest.fixture(scope="module")
def lif() -> dict:
    """A 2-parameter leaky integrate-and-fire neuron: its spikes and trace at the truth."""
    current = np.zeros((2, 600))
    current[0, 100:500] = 0.3
    current[1, 100:500] = 0.5
    args = {"model": LIF_EQS, "input_var": "I", "input": current * nA, "dt": 0.1 * ms,
            "param_init": {"v": EL}, "namespace": {"EL": EL}, **LIF_SPIKING}
    placeholder = {"v": np.full(current.shape, -70.0) * mV, "spikes": [[], []]}
    problem = Problem.from_arguments(**args, output=placeholder)
    sim = ChunkSimulator(problem, ["R", "tau"], 1, Recording(("v",), True))
    truth = sim.run(np.array([[float(LIF_TRUTH["R"]), float(LIF_TRUTH["tau"])]]))
    trains = [tr * second for tr in truth.spike_trains()[0]]
    assert all(len(tr) >= 3 for tr in trains)
    return {**args, "output": {"v": truth.traces["v"][0] * 1000 * mV, "spikes": trains}}


def spikes_only(lif: dict) -> dict:
    return {**lif, "output": {"spikes": lif["output"]["spikes"]}}


def check_posterior(inf: Inferencer, bounds: dict) -> None:
    samples = inf.sample(200, seed=0)
    for name, (lo, hi) in bounds.items():
        values = np.asarray(samples[name])
        assert np.all((values >= float(lo)) & (values <= float(hi))), name


# ---------------------------------------------------------------------------- trace metrics
def test_mse_metric_end_to_end(passive):
    inf = Inferencer(**fitter_args(passive), features=MSEMetric())
    assert inf.feature_names == ["v.MSEMetric[0]", "v.MSEMetric[1]"]
    np.testing.assert_array_equal(inf.x_o, 0.0)  # the data's discrepancy to themselves
    inf.infer(n_samples=300, seed=3, **TINY, **passive["bounds"])
    assert inf.x.shape == (300, 2) and np.all(inf.x > 0)
    check_posterior(inf, passive["bounds"])


class MaxError(TraceMetric):
    """A user metric: the largest absolute deviation per trace."""

    def get_features(self, model_traces, data_traces, dt):
        return np.abs(model_traces - data_traces).max(axis=2)

    def get_errors(self, features):
        return features.mean(axis=1)


def test_custom_trace_metric_end_to_end(passive):
    inf = Inferencer(**fitter_args(passive), features=MaxError(t_start=5 * ms))
    assert inf.feature_names == ["v.MaxError[0]", "v.MaxError[1]"]
    inf.infer(n_samples=200, seed=4, **TINY, **passive["bounds"])
    assert np.all(np.isfinite(inf.x)) and np.all(inf.x > 0)
    check_posterior(inf, passive["bounds"])


def test_trace_metric_values_follow_calc(passive):
    """t_start, t_weights and normalization are applied as TraceMetric.calc does."""
    problem = Problem.from_arguments(**fitter_args(passive))
    data = problem.outputs["v"]
    model = data[None] + np.random.default_rng(0).normal(0, 1e-3, (3, *data.shape))
    result = SimulationResult({"v": model}, {}, problem.dt, 3, 2)
    weights = np.linspace(0, 2, data.shape[1])
    cases = [
        (MSEMetric(), ((model - data) ** 2).mean(axis=2)),
        (MSEMetric(t_start=10 * ms), ((model - data)[..., 100:] ** 2).mean(axis=2)),
        (MSEMetric(normalization=1e-3), ((model - data) ** 2).mean(axis=2) * 1e6),
        (MSEMetric(t_weights=weights),
         ((model - data) ** 2 * (weights / weights.mean())).mean(axis=2)),
    ]
    for metric, expected in cases:
        got = metric_provider(metric).bind(problem).compute(result)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        errors = metric.calc(model, data, problem.dt * second)
        np.testing.assert_allclose(metric.get_errors(got), errors, rtol=1e-12)


def test_metrics_in_dicts_and_lists(passive):
    inf = Inferencer(**fitter_args(passive), features={"v": [np.mean, MSEMetric()]})
    assert inf.feature_names == ["v.mean[0]", "v.mean[1]", "v.MSEMetric[0]", "v.MSEMetric[1]"]
    both = Inferencer(**fitter_args(passive), features=[EphysFeatures(["std"]), MSEMetric()])
    assert both.feature_names == ["v.std[0]", "v.std[1]", "v.MSEMetric[0]", "v.MSEMetric[1]"]


# ---------------------------------------------------------------------------- spike metrics
def test_gamma_factor_end_to_end(lif):
    gamma = GammaFactor(delta=1 * ms, time=60 * ms)
    inf = Inferencer(**spikes_only(lif), features=gamma)
    assert inf.feature_names == ["spikes.GammaFactor[0]", "spikes.GammaFactor[1]"]
    np.testing.assert_allclose(inf.x_o, 0.0, atol=1e-12)  # a perfect match to itself
    theta, x = inf.simulate(150, seed=5, progress=False, **LIF_BOUNDS)
    # the provider gives what the metric itself computes on these spike trains
    problem = inf.problem
    sim = ChunkSimulator(problem, inf.space.names, 3, Recording((), True))
    result = sim.run(theta[:3])
    expected = gamma.get_features(result.spike_trains(), problem.outputs["spikes"],
                                  problem.dt * second)
    np.testing.assert_allclose(x[:3], expected, rtol=1e-12)
    inf.train(**{k: v for k, v in TINY.items() if k != "progress"})
    inf.build_posterior()
    check_posterior(inf, LIF_BOUNDS)


def test_spike_metric_needs_observed_spikes(passive):
    with pytest.raises(ProblemError, match="compares spike trains"):
        Inferencer(**fitter_args(passive), features=GammaFactor(delta=1 * ms, time=30 * ms))


def test_metric_that_is_neither_trace_nor_spike_metric(passive):
    class Odd(Metric):
        def get_features(self, model_results, target_results, dt):
            return None

        def get_errors(self, features):
            return None

        def calc(self, model_results, data_results, dt):
            return None

    with pytest.raises(ProblemError, match="TraceMetric nor from SpikeMetric"):
        Inferencer(**fitter_args(passive), features=Odd())


def test_t_weights_of_the_wrong_length(passive):
    with pytest.raises(ProblemError, match="t_weights"):
        Inferencer(**fitter_args(passive), features=MSEMetric(t_weights=np.ones(7)))


def test_ephys_features_on_recorded_spikes_end_to_end(lif):
    features = EphysFeatures(["spike_count", "first_spike_latency", "isi_mean"],
                             stimulus=(10 * ms, 50 * ms))
    inf = Inferencer(**lif, features=features)
    assert features.recording() == Recording((), True)
    assert inf.x_o[0, :2].tolist() == [len(tr) for tr in lif["output"]["spikes"]]
    inf.infer(n_samples=200, seed=6, **TINY, **LIF_BOUNDS)
    check_posterior(inf, LIF_BOUNDS)


# ---------------------------------------------------------------------------- eFEL
def test_feature_metric_gives_raw_efel_values_end_to_end(passive):
    efel = pytest.importorskip("efel")
    names = ["steady_state_voltage_stimend", "voltage_deflection", "maximum_voltage"]
    metric = FeatureMetric(stim_times=[(5 * ms, 25 * ms)], feat_list=names)
    inf = Inferencer(**fitter_args(passive), features=metric)
    assert isinstance(inf.features, EfelFeatures)
    assert inf.feature_names[:2] == [f"v.{names[0]}[0]", f"v.{names[0]}[1]"]
    observed = np.asarray(passive["output"] / mV)
    found = efel.get_feature_values(
        [{"T": np.arange(observed.shape[1]) * 0.1, "V": trace, "stim_start": [5.0],
          "stim_end": [25.0]} for trace in observed], names, raise_warnings=False)
    expected = [found[k][name][0] for name in names for k in range(2)]
    np.testing.assert_allclose(inf.x_o[0], expected, rtol=1e-9)  # values, not differences
    inf.infer(n_samples=150, seed=7, **TINY, **passive["bounds"])
    assert np.all(np.isfinite(inf.x))
    check_posterior(inf, passive["bounds"])


def test_efel_features_threshold_and_errors(lif):
    pytest.importorskip("efel")
    with pytest.raises(ProblemError, match="eFEL feature names"):
        EfelFeatures(["no_such_feature"], (10 * ms, 50 * ms))
    with pytest.raises(ProblemError, match="voltage"):
        EfelFeatures(["spike_count"], (10 * ms, 50 * ms), threshold=1 * nA)
    problem = Problem.from_arguments(**lif)
    result = SimulationResult.from_observed(problem)
    v = result.traces["v"].copy()
    v[..., 200:210] = 0.02  # one AP-like pulse to +20 mV
    result = SimulationResult({"v": v}, {}, problem.dt, 1, 2)
    low = EfelFeatures(["spike_count"], (10 * ms, 50 * ms), threshold=10 * mV).bind(problem)
    high = EfelFeatures(["spike_count"], (10 * ms, 50 * ms), threshold=30 * mV).bind(problem)
    assert low.compute(result).tolist() == [[1.0, 1.0]]
    assert high.compute(result).tolist() == [[0.0, 0.0]]


def test_providers_for_each_metric_kind():
    assert isinstance(metric_provider(MSEMetric()), TraceMetricFeatures)
    assert isinstance(metric_provider(GammaFactor(1 * ms, 1 * second)), SpikeMetricFeatures)
    fm = FeatureMetric([(0 * ms, 1 * ms)], ["voltage_base"])
    assert isinstance(metric_provider(fm), EfelFeatures)
