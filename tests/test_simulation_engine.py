"""Simulation engine: chunking, network reuse, recording, seeds and progress."""

from __future__ import annotations

import gc

import cloudpickle
import numpy as np
import pytest
from brian2 import ms, mV
from conftest import EL, fitter_args, passive_inputs, window_features

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi._heap import frozen_heap
from brian2modelfitting_sbi.features import CallableFeatures, as_provider
from brian2modelfitting_sbi.problem import Problem, ProblemError
from brian2modelfitting_sbi.simulation import (
    ChunkSimulator,
    ChunkTask,
    Recording,
    default_chunk_size,
    simulate_features,
)
from brian2modelfitting_sbi.simulation.noise import plan_noise, uses_brian_random
from brian2modelfitting_sbi.simulation.runner import bytes_per_sample

#: This file's own models (the shared fixture's model may change).
DETERMINISTIC_EQS = """
dv/dt = (gL*(EL - v) + I)/C : volt
gL : siemens (constant)
C : farad (constant)
"""
NOISY_EQS = """
dv/dt = (gL*(EL - v) + I)/C + sigma*sqrt(2*gL/C)*xi : volt
gL : siemens (constant)
C : farad (constant)
"""
NAMES = ("C", "gL")
LOW, HIGH = np.array([50e-12, 1e-9]), np.array([400e-12, 30e-9])


def make_problem(noisy: bool = False, n_steps: int = 300) -> Problem:
    current = passive_inputs(n_steps)
    return Problem.from_arguments(
        NOISY_EQS if noisy else DETERMINISTIC_EQS,
        input_var="I",
        input=current,
        output_var="v",
        output=np.full(current.shape, -70.0) * mV,
        dt=0.1 * ms,
        method="euler",
        param_init={"v": EL},
        namespace={"EL": EL, "sigma": 2 * mV},
    )


def make_task(problem: Problem, chunk_size: int, features=None, **kwargs) -> ChunkTask:
    provider = as_provider(features or window_features(), problem)
    return ChunkTask(
        problem,
        NAMES,
        chunk_size,
        provider.recording(),
        "numpy",
        cloudpickle.dumps(provider),
        **kwargs,
    )


def draw(n: int, seed: int = 0) -> np.ndarray:
    return LOW + np.random.default_rng(seed).random((n, 2)) * (HIGH - LOW)


@pytest.mark.parametrize("noisy", [False, True])
def test_chunked_equals_unchunked(noisy):
    problem, theta = make_problem(noisy, n_steps=120), draw(7)
    features = [np.mean, np.max, np.std]
    x = {
        size: simulate_features(make_task(problem, size, features), theta, seed=5, progress=False)
        for size in (7, 3, 1)
    }
    assert np.all(np.isfinite(x[7])) and x[7].shape == (7, 6)
    np.testing.assert_array_equal(x[3], x[7])
    np.testing.assert_array_equal(x[1], x[7])
    if noisy:  # the noise is really there, and the seed picks it
        other = simulate_features(make_task(problem, 7, features), theta, seed=6, progress=False)
        assert not np.allclose(other, x[7])


def test_noise_streams_per_sample():
    problem = make_problem(noisy=True)
    plan = plan_noise(problem)
    assert plan is not None and plan.variables == ("xi",) and plan.method == "euler"
    assert not uses_brian_random(problem, plan)
    # a sample's noise does not depend on which other samples share its chunk
    theta = draw(6)
    sim = ChunkSimulator(problem, NAMES, 6, Recording(("v",)), "numpy")
    whole = sim.run(theta, start=0, entropy=3).traces["v"]
    single = ChunkSimulator(problem, NAMES, 1, Recording(("v",)), "numpy")
    fourth = single.run(theta[4:5], start=4, entropy=3).traces["v"]
    np.testing.assert_array_equal(fourth[0], whole[4])
    assert np.std(np.diff(whole[0, 0, :50])) > 1e-5  # noisy before the step


def test_per_sample_noise_has_brians_statistics():
    """The rewritten xi gives the same Euler–Maruyama process as Brian's own xi."""
    from brian2 import Network, NeuronGroup, StateMonitor, farad, siemens

    n_steps, gl, cap = 300, 30e-9, 50e-12  # tau = 1.7 ms: stationary long before 30 ms
    current = passive_inputs(n_steps) * 0
    problem = Problem.from_arguments(
        NOISY_EQS, input_var="I", input=current, output_var="v",
        output=np.full(current.shape, -70.0) * mV, dt=0.1 * ms, method="euler",
        param_init={"v": EL}, namespace={"EL": EL, "sigma": 2 * mV},
    )  # fmt: skip
    sim = ChunkSimulator(problem, NAMES, 200, Recording(("v",)), "numpy")
    ours = sim.run(np.tile([cap, gl], (200, 1)), seed=7).traces["v"][..., 100:]

    eqs = NOISY_EQS.replace("+ I)", ")")
    group = NeuronGroup(400, eqs, method="euler", dt=0.1 * ms,
                        namespace={"EL": EL, "sigma": 2 * mV})  # fmt: skip
    group.v, group.gL, group.C = EL, gl * siemens, cap * farad
    monitor = StateMonitor(group, "v", record=True)
    Network(group, monitor).run(n_steps * 0.1 * ms)
    brians = monitor.v_[:, 100:]
    assert abs(np.mean(ours) - float(EL)) < 2e-4 and abs(np.mean(brians) - float(EL)) < 2e-4
    assert np.std(ours) == pytest.approx(np.std(brians), rel=0.05)
    assert np.std(ours) == pytest.approx(2e-3, rel=0.1)  # sigma: the stationary std


