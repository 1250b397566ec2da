"""Shared by the simulation benchmarks: a Hodgkin–Huxley problem and a handful of features.

Not a benchmark itself. The model is the Traub–Miles type HH neuron of Brian 2's examples,
driven by one 1 s trace (a 0.8 s current step) at dt = 0.05 ms; three conductances are
inferred. The features are vectorized over all traces of a chunk.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
from brian2 import Equations, NeuronGroup, StateMonitor, TimedArray, ms, mV, nA, prefs, second

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brian2modelfitting_sbi.features import FeatureProvider  # noqa: E402
from brian2modelfitting_sbi.problem import Problem  # noqa: E402
from brian2modelfitting_sbi.simulation import Recording  # noqa: E402

DT = 0.05 * ms
DURATION = 1 * second
HH_EQS = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*4*mV/exprel((13.*mV-v+VT)/(4*mV))/ms*(1-m)-0.28*(mV**-1)*5*mV/exprel((v-VT-40.*mV)/(5*mV))/ms*m : 1
dn/dt = 0.032*(mV**-1)*5*mV/exprel((15.*mV-v+VT)/(5*mV))/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
gl : siemens (constant)
g_na : siemens (constant)
g_kd : siemens (constant)
"""  # noqa: E501
NAMES = ("g_kd", "g_na", "gl")
#: Prior box (SI): g_kd, g_na, gl around the example's 6 uS, 20 uS, 10 nS.
LOW = np.array([1e-6, 5e-6, 2e-9])
HIGH = np.array([15e-6, 40e-6, 20e-9])


def namespace() -> dict:
    """Constants of the model, in Brian units."""
    from brian2 import cm, ufarad, umetre

    area = 20000 * umetre**2
    return {
        "Cm": 1 * ufarad * cm**-2 * area,
        "El": -65 * mV,
        "EK": -90 * mV,
        "ENa": 50 * mV,
        "VT": -63 * mV,
    }


def current() -> np.ndarray:
    """One 1 s input trace: 0.5 nA from 100 ms to 900 ms (Quantity, amp)."""
    n_steps = int(round(float(DURATION / DT)))
    values = np.zeros((1, n_steps))
    values[0, int(0.1 * n_steps) : int(0.9 * n_steps)] = 0.5
    return values * nA


def problem() -> Problem:
    """The HH problem (observed output: a placeholder, the benchmarks only simulate)."""
    inp = current()
    return Problem.from_arguments(
        HH_EQS,
        input_var="I",
        input=inp,
        output_var="v",
        output=np.full(inp.shape, -65.0) * mV,
        dt=DT,
        method="exponential_euler",
        threshold="v > -20*mV",
        refractory="v > -20*mV",
        param_init={"v": -65 * mV},
        namespace=namespace(),
    )


class HandfulOfFeatures(FeatureProvider):
    """Mean, std, max, min of v and the number of upward crossings of 0 mV, per trace.

    Computed over blocks of time steps, so that temporaries stay small and in cache (the
    traces of a chunk are a time-major view of the monitor's memory).
    """

    block = 256

    def recording(self) -> Recording:
        return Recording(("v",))

    def names(self, n_traces: int) -> list[str]:
        return [f"v.{f}[{k}]" for f in ("mean", "std", "max", "min", "spikes") for k in
                range(n_traces)]  # fmt: skip

    def compute(self, result) -> np.ndarray:
        v = result.traces["v"]  # (n, k, t)
        n, k, t = v.shape
        rows = v.reshape(n * k, t)
        shift = rows[:, 0].copy()  # centre the sums: no cancellation in the variance
        total = np.zeros(n * k)
        squares = np.zeros(n * k)
        high = np.full(n * k, -np.inf)
        low = np.full(n * k, np.inf)
        spikes = np.zeros(n * k)
        previous = rows[:, 0] > 0.0
        for a in range(0, t, self.block):
            x = rows[:, a : a + self.block] - shift[:, None]
            total += x.sum(axis=1)
            squares += np.einsum("ij,ij->i", x, x)
            np.maximum(high, x.max(axis=1), out=high)
            np.minimum(low, x.min(axis=1), out=low)
            above = x > -shift[:, None]
            spikes += np.count_nonzero(above[:, 1:] & ~above[:, :-1], axis=1)
            spikes += above[:, 0] & ~previous
            previous = above[:, -1]
        mean = total / t
        std = np.sqrt(np.maximum(squares / t - mean**2, 0.0))
        feats = [mean + shift, std, high + shift, low + shift, spikes]
        return np.stack([f.reshape(n, k) for f in feats], axis=1).reshape(n, -1)


def library_features() -> FeatureProvider:
    """The same handful of features from the package's electrophysiology library."""
    from brian2modelfitting_sbi.features.library import EphysFeatures

    provider = EphysFeatures(["mean", "std", "max", "min", "spike_count"], threshold=0 * mV)
    return provider.bind(problem())


def draw(n: int, seed: int = 0) -> np.ndarray:
    """``n`` parameter sets from the prior box."""
    return LOW + np.random.default_rng(seed).random((n, len(NAMES))) * (HIGH - LOW)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (C++ standalone binaries)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Timer:
    """Wall-clock and CPU seconds of a block (CPU time is robust to other processes' load)."""

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = _cpu_seconds() - self.cpu0


def plain_brian_run(theta: np.ndarray, record: bool = True) -> Timer:
    """Time for the same N neurons in one plain Brian 2 network (build + run)."""
    from brian2 import Network

    timer = Timer().__enter__()
    inp = TimedArray(current().T, dt=DT)
    eqs = Equations(HH_EQS) + Equations("I = inp(t, 0) : amp")
    ns = namespace() | {"inp": inp}
    group = NeuronGroup(
        len(theta), eqs, method="exponential_euler", threshold="v > -20*mV",
        refractory="v > -20*mV", dt=DT, namespace=ns,
    )  # fmt: skip
    group.v = -65 * mV
    for j, name in enumerate(NAMES):
        setattr(group, f"{name}_", theta[:, j])
    objects = [group]
    if record:
        objects.append(StateMonitor(group, "v", record=True))
    net = Network(*objects)
    net.run(DURATION, namespace=ns)
    if record:
        v = objects[1].v_  # touch the data, as a user would
        assert v.shape == (len(theta), int(round(float(DURATION / DT))))
    timer.__exit__()
    return timer


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def use_cython() -> None:
    """Brian's compiled runtime target, as for real runs."""
    prefs.codegen.target = "cython"
