"""Raw traces as features, the default CNN embedding, and backends that cannot embed x."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from brian2 import ms
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args
from sbi.neural_nets.embedding_nets import CNNEmbedding, FCEmbedding

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import EphysFeatures, RawTraces, trace_embedding
from brian2modelfitting_sbi.problem import Problem, ProblemError
from brian2modelfitting_sbi.simulation.result import SimulationResult

TINY = {"training": FAST_TRAINING, "estimator_options": FAST_ESTIMATOR, "progress": False}


@pytest.fixture(scope="module")
def problem(passive) -> Problem:
    return Problem.from_arguments(**fitter_args(passive))


def test_downsampling_averages_bins_and_layout_is_trace_major(problem):
    raw = RawTraces(downsample=0.7 * ms).bind(problem)  # 7 steps per bin, 300 steps
    assert raw.n_bins == 43  # 42 whole bins and a last one of 6 steps
    values = np.random.default_rng(0).normal(size=(3, 2, 300))
    x = raw.compute(SimulationResult({"v": values}, {}, problem.dt, 3, 2))
    mean, std = raw.scales["v"]
    bins = [values[..., i : i + 7].mean(axis=-1) for i in range(0, 300, 7)]
    expected = (np.stack(bins, axis=-1) - mean) / std
    np.testing.assert_allclose(x, expected.reshape(3, -1), rtol=1e-12)
    assert raw.names(2)[:2] == ["v[0]#0", "v[0]#1"] and raw.names(2)[43] == "v[1]#0"
    # the observed traces come out standardized
    observed = raw.compute(SimulationResult.from_observed(problem))
    assert abs(observed.mean()) < 0.05 and abs(observed.std() - 1) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"downsample": 0}, "integer >= 1"),
        ({"downsample": 2.5}, "integer >= 1"),
        ({"downsample": 0.25 * ms}, "not a multiple of dt"),
        ({"downsample": 1000}, "only 300 steps"),
        ({"variables": "w"}, "not observed traces"),
    ],
)
def test_raw_trace_mistakes(problem, kwargs, message):
    with pytest.raises(ProblemError, match=message):
        RawTraces(**kwargs).bind(problem)


@pytest.mark.parametrize(("channels", "length"), [(1, 20), (2, 60), (3, 1500), (1, 20_000)])
def test_default_embedding_is_sized_from_the_traces(channels, length):
    net = trace_embedding(channels, length)
    assert isinstance(net, FCEmbedding if length < 32 else CNNEmbedding)
    out = net(torch.zeros(4, channels * length))
    assert out.shape == (4, 20)
    assert sum(p.numel() for p in net.parameters()) < 100_000  # stays small for long traces


def test_features_none_is_raw_traces_with_a_cnn(passive):
    inf = Inferencer(**fitter_args(passive), features=None)
    assert isinstance(inf.features, RawTraces) and inf.x_o.shape == (1, 600)
    assert isinstance(inf.features.default_embedding_net(600), CNNEmbedding)
    assert inf.features.default_estimator_options() == {"z_score_x": "structured"}


def test_snle_on_high_dimensional_raw_traces_is_refused_before_simulating(passive):
    inf = Inferencer(**fitter_args(passive), features=RawTraces())
    with pytest.raises(ProblemError, match="snpe.*embedding net"):
        inf.infer(n_samples=50, backend="snle", **TINY, **passive["bounds"])
    assert inf.n_simulations == 0
    summary = Inferencer(**fitter_args(passive), features=EphysFeatures(["mean"]))
    with pytest.raises(ProblemError, match="cannot use an embedding net"):
        summary.infer(n_samples=50, backend="snle", embedding_net=torch.nn.Identity(),
                      **TINY, **passive["bounds"])
    assert summary.n_simulations == 0


def test_snle_on_few_raw_values_warns(passive):
    inf = Inferencer(**fitter_args(passive), features=RawTraces(downsample=30))
    with pytest.warns(UserWarning, match="cannot use an embedding net"):
        inf.simulate(20, seed=0, progress=False, **passive["bounds"])
        inf.train("snle", **{k: v for k, v in TINY.items() if k != "progress"})
    assert inf.backend.embedding_net is None


def test_raw_traces_with_the_default_cnn_recover_the_truth(passive):
    """SNPE on downsampled raw traces: the posterior mean within 15% of the prior width."""
    inf = Inferencer(**fitter_args(passive), features=RawTraces(downsample=0.5 * ms))
    inf.infer(n_samples=1000, seed=1, **TINY, **passive["bounds"])
    assert isinstance(inf.backend.embedding_net, CNNEmbedding)
    samples = inf.sample(2000, seed=0)
    for name, (lo, hi) in passive["bounds"].items():
        error = abs(float(np.mean(samples[name])) - float(passive["truth"][name]))
        assert error < 0.15 * float(hi - lo), name


def test_a_user_embedding_net_passes_through(passive):
    net = torch.nn.Sequential(torch.nn.Linear(120, 8), torch.nn.ReLU())
    inf = Inferencer(**fitter_args(passive), features=RawTraces(downsample=5))
    inf.infer(n_samples=100, seed=2, embedding_net=net, **TINY, **passive["bounds"])
    assert inf.backend.embedding_net is net
