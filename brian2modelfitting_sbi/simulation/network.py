"""One Brian 2 network per process, built once and reused for every chunk of parameter sets.

A chunk of ``m`` parameter sets is simulated as a single ``NeuronGroup`` of
``chunk_size × n_traces`` neurons: neuron ``k`` runs parameter set ``k // n_traces`` with
stimulus ``k % n_traces`` (read from a ``TimedArray``). On the runtime device the network is
stored right after it is built and each chunk restores it, sets the parameter values and runs;
the monitors' memory is reserved once for a whole run, so that recording a chunk never
reallocates nor copies its traces. A last, smaller chunk is padded so that the compiled code is
reused as is. The C++ standalone variant lives in :mod:`.standalone`.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    Quantity,
    SpikeMonitor,
    StateMonitor,
    TimedArray,
    get_device,
    get_unit,
    prefs,
    second,
    set_device,
)
from brian2 import seed as brian_seed
from brian2.devices.device import RuntimeDevice, reset_device
from brian2.units.fundamentalunits import DIMENSIONLESS

from .._heap import frozen_heap
from ..errors import ProblemError
from ..modelcheck import parse_equations, unit_code
from ..problem import Problem
from .noise import NoisePlan, fill_noise, noise_entropy, plan_noise
from .result import SimulationResult

_N_TRACES = "sbi_n_traces"
#: Names of the Brian devices a simulation can run on.
DEVICES = ("runtime", "cpp_standalone")


@dataclass(frozen=True)
class Recording:
    """What a simulation records for the features.

    Attributes
    ----------
    variables : tuple of str
        State variables recorded as traces (none: no ``StateMonitor`` at all).
    spikes : bool
        Whether spike times are recorded.
    dt : float, optional
        Recording step in seconds, a multiple of the simulation's dt; None records every step.
        A provider that asks for a coarser step receives simulated traces at that step, but the
        observed recordings at their own dt, and must handle both.
    """

    variables: tuple[str, ...] = ()
    spikes: bool = False
    dt: float | None = None

    def step_ratio(self, dt: float) -> int:
        """Simulation steps per recorded sample (1 when ``self.dt`` is None)."""
        if self.dt is None:
            return 1
        ratio = self.dt / dt
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"recording dt: expected a multiple of the simulation dt ({dt} s), got {self.dt} s"
            )
        return int(round(ratio))

    @classmethod
    def merge(cls, recordings: Iterable[Recording]) -> Recording:
        """One recording that serves all ``recordings`` (the finest dt when they differ)."""
        recs = list(recordings)
        variables = tuple(dict.fromkeys(v for r in recs for v in r.variables))
        steps = {r.dt for r in recs if r.variables}
        dt = steps.pop() if len(steps) == 1 else None
        return cls(variables, any(r.spikes for r in recs), dt)


@contextlib.contextmanager
def codegen_target(target: str | None) -> Iterator[None]:
    """Use Brian 2 code generation ``target`` inside the block (unchanged if None)."""
    if target is None:
        yield
        return
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = old


def resolve_device(standalone: bool | None) -> str:
    """``'cpp_standalone'`` or ``'runtime'``; None follows Brian's ``set_device`` choice.

    Like brian2modelfitting's fitters, a script that called ``set_device('cpp_standalone')``
    simulates on the standalone device.
    """
    if standalone is None:
        return "runtime" if isinstance(get_device(), RuntimeDevice) else "cpp_standalone"
    if not isinstance(standalone, bool):
        raise ProblemError(f"standalone: expected True, False or None, got {standalone!r}")
    return "cpp_standalone" if standalone else "runtime"


@contextlib.contextmanager
def runtime_device() -> Iterator[None]:
    """Run the block on Brian's runtime device, whatever device the user selected."""
    if isinstance(get_device(), RuntimeDevice):
        yield
        return
    set_device("runtime")
    try:
        yield
    finally:
        reset_device()


@dataclass
class NetworkParts:
    """The Brian objects of a chunk simulation, before they are put in a ``Network``."""

    group: NeuronGroup
    namespace: dict[str, Any]
    state_monitor: StateMonitor | None
    spike_monitor: SpikeMonitor | None
    noise: list[TimedArray] = field(default_factory=list)

    @property
    def objects(self) -> list[Any]:
        """Everything the network must contain."""
        monitors = [m for m in (self.state_monitor, self.spike_monitor) if m is not None]
        return [self.group, *monitors]  # the network adds the group's own objects itself


