"""brian2modelfitting's Inferencer calls (its test file's forms), keyword checks, string
initial values and the namespace of ``from brian2 import *`` scripts across processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from brian2 import (
    Equations,
    Gohm,
    TimedArray,
    ms,
    mV,
    nA,
    nS,
    pF,
    siemens,
    volt,
)

from brian2modelfitting_sbi import Inferencer, ProblemError
from brian2modelfitting_sbi.errors import SavedFileError
from brian2modelfitting_sbi.problem import Problem, is_brian_default, stable_repr

FAST = {"max_num_epochs": 5}

# ---------------------------------------------------------------------- upstream's test model
E = 40 * mV
MODEL = """
I = g * (v - E) : amp
g : siemens (constant)
"""


def _traces():
    volts = np.zeros((5, 10))
    for k in range(5):
        volts[k, 5:] = k * 10e-3
    return volts * volt, volts * volt * 10 * nS


@pytest.fixture
def raw():
    inp, out = _traces()
    return Inferencer(dt=0.01 * ms, model=MODEL, input={"v": inp}, output={"I": out})


@pytest.fixture
def with_features():
    inp, out = _traces()
    return Inferencer(dt=0.01 * ms, model=MODEL, input={"v": inp}, output={"I": out},
                      features={"I": [lambda x: x.mean()]})


def test_module_helpers():
    from brian2modelfitting_sbi.inferencer import calc_prior, get_param_dict

    theta = np.repeat(np.array([[1, 2], [3, 4], [5, 6]]), repeats=3, axis=0)
    d = get_param_dict(param_names=["a", "b"], param_values=theta, n_values=9)
    np.testing.assert_array_equal(d["a"], [1, 1, 1, 3, 3, 3, 5, 5, 5])
    np.testing.assert_array_equal(d["b"], [2, 2, 2, 4, 4, 4, 6, 6, 6])
    prior = calc_prior(param_names=["a", "b"], a=[1 * volt, 10 * volt], b=[0 * volt, 1 * volt])
    np.testing.assert_allclose(prior.mean.numpy(), [5.5, 0.5])
    np.testing.assert_allclose(prior.stddev.numpy(), [9 / np.sqrt(12), 1 / np.sqrt(12)],
                               rtol=1e-6)
    drawn = prior.sample((10,)).numpy()
    assert drawn.dtype == np.float32 and drawn.shape == (10, 2)
    with pytest.raises(TypeError):
        calc_prior(param_names=["a", "b"], a=[1 * volt, 10 * volt])


UPSTREAM_ATTRIBUTES = [
    "dt", "output_var", "output", "param_names", "n_traces", "sim_time", "output_dim", "model",
    "input_traces", "param_init", "method", "threshold", "reset", "refractory", "x_o",
    "features", "params", "n_samples", "samples", "posterior", "theta", "x", "sbi_device",
]


def test_upstream_attributes(raw, with_features):
    for inferencer in (raw, with_features):
        for name in UPSTREAM_ATTRIBUTES:
            assert hasattr(inferencer, name), name
        assert inferencer.params is None and inferencer.n_samples is None
        assert inferencer.samples is None and inferencer.posterior is None
        assert isinstance(inferencer.input_traces, TimedArray)
        assert isinstance(inferencer.model, Equations)
        assert inferencer.param_names == ["g"] and inferencer.output_var == ["I"]
        assert inferencer.sim_time == 10 * 0.01 * ms and inferencer.n_traces == 5
    _, out = _traces()
    assert raw.x_o.size == out.size  # raw traces when features is None
    np.testing.assert_allclose(np.ravel(with_features.x_o), np.asarray(out).mean(axis=1))


def test_init_prior_and_training_data(raw, tmp_path):
    prior = raw.init_prior(g=[1e-9 * siemens, 100e-9 * siemens])
    np.testing.assert_allclose(prior.mean.numpy(), [50.5e-9], rtol=1e-6)
    np.testing.assert_allclose(prior.stddev.numpy(), [99e-9 / np.sqrt(12)], rtol=1e-5)
    assert raw.params == {"g": [1e-9 * siemens, 100e-9 * siemens]}
    theta = raw.generate_training_data(20, prior)
    assert theta.shape == (20, 1) and raw.n_samples == 20
    x = raw.extract_summary_statistics(theta)
    assert x.shape == (20, 5 * 10)
    # I = g*(v - E), trace after trace (standardized by the observed traces' mean and std)
    v, _ = _traces()
    expected = theta[:, :1, None] * (np.asarray(v)[None] - float(E))
    assert np.corrcoef(x.ravel(), expected.ravel())[0, 1] > 0.99999

    with pytest.raises(AttributeError):
        raw.save_summary_statistics(tmp_path / "nothing")
    with pytest.raises(TypeError):
        raw.save_summary_statistics(1, theta=theta, x=x)
    path = tmp_path / "summ_stats.npz"
    raw.save_summary_statistics(path, theta=np.array([[1, 2], [3, 4]]), x=np.arange(2)[:, None])
    theta_load, x_load = raw.load_summary_statistics(path)
    np.testing.assert_array_equal(theta_load, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(x_load, [[0], [1]])


def test_init_inference_and_infer_step():
    from sbi.inference.posteriors.direct_posterior import DirectPosterior

    inp, out = _traces()
    inferencer = Inferencer(dt=0.01 * ms, model=MODEL.replace("(v - E)", "(v - 40*mV)"),
                            input={"v": inp}, output={"I": out},
                            features={"I": [lambda x: x.mean()]})
    prior = inferencer.init_prior(g=[1 * nS, 100 * nS])
    with pytest.raises(NameError, match="inference_method"):
        inferencer.init_inference(inference_method="test", density_estimator_model="mdn",
                                  prior=prior, sbi_device="cpu")
    inference = inferencer.init_inference(inference_method="SNPE", density_estimator_model="mdn",
                                          prior=prior, sbi_device="test")
    assert inferencer.sbi_device == "cpu" and inferencer.inference is inference
    with pytest.raises(ValueError, match="n_samples"):
        inferencer.infer_step(proposal=prior, inference=inference)
    posterior = inferencer.infer_step(proposal=prior, n_samples=10, inference=inference,
                                      train_kwargs=FAST)
    assert isinstance(posterior, DirectPosterior)
    assert tuple(posterior.default_x.shape) == (1, 5)

    # the lower-level steps: train(inference, theta, x) and build_posterior(inference)
    theta = inferencer.generate_training_data(10, posterior)
    x = inferencer.extract_summary_statistics(theta)
    trained = inferencer.train(inference, theta, x, posterior, max_num_epochs=3)
    assert trained is inference and len(inferencer.rounds) == 2
    pair = inferencer.build_posterior(inference)
    assert pair[0] is inference and pair[1] is inferencer.posterior


def test_infer_restart_and_saved_posterior(raw, tmp_path):
    posterior = raw.infer(n_samples=10, g=[1 * nS, 100 * nS], train_kwargs=FAST)
    assert posterior is raw.posterior
    multi = raw.infer(n_samples=10, n_rounds=2, restart=True, g=[1 * nS, 100 * nS],
                      train_kwargs=FAST)
    assert multi is not posterior and multi is raw.posterior and len(raw.rounds) == 2
    raw.save_posterior(tmp_path / "posterior.pth")
    before = raw.sample((50,), seed=3)
    loaded = raw.load_posterior(tmp_path / "posterior.pth")
    assert loaded is raw.posterior
    np.testing.assert_allclose(raw.sample((50,), seed=3), before, rtol=1e-5)

    # given theta and x train the first round; n_samples is then taken from them
    theta = raw.theta[:10]
    x = raw.x[:10]
    again = raw.infer(theta=theta, x=x, restart=True, g=[1 * nS, 100 * nS], train_kwargs=FAST)
    assert again is raw.posterior and [r.n_simulations for r in raw.rounds] == [10]
    with pytest.warns(UserWarning, match="theta, x: ignored"):
        raw.infer(theta=theta, x=x, train_kwargs=FAST)  # continues: one more round of 10
    assert [r.n_simulations for r in raw.rounds] == [10, 10]


def test_sample_forms(raw):
    raw.infer(n_samples=10, g=[1 * nS, 100 * nS], train_kwargs=FAST)
    ours = raw.sample(7, seed=0)
    assert set(ours) == {"g"} and ours["g"].shape == (7,)  # dict of quantities
    theirs = raw.sample((7,), seed=0)
    assert isinstance(theirs, np.ndarray) and theirs.shape == (7, 1)  # upstream: an array
    np.testing.assert_allclose(theirs[:, 0], np.asarray(ours["g"]))
    assert raw.sample(torch.Size([3, 2])).shape == (3, 2, 1)
    with pytest.raises(ProblemError, match="n: expected an integer >= 1, got 'ten'"):
        raw.sample("ten")
    # ours keeps our richer predictive form; upstream's generate_traces gives one trace set
    assert raw.generate_traces(n_samples=3).shape == (5, 10)
    assert raw.generate_traces(n_samples=3, seed=1)["I"].shape == (3, 5, 10)
    assert raw.predictive_traces(n_samples=2)["I"].shape == (2, 5, 10)


def test_unknown_keywords_suggest_the_close_name(raw):
    with pytest.raises(ProblemError, match="did you mean 'inference_method'"):
        raw.infer(n_samples=10, inference_methd="SNPE", g=[1 * nS, 100 * nS])
    with pytest.raises(ProblemError, match=r"\['gg'\] are not parameters.*did you mean 'g'"):
        raw.infer(n_samples=10, gg=[1 * nS, 100 * nS])
    with pytest.raises(ProblemError, match="did you mean 'g'"):
        raw.init_prior(gg=[1 * nS, 100 * nS])
    with pytest.raises(ProblemError, match="n_samples: required"):
        raw.infer(g=[1 * nS, 100 * nS])
    assert raw.rounds == []  # nothing ran


# ---------------------------------------------------------------------- initial values
PASSIVE = """
dv/dt = (gL*(EL - v) + I)/C : volt
gL : siemens (constant)
C : farad (constant)
"""
EL = -70 * mV


def _passive(**changes):
    current = np.zeros((1, 50))
    current[0, 10:40] = 0.2
    args = dict(model=PASSIVE, input_var="I", input=current * nA, output_var="v",
                output=np.full((1, 50), -70.0) * mV, dt=0.1 * ms, features=[np.mean])
    args.update(changes)
    return Inferencer(**args)


def test_string_initial_values_are_checked_and_evaluated():
    inf = _passive(param_init={"v": "EL + 2*mV"})
    assert inf.problem.namespace == {"EL": EL}
    inf.set_bounds(gL=[1 * nS, 30 * nS], C=[50 * pF, 400 * pF])
    out = inf.predictive_traces(params={"gL": [10 * nS, 20 * nS], "C": [100 * pF, 100 * pF]})
    np.testing.assert_allclose(np.asarray(out["v"][:, 0, 0] / mV), -68.0, atol=1e-6)

    # a parameter-dependent expression is evaluated for each parameter set
    inf = _passive(param_init={"v": "EL + gL*1*Gohm*mV"})
    inf.set_bounds(gL=[1 * nS, 30 * nS], C=[50 * pF, 400 * pF])
    out = inf.predictive_traces(params={"gL": [10 * nS, 20 * nS], "C": [100 * pF, 100 * pF]})
    np.testing.assert_allclose(np.asarray(out["v"][:, 0, 0] / mV), [-60.0, -50.0], atol=1e-6)
    assert Gohm  # the unit is Brian's own: not captured
    assert "Gohm" not in inf.problem.namespace

    with pytest.raises(ProblemError, match=r"param_init\['v'\]: 'EX \+ 2\*mV' uses \['EX'\]"):
        _passive(param_init={"v": "EX + 2*mV"})
    with pytest.raises(ProblemError, match=r"param_init\['v'\].*inconsistent units"):
        _passive(param_init={"v": "EL + 2"})
    with pytest.raises(ProblemError, match=r"param_init\['v'\].*units of"):
        _passive(param_init={"v": "gL/nS"})


@pytest.mark.parametrize("device", ["runtime", "cpp_standalone"])
def test_parameter_dependent_initial_value_on_both_devices(device):
    from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording
    from brian2modelfitting_sbi.simulation.standalone import StandaloneChunkSimulator

    problem = Problem.from_arguments(
        PASSIVE, input_var="I", input=np.zeros((1, 20)) * nA, output_var="v",
        output=np.full((1, 20), -70.0) * mV, dt=0.1 * ms,
        param_init={"v": "EL + gL*1*Gohm*mV"}, namespace={"EL": EL},
    )
    cls = StandaloneChunkSimulator if device == "cpp_standalone" else ChunkSimulator
    sim = cls(problem, ["C", "gL"], 2, Recording(("v",)))
    first = sim.run(np.array([[100e-12, 10e-9], [100e-12, 20e-9]])).traces["v"][:, 0, 0]
    np.testing.assert_allclose(first, [-0.060, -0.050], atol=1e-9)


def test_wrong_dt_is_detected_from_late_spikes():
    current = np.zeros((1, 100)) * nA
    with pytest.raises(ProblemError, match="dt is not the sampling step"):
        Problem.from_arguments(
            PASSIVE, input_var="I", input=current, output={"spikes": [np.array([0.002, 0.015])]},
            dt=0.1 * ms, threshold="v > -50*mV", namespace={"EL": EL},
        )


# ---------------------------------------------------------------------- namespace
def test_brian_names_are_not_captured():
    import brian2

    for name in ("exp", "sqrt", "clip", "log", "sin", "abs"):
        if hasattr(brian2, name):
            assert is_brian_default(name, getattr(brian2, name)), name
    assert is_brian_default("exp", np.exp) and is_brian_default("exp", math.exp)
    assert is_brian_default("mV", mV) and is_brian_default("pi", np.pi)
    assert not is_brian_default("exp", lambda x: x)  # a real rebinding is captured
    assert not is_brian_default("mV", 2 * mV) and not is_brian_default("pi", 3)
    assert not is_brian_default("EL", EL)
    # nothing per-process in a fingerprint
    assert "0x" not in stable_repr(lambda x: x) and "0x" not in stable_repr(object())
    assert stable_repr(TimedArray([1, 2] * nA, dt=ms)) == stable_repr(TimedArray([1, 2] * nA,
                                                                                  dt=ms))


def test_unsaveable_namespace_is_refused_at_save(tmp_path):
    bias = TimedArray(np.zeros(50) * nA, dt=0.1 * ms)
    inf = _passive(model=PASSIVE.replace("+ I)", "+ I + bias(t))"), param_init={"v": "EL"},
                   namespace={"EL": EL, "bias": bias})
    assert set(inf.problem.namespace) == {"EL", "bias"}
    inf.infer(10, gL=[1 * nS, 30 * nS], C=[50 * pF, 400 * pF], training=FAST, progress=False)
    with pytest.raises(SavedFileError, match=r"\['bias'\].*skip_namespace"):
        inf.save(tmp_path / "run.zip")
    assert not (tmp_path / "run.zip").exists()
    inf.save(tmp_path / "run.zip", skip_namespace=["bias"])
    with pytest.raises(ProblemError, match="bias"):
        Inferencer.load(tmp_path / "run.zip")
    loaded = Inferencer.load(tmp_path / "run.zip", namespace={"bias": bias})
    assert loaded.sample(3, seed=0)["gL"].shape == (3,)


SCRIPT = '''
import json, sys
from brian2 import *
from brian2modelfitting_sbi import Inferencer
import brian2modelfitting_sbi.simulation.runner as runner

prefs.codegen.target = "numpy"
ran = []
original = runner.run_chunk


def counting(task, start, theta, seed):
    ran.append(start)
    return original(task, start, theta, seed)


runner.run_chunk = counting
EL = -70*mV
eqs = """
dv/dt = (EL - v)/tau + clip(exp(-t/(5*ms)), 0, 1)*sqrt(1.0)*I/C : volt
tau : second (constant)
C : farad (constant)
"""
current = zeros((1, 60))
current[0, 10:50] = 0.2
inf = Inferencer(eqs, input_var="I", input=current*nA, output_var="v",
                 output=full((1, 60), -68.0)*mV, dt=0.1*ms, param_init={"v": "EL"},
                 features=[lambda v: v[20:50].mean(), lambda v: v[50:].mean()])
inf.infer(30, store=sys.argv[1], seed=1, chunk_size=10, progress=False,
          training={"max_num_epochs": 3}, tau=[5*ms, 20*ms], C=[50*pF, 200*pF])
inf.save(sys.argv[2])
loaded = Inferencer.load(sys.argv[2])
print(json.dumps({
    "fingerprint": inf.problem.fingerprint(),
    "loaded": loaded.problem.fingerprint(),
    "namespace": sorted(inf.problem.namespace),
    "chunks_run": len(ran),
    "x": inf.x.tolist(),
    "samples": loaded.sample(2, seed=0)["tau"].shape[0],
}))
'''


@pytest.mark.slow
def test_star_import_script_resumes_and_reloads_in_new_processes(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    store, saved = tmp_path / "store", tmp_path / "run.zip"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")

    def run_once() -> dict:
        done = subprocess.run(
            [sys.executable, str(script), str(store), str(saved)],
            env=env, capture_output=True, text=True, timeout=240, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run_once()
    second = run_once()
    assert first["namespace"] == ["EL"]  # exp, clip, sqrt, mV, ms... are Brian's own
    assert first["chunks_run"] == 3 and second["chunks_run"] == 0  # resumed, nothing simulated
    assert first["fingerprint"] == second["fingerprint"] == second["loaded"]
    assert first["x"] == second["x"]
    assert second["samples"] == 2


# ---------------------------------------------------------------------- the port's seams
def test_upstream_option_names_match_the_inferencer():
    import inspect
    from dataclasses import fields

    from brian2modelfitting_sbi.inference.options import SimulationOptions, TrainingOptions
    from brian2modelfitting_sbi.upstream.arguments import OUR_INFER_OPTIONS, OUR_TRAIN_OPTIONS

    groups = {f.name for f in fields(SimulationOptions) + fields(TrainingOptions)} - {"settings"}

    def named(method):
        kinds = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        return {n for n, p in inspect.signature(method).parameters.items()
                if n != "self" and p.kind not in kinds}

    assert set(OUR_INFER_OPTIONS) == named(Inferencer.infer) | groups
    assert set(OUR_TRAIN_OPTIONS) == named(Inferencer.train) | (groups - {
        "chunk_size", "n_jobs", "executor", "store", "standalone", "progress"})


def test_add_round_records_given_simulations(with_features):
    inf = with_features
    with pytest.raises(RuntimeError, match="no prior"):
        inf.add_round([[5e-8]], [[0.0] * 5])
    inf.set_bounds(g=[1 * nS, 100 * nS])
    with pytest.raises(ProblemError, match=r"x: expected an array \(n, 5\)"):
        inf.add_round([[5e-8]], [[0.0]])
    with pytest.raises(ProblemError, match="2 parameter sets but 1 feature rows"):
        inf.add_round([[5e-8], [6e-8]], [[0.0] * 5])
    with pytest.warns(RuntimeWarning, match="outside the prior bounds"):
        inf.add_round([[5e-6]], [[0.0] * 5])
    record = inf.add_round(torch.tensor([[5e-8], [6e-8]]), np.zeros((2, 5)))
    assert record.index == 2 and [r.n_simulations for r in inf.rounds] == [1, 2]
    assert inf.theta.shape == (3, 1) and inf.proposals == [None, None]
    with pytest.raises(TypeError, match="did you mean 'training'"):
        inf.train("snpe", trainig={"max_num_epochs": 2})