def test_unsupported_noise_method_uses_brian_generator():
    current = passive_inputs()
    problem = Problem.from_arguments(
        NOISY_EQS, input_var="I", input=current, output_var="v",
        output=np.full(current.shape, -70.0) * mV, dt=0.1 * ms, method="milstein",
        param_init={"v": EL}, namespace={"EL": EL, "sigma": 2 * mV},
    )  # fmt: skip
    assert plan_noise(problem) is None and uses_brian_random(problem, None)
    # still reproducible for a given seed and chunk size, with a warning about the limit
    with pytest.warns(RuntimeWarning, match="same chunk size only"):
        task = make_task(problem, 3)
    a = simulate_features(task, draw(5), seed=1, progress=False)
    b = simulate_features(task, draw(5), seed=1, progress=False)
    np.testing.assert_array_equal(a, b)


def test_serial_chunks_are_handed_over_as_they_finish(monkeypatch):
    import brian2modelfitting_sbi.simulation.runner as runner

    events: list[tuple[str, int]] = []
    original = runner.run_chunk

    def logged(task, start, theta, seed):
        events.append(("run", start))
        return original(task, start, theta, seed)

    monkeypatch.setattr(runner, "run_chunk", logged)
    task = make_task(make_problem(n_steps=60), 2, features=[np.mean])
    simulate_features(
        task, draw(5), seed=0, progress=False, on_chunk=lambda s, t, x: events.append(("store", s))
    )
    # each chunk is stored before the next one runs: a killed run keeps what it finished
    assert events == [(kind, s) for s in (0, 2, 4) for kind in ("run", "store")]


def test_heun_and_multiplicative_noise_are_chunk_invariant():
    current = passive_inputs(100)
    problem = Problem.from_arguments(
        "dv/dt = (gL*(EL - v) + I)/C + 0.1*(v - EL)*sqrt(gL/C)*xi : volt\n"
        "gL : siemens (constant)\nC : farad (constant)",
        input_var="I", input=current, output_var="v",
        output=np.full(current.shape, -70.0) * mV, dt=0.1 * ms, param_init={"v": EL},
        namespace={"EL": EL},
    )  # fmt: skip
    plan = plan_noise(problem)
    assert plan is not None and plan.method == "heun"  # Brian's choice for this noise
    theta = draw(4)
    whole = simulate_features(make_task(problem, 4, [np.mean, np.std]), theta, seed=1,
                              progress=False)  # fmt: skip
    split = simulate_features(make_task(problem, 3, [np.mean, np.std]), theta, seed=1,
                              progress=False)  # fmt: skip
    np.testing.assert_array_equal(split, whole)


def test_network_built_once_and_reused():
    problem = make_problem(n_steps=120)
    task = make_task(problem, 4, features=[np.mean, np.max])
    before = ChunkSimulator.n_builds
    first = simulate_features(task, draw(11, 1), seed=0, progress=False)  # 3 chunks
    second = simulate_features(task, draw(7, 2), seed=1, progress=False)  # a second round
    assert ChunkSimulator.n_builds - before == 1
    assert first.shape == (11, 4) and second.shape == (7, 4)


def test_monitor_memory_reserved_once():
    problem = make_problem(n_steps=200)
    sim = ChunkSimulator(problem, NAMES, 3, Recording(("v",)), "numpy")
    mon = sim.parts.state_monitor
    var = mon.variables["v"]
    dyn = var.device.get_value(var, access_data=False)
    buffer = dyn.data.base  # the reserved buffer behind the used part
    assert buffer is not None and buffer.shape[0] >= 200
    for k in range(3):
        result = sim.run(draw(3, k))
        assert result.traces["v"].shape == (3, 2, 200)
    assert dyn.data.base is buffer  # never reallocated


def test_brians_collection_in_a_run_skips_the_objects_from_before_it():
    """Brian's Network.run collects garbage first; the chunk's run hides the older objects
    from it (the whole fixed cost of a chunk with torch loaded), and unhides them after."""
    problem = make_problem(n_steps=50)
    sim = ChunkSimulator(problem, NAMES, 2, Recording(("v",)), "numpy")
    frozen_during_full_collections = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            frozen_during_full_collections.append(gc.get_freeze_count())

    gc.callbacks.append(watch)
    try:
        sim.run(draw(2))
    finally:
        gc.callbacks.remove(watch)
    assert frozen_during_full_collections and min(frozen_during_full_collections) > 1000
    assert gc.get_freeze_count() == 0


