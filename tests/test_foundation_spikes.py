"""Spike outputs in SpikeFitter conventions: a list of spike-time arrays per input trace."""

from __future__ import annotations

import numpy as np
from brian2 import Quantity, ms, mV, nA, nS, pF, second
from conftest import FAST_ESTIMATOR, FAST_TRAINING

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording

LIF = """
dv/dt = (gL*(EL - v) + I)/C : volt (unless refractory)
gL : siemens (constant)
C : farad (constant)
"""
EL = -70 * mV
VT = -50 * mV


def _lif_data():
    current = np.zeros((3, 1000))
    for k, amp in enumerate([0.3, 0.45, 0.6]):
        current[k, 100:900] = amp
    current = current * nA
    kwargs = dict(input_var="I", input=current, dt=0.1 * ms, threshold="v > VT",
                  reset="v = EL", refractory=2 * ms, param_init={"v": EL},
                  namespace={"EL": EL, "VT": VT})
    problem = Problem.from_arguments(LIF, output_var="spikes",
                                     output=[np.array([]) * second] * 3, **kwargs)
    sim = ChunkSimulator(problem, ["C", "gL"], 1, Recording((), True))
    result = sim.run(np.array([[150e-12, 10e-9]]))
    spikes = [train * second for train in result.spike_trains()[0]]
    return kwargs, spikes


def spike_count(spikes):
    return len(spikes)


def first_spike(spikes):
    return spikes[0] if len(spikes) else 0.1


def test_spike_output_inference():
    kwargs, spikes = _lif_data()
    assert all(len(tr) > 2 for tr in spikes)
    inf = Inferencer(LIF, output_var="spikes", output=spikes, **kwargs,
                     features=[spike_count, first_spike])
    assert inf.feature_names[:3] == ["spikes.spike_count[0]", "spikes.spike_count[1]",
                                     "spikes.spike_count[2]"]
    assert inf.x_o[0, :3].tolist() == [len(tr) for tr in spikes]
    inf.infer(800, seed=2, progress=False, training=FAST_TRAINING,
              estimator_options=FAST_ESTIMATOR, gL=[2 * nS, 20 * nS], C=[50 * pF, 300 * pF])
    samples = inf.sample(300, seed=1)
    assert isinstance(samples["C"], Quantity)
    # Spike counts and latencies pin down gL and C: the posterior mean lands near the truth.
    assert abs(float(np.mean(samples["gL"])) - 10e-9) < 0.15 * 18e-9
    assert abs(float(np.mean(samples["C"])) - 150e-12) < 0.15 * 250e-12


def test_trace_and_spike_outputs_together():
    kwargs, spikes = _lif_data()
    v = np.full((3, 1000), -70.0) * mV
    inf = Inferencer(LIF, output_var=["v", "spikes"], output=[v, spikes], **kwargs,
                     features={"v": [np.mean], "spikes": [spike_count]})
    assert inf.problem.trace_outputs == ["v"] and inf.problem.has_spikes
    assert inf.features.recording() == Recording(("v",), True)
    assert inf.x_o.shape == (1, 6)
