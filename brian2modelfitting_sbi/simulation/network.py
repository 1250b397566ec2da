"""One Brian 2 network per process, built once and reused for every chunk of parameter sets.

A chunk of ``m`` parameter sets is simulated as a single ``NeuronGroup`` of
``chunk_size × n_traces`` neurons: neuron ``k`` runs parameter set ``k // n_traces`` with
stimulus ``k % n_traces`` (read from a ``TimedArray``). The network is stored right after it
is built; each chunk restores it, sets the parameter values and runs. A last, smaller chunk is
padded so that the compiled code is reused as is.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from brian2 import (
    Equations,
    Network,
    NeuronGroup,
    SpikeMonitor,
    StateMonitor,
    TimedArray,
    get_unit,
    prefs,
    second,
)
from brian2 import seed as brian_seed
from brian2.units.fundamentalunits import DIMENSIONLESS

from ..problem import Problem
from .result import SimulationResult

_N_TRACES = "sbi_n_traces"


@dataclass(frozen=True)
class Recording:
    """What a simulation records: state variables (traces) and whether spikes are needed."""

    variables: tuple[str, ...] = ()
    spikes: bool = False


def _unit_code(dim) -> str:
    return "1" if dim is DIMENSIONLESS else repr(get_unit(dim))


@contextlib.contextmanager
def _codegen_target(target: str | None) -> Iterator[None]:
    if target is None:
        yield
        return
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = old


class ChunkSimulator:
    """A reusable network that simulates ``chunk_size`` parameter sets at a time.

    Parameters
    ----------
    problem : Problem
        The validated problem (model, inputs, dt, ...).
    parameter_names : sequence of str
        Columns of the ``theta`` arrays passed to :meth:`run`.
    chunk_size : int
        Number of parameter sets per run.
    recording : Recording
        Which variables (and whether spikes) to record.
    target : str, optional
        Brian 2 code generation target (``'cython'``, ``'numpy'``); Brian's preference if None.
    """

    def __init__(
        self,
        problem: Problem,
        parameter_names: Sequence[str],
        chunk_size: int,
        recording: Recording,
        target: str | None = None,
    ) -> None:
        self.problem = problem
        self.parameter_names = list(parameter_names)
        self.chunk_size = int(chunk_size)
        self.recording = recording
        self.target = target
        n_traces = problem.n_traces
        eqs = problem.equations
        namespace = dict(problem.namespace)
        namespace[_N_TRACES] = n_traces
        for var, values in problem.inputs.items():
            dim = problem.input_units[var].dim
            name = f"sbi_input_{var}"
            namespace[name] = TimedArray(values.T, dt=problem.dt * second)
            # The TimedArray holds SI floats; restore the units in the equation.
            unit = _unit_code(dim)
            scale = "" if dim is DIMENSIONLESS else f" * {unit}"
            eqs += Equations(f"{var} = {name}(t, i % {_N_TRACES}){scale} : {unit}")
        self.namespace = namespace
        kwargs = {}
        if problem.threshold is not None:
            kwargs["threshold"] = problem.threshold
        if problem.reset is not None:
            kwargs["reset"] = problem.reset
        if problem.refractory is not False and problem.refractory is not None:
            kwargs["refractory"] = problem.refractory
        if problem.method is not None:
            kwargs["method"] = problem.method
        self.group = NeuronGroup(
            self.chunk_size * n_traces,
            eqs,
            dt=problem.dt * second,
            namespace=namespace,
            name="sbi_neurons",
            **kwargs,
        )
        for name, value in problem.param_init.items():
            setattr(self.group, f"{name}_", value)
        objects = [self.group]
        self.state_monitor = self.spike_monitor = None
        if recording.variables:
            self.state_monitor = StateMonitor(
                self.group, list(recording.variables), record=True, name="sbi_traces"
            )
            objects.append(self.state_monitor)
        if recording.spikes:
            self.spike_monitor = SpikeMonitor(self.group, record=True, name="sbi_spikes")
            objects.append(self.spike_monitor)
        self.network = Network(*objects)
        self.network.store("sbi_initial")

    def run(self, theta: np.ndarray, seed: int | None = None) -> SimulationResult:
        """Simulate the parameter sets ``theta`` (``(m, d)`` SI floats, ``m <= chunk_size``)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m, n_traces = len(theta), self.problem.n_traces
        if m > self.chunk_size:
            raise ValueError(f"chunk of {m} parameter sets exceeds chunk_size={self.chunk_size}")
        padded = np.concatenate([theta, np.repeat(theta[:1], self.chunk_size - m, axis=0)])
        self.network.restore("sbi_initial")
        for j, name in enumerate(self.parameter_names):
            setattr(self.group, f"{name}_", np.repeat(padded[:, j], n_traces))
        if seed is not None:
            brian_seed(seed)
        with _codegen_target(self.target):
            self.network.run(self.problem.duration * second, namespace=self.namespace)
        traces, units = {}, {}
        for var in self.recording.variables:
            values = getattr(self.state_monitor, f"{var}_")[: m * n_traces]
            traces[var] = np.array(values).reshape(m, n_traces, -1)[..., : self.problem.n_steps]
            units[var] = get_unit(self.group.variables[var].dim)
        neuron = times = None
        if self.spike_monitor is not None:
            idx = np.asarray(self.spike_monitor.i_)
            keep = idx < m * n_traces
            neuron = idx[keep].astype(int)
            times = np.asarray(self.spike_monitor.t_)[keep]
        return SimulationResult(
            traces,
            units,
            self.problem.dt,
            m,
            n_traces,
            neuron,
            times,
            {"duration": self.problem.duration},
        )


# A small per-process cache: workers keep their compiled network across chunks and rounds.
_CACHE: OrderedDict[tuple, ChunkSimulator] = OrderedDict()
_CACHE_SIZE = 2


def get_simulator(
    problem: Problem,
    parameter_names: Sequence[str],
    chunk_size: int,
    recording: Recording,
    target: str | None = None,
) -> ChunkSimulator:
    """Return this process's simulator for these settings, building it on first use."""
    key = (problem.fingerprint(), tuple(parameter_names), chunk_size, recording, target)
    sim = _CACHE.get(key)
    if sim is None:
        sim = ChunkSimulator(problem, parameter_names, chunk_size, recording, target)
        _CACHE[key] = sim
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return sim