def test_frozen_heap_leaves_a_frozen_heap_alone():
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        with frozen_heap():
            assert gc.get_freeze_count() == count
        assert gc.get_freeze_count() == count  # not unfrozen by us
    finally:
        gc.unfreeze()
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_copy_false_gives_views_and_copy_true_owns():
    problem = make_problem(n_steps=100)
    sim = ChunkSimulator(problem, NAMES, 2, Recording(("v",)), "numpy")
    kept = sim.run(draw(2, 0)).traces["v"]
    snapshot = kept.copy()
    sim.run(draw(2, 1), copy=False)
    np.testing.assert_array_equal(kept, snapshot)


def test_recording_dt_coarser():
    problem = make_problem(n_steps=300)
    theta = draw(3)
    full = ChunkSimulator(problem, NAMES, 3, Recording(("v",)), "numpy").run(theta)
    coarse = ChunkSimulator(problem, NAMES, 3, Recording(("v",), dt=0.5e-3), "numpy").run(theta)
    assert coarse.dt == pytest.approx(0.5e-3) and coarse.n_steps == 60
    np.testing.assert_allclose(coarse.traces["v"], full.traces["v"][..., ::5])
    with pytest.raises(ValueError, match="multiple of the simulation dt"):
        Recording(("v",), dt=0.25e-3).step_ratio(0.1e-3)


def test_recording_merge():
    merged = Recording.merge([Recording(("v",), dt=1e-3), Recording((), True)])
    assert merged == Recording(("v",), True, 1e-3)
    assert Recording.merge([Recording(("v",), dt=1e-3), Recording(("w",))]).dt is None


def test_spikes_only_records_no_traces():
    current = passive_inputs()
    problem = Problem.from_arguments(
        DETERMINISTIC_EQS, input_var="I", input=current * 3, output_var="spikes",
        output=[np.array([0.01]), np.array([0.01])], dt=0.1 * ms, threshold="v > -60*mV",
        reset="v = -70*mV", param_init={"v": EL}, namespace={"EL": EL},
    )  # fmt: skip
    provider = CallableFeatures("spikes", [len])
    assert provider.recording() == Recording((), True)
    sim = ChunkSimulator(problem, NAMES, 2, provider.recording(), "numpy")
    assert sim.parts.state_monitor is None
    result = sim.run(np.array([[100e-12, 5e-9], [100e-12, 5e-9]]))
    assert result.traces == {} and result.spike_counts().sum() > 0


def test_default_chunk_size_from_budget():
    problem = make_problem(n_steps=300)
    rec = Recording(("v",))
    per = bytes_per_sample(problem, rec)
    assert per == 8 * 2 * 2 * 300
    assert default_chunk_size(problem, rec, 100) == 100
    # a budget for 30 samples: 100 samples -> 4 even chunks of 25, no mostly-padding chunk
    assert default_chunk_size(problem, rec, 100, memory_budget=30 * per) == 25
    # at least one chunk per worker (each worker has the whole budget)
    assert default_chunk_size(problem, rec, 100, n_workers=2) == 50
    assert default_chunk_size(problem, rec, 100, memory_budget=1) == 1
    # enough neurons (TARGET_NEURONS = 4096 here: 2,048 samples of 2 traces) and no more
    assert default_chunk_size(problem, rec, 10_000) == 2000  # 5 even chunks
    assert default_chunk_size(problem, rec, 10_000, memory_budget=1000 * per) == 1000
    noisy = make_problem(noisy=True)
    assert bytes_per_sample(noisy, rec) == per + 8 * 2 * 300  # the pre-drawn noise


def test_task_validation():
    problem = make_problem()
    with pytest.raises(ProblemError, match="device"):
        make_task(problem, 2, device="gpu")
    with pytest.raises(ProblemError, match="chunk_size"):
        make_task(problem, 0)
    with pytest.raises(ProblemError, match="seed"):
        simulate_features(make_task(problem, 2), draw(2), seed=-1, progress=False)


def test_progress_bar(capsys, passive):
    inf = Inferencer(**fitter_args(passive), features=window_features())
    inf.simulate(6, seed=0, progress=True, **passive["bounds"])
    err = capsys.readouterr().err
    assert "simulating" in err and "sim/s" in err and "6/6" in err
    inf.simulate(6, seed=1, progress=False)
    assert capsys.readouterr().err == ""


def test_inferencer_seed_fixes_theta_and_x(passive):
    args = fitter_args(passive)
    args["model"] = NOISY_EQS
    args["method"] = "euler"
    args["namespace"] = {"EL": EL, "sigma": 1 * mV}
    runs = []
    for chunk_size in (None, 3):
        inf = Inferencer(**args, features=window_features())
        runs.append(inf.simulate(8, seed=4, chunk_size=chunk_size, progress=False,
                                 **passive["bounds"]))  # fmt: skip
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
