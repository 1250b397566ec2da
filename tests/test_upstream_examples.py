"""brian2modelfitting's sbi examples and tutorial, with only the import changed, at tiny sizes.

Each test makes the calls (names, argument forms) of one upstream script or tutorial section
and checks what upstream documents them to return. The two HH examples read upstream's CSV
recordings (tests/data/, see its README); sizes are cut down (two traces, few simulations,
few epochs) so that the module runs in well under a minute.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from brian2 import (
    NeuronGroup,
    Quantity,
    SpikeMonitor,
    StateMonitor,
    TimedArray,
    amp,
    cm,
    ms,
    mV,
    nA,
    nF,
    nS,
    pF,
    run,
    siemens,
    start_scope,
    uF,
    um,
    uS,
)
from scipy.stats import kurtosis as kurt

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.datasets import HH4_EQUATIONS

#: Separate processes and whole example scripts: the slow tier (make test-slow, .ci/run).
pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
FAST = {"max_num_epochs": 5}
FLOAT = np.ndarray

# ---------------------------------------------------------------------- HH (CSV data)
area = 20_000 * um**2
El = -65 * mV
EK = -90 * mV
ENa = 50 * mV
VT = -63 * mV
HH_DT = 0.01 * ms
HH_BOUNDS = {
    "gl": [1e-09 * siemens, 1e-07 * siemens],
    "g_na": [2e-06 * siemens, 2e-04 * siemens],
    "g_kd": [6e-07 * siemens, 6e-05 * siemens],
    "Cm": [0.1 * uF * cm**-2 * area, 2 * uF * cm**-2 * area],
}
HH_LABELS = {"gl": "$g_l$", "g_na": "$g_{Na}$", "g_kd": "$g_K$", "Cm": "$C_m$"}


def read_csv(kind: str, rows: list[int]) -> np.ndarray:
    """Rows of upstream's CSV recordings, without the index column."""
    table = np.loadtxt(DATA / f"{kind}_traces_hh.csv", delimiter=",", skiprows=1)
    return table[rows, 1:]