def set_initial_values(group: NeuronGroup, problem: Problem, strings_only: bool = False) -> None:
    """Apply ``param_init`` in its order: numbers in SI units, strings evaluated by Brian 2.

    String expressions (``'VT'``, ``'EL + 2*mV'``, ``'1/(1 + beta_m/alpha_m)'``) are
    evaluated as in ``NeuronGroup`` (``group.v = 'VT'``), with the group's namespace and the
    values already set, so they may refer to parameters and to earlier initial values.
    """
    if not strings_only and any(isinstance(v, str) for v in problem.param_init.values()):
        # C++ standalone: apply the per-run parameter values (run_args) here, before the
        # expressions are evaluated, instead of just before the run.
        device = get_device()
        if hasattr(device, "apply_run_args") and not device.run_args_applied:
            device.apply_run_args()
    for name, value in problem.param_init.items():
        if isinstance(value, str):
            setattr(group, name, value)
        elif not strings_only:
            setattr(group, f"{name}_", value)


def build_parts(
    problem: Problem, chunk_size: int, recording: Recording, plan: NoisePlan | None
) -> NetworkParts:
    """Create the group (inputs, noise, initial values) and monitors on the current device."""
    n_traces, n_neurons = problem.n_traces, chunk_size * problem.n_traces
    eqs = plan.equations if plan is not None else problem.equations
    namespace = dict(problem.namespace)
    namespace[_N_TRACES] = n_traces
    for var, values in problem.inputs.items():
        dim = problem.input_units[var].dim
        name = f"sbi_input_{var}"
        if n_traces == 1:
            # One stimulus for all neurons: a function of t only, evaluated once per step.
            namespace[name] = TimedArray(values[0], dt=problem.dt * second, name=name)
            call = f"{name}(t)"
        else:
            namespace[name] = TimedArray(values.T, dt=problem.dt * second, name=name)
            call = f"{name}(t, i % {_N_TRACES})"
        # The TimedArray holds SI floats; restore the units in the equation.
        unit = unit_code(dim)  # parentheses-free: Brian refuses 'amp / (meter ** 2)' here
        scale = "" if dim is DIMENSIONLESS else f" * {unit}"
        eqs += parse_equations(f"{var} = {call}{scale} : {unit}")
    kwargs: dict[str, Any] = {}
    if problem.threshold is not None:
        kwargs["threshold"] = problem.threshold
    if problem.reset is not None:
        kwargs["reset"] = problem.reset
    if problem.refractory is not False and problem.refractory is not None:
        kwargs["refractory"] = problem.refractory
    method = plan.method if plan is not None else problem.method
    if method is not None:
        kwargs["method"] = method
    group = NeuronGroup(
        n_neurons, eqs, dt=problem.dt * second, namespace=namespace, name="sbi_neurons", **kwargs
    )
    set_initial_values(group, problem)
    noise = []
    if plan is not None:
        for var in plan.variables:
            name = plan.array_name(var)
            table = TimedArray(
                np.zeros((problem.n_steps, n_neurons)), dt=problem.dt * second, name=name
            )
            namespace[name] = table
            noise.append(table)
        group.run_regularly(plan.update_code, when="start", name="sbi_noise_update")
    state_monitor = spike_monitor = None
    if recording.variables:
        rec_dt = None if recording.dt is None else recording.dt * second
        state_monitor = StateMonitor(
            group, list(recording.variables), record=True, dt=rec_dt, name="sbi_traces"
        )
    if recording.spikes:
        spike_monitor = SpikeMonitor(group, record=True, name="sbi_spikes")
    return NetworkParts(group, namespace, state_monitor, spike_monitor, noise)


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

    #: Number of networks built in this process (to check reuse).
    n_builds: ClassVar[int] = 0
    device: ClassVar[str] = "runtime"

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
        self.ratio = recording.step_ratio(problem.dt)
        self.n_records = math.ceil(problem.n_steps / self.ratio)
        self.plan = plan_noise(problem)
        self._build()
        type(self).n_builds += 1

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        with runtime_device(), codegen_target(self.target):
            self.parts = build_parts(self.problem, self.chunk_size, self.recording, self.plan)
            self.network = Network(*self.parts.objects)
            self.network.store("sbi_initial")
        self._reserve_monitor()

    def _reserve_monitor(self) -> None:
        """Give the monitor's arrays their final size once, so runs never reallocate them."""
        mon = self.parts.state_monitor
        if mon is None:
            return
        n_rows = self.n_records + 1  # Brian may record one step more (rounding of t)
        for name in (*self.recording.variables, "t"):
            var = mon.variables[name]
            dyn = var.device.get_value(var, access_data=False)
            if len(dyn.shape) == 1:
                dyn.resize(n_rows)
                dyn.resize(0)
            else:
                dyn.resize((n_rows, *dyn.shape[1:]))
                dyn.resize((0, *dyn.shape[1:]))

    # ------------------------------------------------------------------ running
    def _pad(self, theta: np.ndarray) -> tuple[np.ndarray, int]:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m = len(theta)
        if m > self.chunk_size:
            raise ValueError(f"chunk of {m} parameter sets exceeds chunk_size={self.chunk_size}")
        if theta.shape[1] != len(self.parameter_names):
            raise ValueError(
                f"theta: expected {len(self.parameter_names)} columns "
                f"({self.parameter_names}), got {theta.shape[1]}"
            )
        padded = np.concatenate([theta, np.repeat(theta[:1], self.chunk_size - m, axis=0)])
        return padded, m

    def run(
        self,
        theta: np.ndarray,
        seed: int | None = None,
        *,
        start: int = 0,
        entropy: int | None = None,
        copy: bool = True,
    ) -> SimulationResult:
        """Simulate the parameter sets ``theta`` (``(m, d)`` SI floats, ``m <= chunk_size``).

        Parameters
        ----------
        theta : numpy.ndarray
            Parameter sets, columns in ``parameter_names`` order.
        seed : int, optional
            Seeds this run's random numbers: Brian's own generator (``rand()``, unsupported
            noise schemes) and, unless ``entropy`` is given, the per-sample ``xi`` noise.
        start : int
            Index of ``theta[0]`` in its round: picks the per-sample noise streams.
        entropy : int, optional
            The round's noise seed (``seed`` if None; fresh if both are None).
        copy : bool
            Return traces that own their memory. With False they are views of the monitor,
            valid until the next run (what the chunk runner uses).
        """
        padded, m = self._pad(theta)
        n_traces = self.problem.n_traces
        with runtime_device(), codegen_target(self.target):
            self.network.restore("sbi_initial")
            for j, name in enumerate(self.parameter_names):
                setattr(self.parts.group, f"{name}_", np.repeat(padded[:, j], n_traces))
            # string initial values may depend on the parameters: evaluate them again
            set_initial_values(self.parts.group, self.problem, strings_only=True)
            if self.parts.noise:
                entropy = noise_entropy(seed, entropy)
                fill_noise([t.values for t in self.parts.noise], entropy, start, m, n_traces)
            if seed is not None:
                brian_seed(seed)
            with frozen_heap():
                self.network.run(self.problem.duration * second, namespace=self.parts.namespace)
        return self._collect(m, copy)

    def _collect(self, m: int, copy: bool) -> SimulationResult:
        n_traces = self.problem.n_traces
        traces, units = {}, {}
        for var in self.recording.variables:
            values = getattr(self.parts.state_monitor, f"{var}_")  # (neurons, records)
            block = values[: m * n_traces].reshape(m, n_traces, -1)[..., : self.n_records]
            traces[var] = np.array(block) if copy else block
            units[var] = get_unit(self.parts.group.variables[var].dim)
        neuron = times = None
        if self.parts.spike_monitor is not None:
            idx = np.asarray(self.parts.spike_monitor.i_)
            keep = idx < m * n_traces
            neuron = idx[keep].astype(int)
            times = np.asarray(self.parts.spike_monitor.t_)[keep]
        return SimulationResult(
            traces,
            units,
            self.problem.dt * self.ratio,
            m,
            n_traces,
            neuron,
            times,
            {"duration": self.problem.duration},
        )

    def parameter_quantities(self, padded: np.ndarray) -> dict[str, Quantity]:
        """Per-neuron parameter values with units, for ``padded`` ``(chunk_size, d)`` theta."""
        n_traces = self.problem.n_traces
        return {
            name: Quantity(
                np.repeat(padded[:, j], n_traces), dim=self.parts.group.variables[name].dim
            )
            for j, name in enumerate(self.parameter_names)
        }


#: Serializes simulations in a process (Dask runs tasks in threads; Brian state is global).
LOCK = threading.RLock()