def upward_crossings(trace_mv: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
    """Spike times (s) as upward crossings of -20 mV (plain floats, as upstream's scripts)."""
    above = trace_mv > -20
    return t_ms[1:][above[1:] & ~above[:-1]] / 1000


@pytest.fixture(scope="module", autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def hh_simple():
    """hh_sbi_simple_interface.py up to infer(): features on v and spikes, 2 rounds, mdn."""
    inp_traces = read_csv("input", [0, 3])
    out_traces = read_csv("output", [0, 3])
    t = np.arange(0, out_traces.shape[1] * HH_DT / ms, HH_DT / ms)
    t_start, t_end = t[np.where(inp_traces[0, :] != 0)[0][[0, -1]]]
    spike_times = [upward_crossings(trace, t) for trace in out_traces]
    window = (t > t_start) & (t < t_end)
    v_features = [
        lambda x: np.max(x[window]),
        lambda x: np.mean(x[window]),
        lambda x: np.std(x[window]),
        lambda x: kurt(x[window], fisher=False),
        lambda x: np.mean(x[(t > 0.25 * t_start) & (t < 0.75 * t_start)]),
    ]
    s_features = [lambda x: x.size]
    inferencer = Inferencer(
        dt=HH_DT,
        model=HH4_EQUATIONS,
        input={"I": inp_traces * amp},
        output={"v": out_traces * mV, "spikes": spike_times},
        features={"v": v_features, "spikes": s_features},
        method="exponential_euler",
        threshold="m > 0.5",
        refractory="m > 0.5",
        param_init={"v": "VT"},
    )
    posterior = inferencer.infer(
        n_samples=30,
        n_rounds=2,
        inference_method="SNPE",
        density_estimator_model="mdn",
        train_kwargs=FAST,
        **HH_BOUNDS,
    )
    return inferencer, posterior, out_traces


def test_hh_simple_interface_infer(hh_simple):
    inferencer, posterior, _ = hh_simple
    assert posterior is inferencer.posterior
    assert hasattr(posterior, "sample") and hasattr(posterior, "log_prob")
    assert len(inferencer.rounds) == 2 and inferencer.n_samples == 30
    assert inferencer.param_names == ["Cm", "g_kd", "g_na", "gl"]
    # 'VT' is the model's namespace value, not a captured Brian name; exp is Brian's own
    assert inferencer.param_init == {"v": "VT"}
    assert "exp" not in inferencer.problem.namespace
    assert float(inferencer.problem.namespace["VT"]) == pytest.approx(float(VT))


def test_hh_simple_interface_results(hh_simple):
    inferencer, _, out_traces = hh_simple
    samples = inferencer.sample((200,))
    assert isinstance(samples, FLOAT) and samples.shape == (200, 4)
    low = np.array([float(HH_BOUNDS[n][0]) for n in inferencer.param_names])
    high = np.array([float(HH_BOUNDS[n][1]) for n in inferencer.param_names])
    assert np.all(samples >= low) and np.all(samples <= high)  # SI floats in the box
    np.testing.assert_array_equal(inferencer.samples, samples)

    limits = dict(HH_BOUNDS)
    fig, axes = inferencer.pairplot(limits=limits, labels=HH_LABELS, ticks=limits, figsize=(6, 6))
    assert fig.number in plt.get_fignums()  # a pyplot figure: show() shows it
    assert axes.shape == (4, 4)
    assert axes[0, 0].get_xlabel() == HH_LABELS["Cm"]

    condition = inferencer.sample((1,))
    assert condition.shape == (1, 4)
    fig, axes = inferencer.conditional_pairplot(
        condition=condition, limits=limits, labels=HH_LABELS, ticks=limits, figsize=(6, 6)
    )
    assert fig.number in plt.get_fignums() and axes.shape == (4, 4)

    matrix = inferencer.conditional_corrcoeff(condition=condition, limits=limits)
    assert isinstance(matrix, FLOAT) and matrix.shape == (4, 4)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T)
    assert np.all(np.abs(matrix[np.isfinite(matrix)]) <= 1 + 1e-9)

    inf_traces = inferencer.generate_traces(n_samples=50, output_var="v")
    assert isinstance(inf_traces, Quantity)
    assert inf_traces.shape == out_traces.shape
    assert inf_traces.dim == mV.dim
    # simulations start at VT, the string initial value
    np.testing.assert_allclose(np.asarray(inf_traces[:, 0] / mV), float(VT / mV), atol=1.0)


def test_hh_flexible_interface(tmp_path):
    """hh_sbi_flexible_interface.py: the step API, saved statistics and posterior, infer()."""
    inp_traces = read_csv("input", [0, 1])
    out_traces = read_csv("output", [0, 1])
    t = np.arange(0, out_traces.shape[1] * HH_DT / ms, HH_DT / ms)
    t_start, t_end = t[np.where(inp_traces[0, :] != 0)[0][[0, -1]]]
    window = (t > t_start) & (t < t_end)
    inferencer = Inferencer(
        dt=HH_DT,
        model=HH4_EQUATIONS,
        input={"I": inp_traces * amp},
        output={"v": out_traces * mV},
        features={"v": [lambda x: np.max(x), lambda x: np.mean(x[window]),
                        lambda x: np.std(x[window])]},
        method="exponential_euler",
        threshold="m > 0.5",
        refractory="m > 0.5",
        param_init={"v": "VT"},
    )
    prior = inferencer.init_prior(**HH_BOUNDS)
    assert isinstance(prior, torch.distributions.Distribution)
    middle = [float(HH_BOUNDS[n][0] + HH_BOUNDS[n][1]) / 2 for n in inferencer.param_names]
    np.testing.assert_allclose(prior.mean.numpy(), middle, rtol=1e-6)  # SI units, as upstream

    path_to_data = tmp_path / "hh_flexible_data.npz"
    theta = inferencer.generate_training_data(n_samples=30, prior=prior)
    assert isinstance(theta, FLOAT) and theta.shape == (30, 4)
    x = inferencer.extract_summary_statistics(theta)
    assert isinstance(x, FLOAT) and x.shape == (30, 3 * 2)
    inferencer.save_summary_statistics(path_to_data, theta, x)
    theta_loaded, x_loaded = inferencer.load_summary_statistics(path_to_data)
    np.testing.assert_array_equal(theta_loaded, theta)
    np.testing.assert_array_equal(x_loaded, x)

    inference = inferencer.init_inference(
        inference_method="SNPE", density_estimator_model="mdn", prior=prior
    )
    posterior_amortized = inferencer.infer_step(
        proposal=prior, inference=inference, theta=theta_loaded, x=x_loaded, train_kwargs=FAST
    )
    assert posterior_amortized is inferencer.posterior
    path_to_posterior = tmp_path / "hh_flexible_posterior_amortized.pth"
    inferencer.save_posterior(path_to_posterior)

    assert inferencer.sample((100,)).shape == (100, 4)
    fig, axes = inferencer.pairplot(labels=HH_LABELS)
    assert axes.shape == (4, 4)

    posterior_multiround = inferencer.infer(train_kwargs=FAST)
    assert posterior_multiround is inferencer.posterior
    assert posterior_multiround is not posterior_amortized
    assert [r.n_simulations for r in inferencer.rounds] == [30, 30]
    assert inferencer.sample((100,)).shape == (100, 4)
    inferencer.pairplot(labels=HH_LABELS)

    inf_traces = inferencer.generate_traces()
    assert isinstance(inf_traces, Quantity) and inf_traces.shape == out_traces.shape
    assert float(inf_traces[0, 0] / mV) == pytest.approx(float(VT / mV))
    from_rest = inferencer.generate_traces(param_init={"v": "El"})  # upstream's override
    assert float(from_rest[0, 0] / mV) == pytest.approx(float(El / mV))
    assert inferencer.param_init == {"v": "VT"}  # for this call only

    # the saved posterior loads into a new Inferencer of the same problem
    again = Inferencer(
        dt=HH_DT, model=HH4_EQUATIONS, input={"I": inp_traces * amp},
        output={"v": out_traces * mV}, features=inferencer.features,
        method="exponential_euler", threshold="m > 0.5", refractory="m > 0.5",
        param_init={"v": "VT"},
    )
    loaded = again.load_posterior(path_to_posterior)
    assert loaded is again.posterior
    assert again.sample((5,)).shape == (5, 4)


# ---------------------------------------------------------------------- IF_sbi.py
def test_if_sbi_example():
    """IF_sbi.py: data from a Brian run, spike features only, 3 rounds with default settings."""
    dt = 0.1 * ms
    sim_time = 60 * ms
    ground_truth_params = {"gl": 30 * nS, "C": 1 * nF}
    steps = [int(round(5 * ms / dt)), int(round(25 * ms / dt)), int(round(30 * ms / dt))]
    inp_trace = np.hstack([np.zeros(steps[0]), np.ones(steps[1]), np.zeros(steps[2])]) * 10 * nA
    I = TimedArray(inp_trace, dt=dt)  # noqa: E741, F841 - read by the equations below
    model = """
        dv/dt = (gl*(El - v) + gl*DeltaT*exp((v - VT) / DeltaT) + I(t)) / C : volt
        gl : siemens (constant)
        C : farad (constant)
    """
    namespace = {"El": -70 * mV, "VT": -50 * mV, "DeltaT": 2 * mV, "I": I}
    neurons = NeuronGroup(1, model, dt=dt, threshold="v > -50 * mV", reset="v = -70 * mV",
                          method="exponential_euler", namespace=namespace)
    neurons.v = -70 * mV
    neurons.set_states(ground_truth_params)
    state_monitor = StateMonitor(neurons, "v", record=True)
    spike_monitor = SpikeMonitor(neurons, record=True)
    run(sim_time, namespace=namespace)
    spike_times = np.array(spike_monitor.t_)
    assert len(spike_times) >= 2
    start_scope()

    El, VT, DeltaT = -70 * mV, -50 * mV, 2 * mV  # noqa: N806, F841 - the script's constants
    eqs_inf = """
        dv/dt = (gl*(El - v) + gl*DeltaT*exp((v - VT) / DeltaT) + I) / C : volt
        gl : siemens (constant)
        C : farad (constant)
    """
    spike_features_list = [
        lambda x: x.size,
        lambda x: 0.0 if np.diff(x).size == 0 else np.mean(np.diff(x)),
    ]
    inferencer = Inferencer(dt=dt, model=eqs_inf,
                            input={"I": inp_trace.reshape(1, -1)},
                            output={"spikes": [spike_times]},
                            features={"spikes": spike_features_list},
                            method="exponential_euler",
                            threshold="v > -50*mV",
                            reset="v = -70*mV",
                            param_init={"v": -70 * mV})
    assert set(inferencer.problem.namespace) == {"El", "VT", "DeltaT"}
    posterior = inferencer.infer(n_samples=40, n_rounds=3, gl=[10 * nS, 100 * nS],
                                 C=[0.1 * nF, 10 * nF])
    assert posterior is inferencer.posterior and len(inferencer.rounds) == 3

    samples = inferencer.sample((300,))
    assert samples.shape == (300, 2)
    labels = {"gl": r"$\overline{g}_{l}$", "C": r"$C$"}
    ticks = {"gl": [10 * nS, 100 * nS], "C": [0.1 * nF, 10 * nF]}
    fig, axes = inferencer.pairplot(labels=labels, limits=ticks, ticks=ticks,
                                    points=ground_truth_params,
                                    points_offdiag={"markersize": 9},
                                    points_colors=["r"], figsize=(6, 6))
    assert axes.shape == (2, 2)
    marker = axes[0, 1].lines[0]  # the ground truth, in display units, with the given style
    assert marker.get_markersize() == 9 and marker.get_color() == "r"

    inf_trace = inferencer.generate_traces(output_var="v")
    assert isinstance(inf_trace, Quantity) and inf_trace.shape == (1, inp_trace.size)
    assert state_monitor.v.shape == inf_trace.shape


# ---------------------------------------------------------------------- tutorial_sbi.rst
E_Na, E_K, E_l, VT_tut = 53 * mV, -107 * mV, -70 * mV, -60.0 * mV
TUT_DT = 0.05 * ms
TUT_TRUTH = {"g_Na": 32 * uS, "g_K": 1 * uS, "g_l": 10 * nS, "Cm": 200 * pF}
TUT_EQS = """
dv/dt = - (g_Na * m ** 3 * h * (v - E_Na) + g_K * n ** 4 * (v - E_K)
           + g_l * (v - E_l) - I) / Cm : volt
dm/dt = alpha_m * (1 - m) - beta_m * m : 1
dn/dt = alpha_n * (1 - n) - beta_n * n : 1
dh/dt = alpha_h * (1 - h) - beta_h * h : 1
alpha_m = ((-0.32 / mV) * (v - VT - 13.*mV)) / (exp((-(v - VT - 13.*mV)) / (4.*mV)) - 1) / ms : Hz
beta_m = ((0.28/mV) * (v - VT - 40.*mV)) / (exp((v - VT - 40.*mV) / (5.*mV)) - 1) / ms : Hz
alpha_h = 0.128 * exp(-(v - VT - 17.*mV) / (18.*mV)) / ms : Hz
beta_h = 4 / (1 + exp((-(v - VT - 40.*mV)) / (5.*mV))) / ms : Hz
alpha_n = ((-0.032/mV) * (v - VT - 15.*mV)) / (exp((-(v - VT - 15.*mV)) / (5.*mV)) - 1) / ms : Hz
beta_n = 0.5 * exp(-(v - VT - 10.*mV) / (40.*mV)) / ms : Hz
g_Na : siemens (constant)
g_K : siemens (constant)
"""  # noqa: E501
INIT_CONDS = {
    "v": "E_l",
    "m": "1 / (1 + beta_m / alpha_m)",
    "h": "1 / (1 + beta_h / alpha_h)",
    "n": "1 / (1 + beta_n / alpha_n)",
}
TUT_LIMITS = {"g_Na": [1 * uS, 100 * uS], "g_K": [0.1 * uS, 10 * uS]}
TUT_LABELS = {"g_Na": r"$\overline{g}_{Na}$", "g_K": r"$\overline{g}_{K}$"}


@pytest.fixture(scope="module")
def tutorial_data():
    """A synthetic recording of the tutorial's model (20 ms, one current step)."""
    inp = np.zeros((1, 400))
    inp[0, 40:360] = 0.4e-9
    namespace = {"E_Na": E_Na, "E_K": E_K, "E_l": E_l, "VT": VT_tut, "Cm": 200 * pF,
                 "g_l": 10 * nS, "stim": TimedArray(inp[0] * amp, dt=TUT_DT)}
    group = NeuronGroup(1, TUT_EQS.replace(" - I)", " - stim(t))"),
                        method="exponential_euler", dt=TUT_DT, namespace=namespace)
    for var, expr in INIT_CONDS.items():
        setattr(group, var, expr)
    group.g_Na, group.g_K = TUT_TRUTH["g_Na"], TUT_TRUTH["g_K"]
    mon = StateMonitor(group, "v", record=True)
    run(20 * ms, namespace=namespace)
    out = np.asarray(mon.v / mV)
    start_scope()
    t = np.arange(0, inp.size * TUT_DT / ms, TUT_DT / ms)
    stim_start, stim_end = t[np.where(inp[0, :] != 0)[0][[0, -1]]]
    return inp, out, t, stim_start, stim_end


def _tutorial_v_features(t, stim_start, stim_end):
    on = (t > stim_start) & (t < stim_end)
    return [
        lambda x: np.max(x[on]),
        lambda x: np.mean(x[on]),
        lambda x: np.std(x[on]),
        lambda x: np.mean(x[(t > 0.1 * stim_start) & (t < 0.9 * stim_start)]),
    ]


def test_tutorial_two_parameters(tutorial_data):
    inp_traces, out_traces, t, stim_start, stim_end = tutorial_data
    g_l, Cm = 10 * nS, 200 * pF  # noqa: N806, F841 - constants of the model
    E_Na, E_K, E_l, VT = 53 * mV, -107 * mV, -70 * mV, -60.0 * mV  # noqa: N806, F841
    inferencer = Inferencer(dt=TUT_DT, model=TUT_EQS,
                            input={"I": inp_traces * amp},
                            output={"v": out_traces * mV},
                            features={"v": _tutorial_v_features(t, stim_start, stim_end)},
                            method="exponential_euler",
                            threshold="m > 0.5",
                            refractory="m > 0.5",
                            param_init=INIT_CONDS)
    posterior = inferencer.infer(n_samples=40, n_rounds=1, inference_method="SNPE",
                                 density_estimator_model="maf", train_kwargs=FAST,
                                 g_Na=[1 * uS, 100 * uS], g_K=[0.1 * uS, 10 * uS])
    assert posterior is inferencer.posterior
    samples = inferencer.sample((500,))
    assert samples.shape == (500, 2)
    fig, ax = inferencer.pairplot(limits=TUT_LIMITS, labels=TUT_LABELS, ticks=TUT_LIMITS,
                                  points={k: TUT_TRUTH[k] for k in ("g_Na", "g_K")},
                                  points_offdiag={"markersize": 5}, points_colors=["C3"],
                                  figsize=(6, 6))
    assert ax.shape == (2, 2)
    inf_traces = inferencer.generate_traces()
    shown = np.array(inf_traces / mV)
    assert shown.shape == out_traces.shape
    # the string initial value 'E_l' starts the simulation at rest
    assert shown[0, 0] == pytest.approx(float(E_l / mV), abs=0.5)


def test_tutorial_more_parameters_spikes_and_rounds(tutorial_data):
    inp_traces, out_traces, t, stim_start, stim_end = tutorial_data
    E_Na, E_K, E_l, VT = 53 * mV, -107 * mV, -70 * mV, -60.0 * mV  # noqa: N806, F841
    eqs = TUT_EQS + "g_l : siemens (constant)\nCm : farad (constant)\n"
    bounds = {"g_Na": [1 * uS, 100 * uS], "g_K": [0.1 * uS, 10 * uS],
              "g_l": [1 * nS, 100 * nS], "Cm": [20 * pF, 2 * nF]}

    def voltage_deflection(x):
        voltage_base = np.mean(x[t < stim_start])
        stim_end_idx = np.where(t >= stim_end)[0][0]
        return np.mean(x[stim_end_idx - 10:stim_end_idx - 5]) - voltage_base

    v_features = [*_tutorial_v_features(t, stim_start, stim_end),
                  lambda x: kurt(x[(t > stim_start) & (t < stim_end)], fisher=False),
                  voltage_deflection]
    s_features = [lambda x: x.size,
                  lambda x: 0.0 if np.diff(x).size == 0 else np.mean(np.diff(x)),
                  lambda x: 0.0 if x.size == 0 else x[0]]
    spike_times_list = [upward_crossings(trace, t) for trace in out_traces]
    assert spike_times_list[0].size >= 1
    inferencer = Inferencer(dt=TUT_DT, model=eqs,
                            input={"I": inp_traces * amp},
                            output={"v": out_traces * mV, "spikes": spike_times_list},
                            features={"v": v_features, "spikes": s_features},
                            method="exponential_euler",
                            threshold="m > 0.5",
                            refractory="m > 0.5",
                            param_init=INIT_CONDS)
    first = inferencer.infer(n_samples=30, n_rounds=1, inference_method="SNPE",
                             density_estimator_model="maf", train_kwargs=FAST, **bounds)
    again = inferencer.infer(n_samples=30, n_rounds=2, inference_method="SNPE",
                             density_estimator_model="maf", restart=True, train_kwargs=FAST,
                             **bounds)
    assert again is not first and len(inferencer.rounds) == 2  # restart forgot round 1
    assert inferencer.sample((200,)).shape == (200, 4)
    fig, ax = inferencer.pairplot(limits=bounds, labels={"g_Na": "Na", "Cm": "C"}, ticks=bounds,
                                  points=TUT_TRUTH, points_offdiag={"markersize": 5},
                                  points_colors=["C3"], figsize=(6, 6))
    assert ax.shape == (4, 4)
    inf_traces = inferencer.generate_traces(n_samples=10, output_var="v")
    assert inf_traces.shape == out_traces.shape
    both = inferencer.generate_traces(n_samples=10)
    assert set(both) == {"v", "spikes"} and len(both["spikes"]) == 1


def test_tutorial_raw_traces_and_embedding(tutorial_data):
    """Automatic feature extraction (features=None) and a custom embedding net."""
    inp_traces, out_traces, *_ = tutorial_data
    g_l, Cm = 10 * nS, 200 * pF  # noqa: N806, F841
    E_Na, E_K, E_l, VT = 53 * mV, -107 * mV, -70 * mV, -60.0 * mV  # noqa: N806, F841
    arguments = dict(dt=TUT_DT, model=TUT_EQS, input={"I": inp_traces * amp},
                     output={"v": out_traces * mV}, method="exponential_euler",
                     threshold="m > 0.5", refractory="m > 0.5", param_init=INIT_CONDS)
    inferencer = Inferencer(**arguments)
    posterior = inferencer.infer(n_samples=30, n_rounds=1, inference_method="SNPE",
                                 density_estimator_model="maf", train_kwargs=FAST, **TUT_LIMITS)
    assert posterior is inferencer.posterior
    assert inferencer.sample((50,)).shape == (50, 2)

    in_features = out_traces.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(in_features, 8), torch.nn.ReLU())
    inferencer = Inferencer(**arguments)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inferencer.infer(n_samples=30, n_rounds=1, inference_method="SNPE",
                         density_estimator_model="maf",
                         inference_kwargs={"embedding_net": net},
                         train_kwargs={"num_atoms": 10, "training_batch_size": 100,
                                       "use_combined_loss": True,
                                       "discard_prior_samples": True, **FAST},
                         sbi_device="gpu", **TUT_LIMITS)
    assert inferencer.backend.embedding_net is net
    assert inferencer.backend.last_training["num_atoms"] == 10
    if not torch.cuda.is_available():
        assert inferencer.sbi_device == "cpu"
        assert any("sbi_device" in str(w.message) for w in caught)
    fig, ax = inferencer.pairplot(limits=TUT_LIMITS, labels=TUT_LABELS, ticks=TUT_LIMITS,
                                  points={k: TUT_TRUTH[k] for k in TUT_LIMITS},
                                  points_offdiag={"markersize": 5}, points_colors=["C3"],
                                  figsize=(6, 6))
    assert ax.shape == (2, 2)
