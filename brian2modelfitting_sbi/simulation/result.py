"""The one data structure that simulations and observed recordings share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problem import SPIKES, Problem


@dataclass
class SimulationResult:
    """Traces and spikes of ``n_samples`` parameter sets × ``n_traces`` stimuli.

    Observed recordings are wrapped as a result with ``n_samples == 1``, so that simulated and
    observed data go through the same feature code.

    Attributes
    ----------
    traces : dict of str to numpy.ndarray
        Recorded state variables, each ``(n_samples, n_traces, n_steps)`` in SI units.
    units : dict of str to brian2 Unit
        The unit of each recorded variable.
    dt : float
        Sampling step of the traces, in seconds.
    n_samples, n_traces : int
        Number of parameter sets and of stimuli.
    spike_neuron : numpy.ndarray or None
        For each spike, the flat index ``sample * n_traces + trace`` (None if not recorded).
    spike_times : numpy.ndarray or None
        For each spike, its time in seconds.
    """

    traces: dict[str, np.ndarray]
    units: dict[str, Any]
    dt: float
    n_samples: int
    n_traces: int
    spike_neuron: np.ndarray | None = None
    spike_times: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_spikes(self) -> bool:
        """Whether spikes were recorded."""
        return self.spike_times is not None

    @property
    def n_steps(self) -> int:
        """Number of samples per trace (0 if no trace was recorded)."""
        return next(iter(self.traces.values())).shape[-1] if self.traces else 0

    @property
    def duration(self) -> float:
        """Length of the simulated period in seconds."""
        return float(self.meta.get("duration", self.n_steps * self.dt))

    def spike_counts(self) -> np.ndarray:
        """Number of spikes per ``(sample, trace)``."""
        self._require_spikes()
        n = self.n_samples * self.n_traces
        counts = np.bincount(self.spike_neuron, minlength=n)
        return counts.reshape(self.n_samples, self.n_traces)

    def spike_trains(self) -> list[list[np.ndarray]]:
        """Spike times in seconds as ``[sample][trace] -> sorted array``."""
        self._require_spikes()
        order = np.lexsort((self.spike_times, self.spike_neuron))
        neuron, times = self.spike_neuron[order], self.spike_times[order]
        bounds = np.searchsorted(neuron, np.arange(self.n_samples * self.n_traces + 1))
        flat = [times[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)]
        return [flat[s * self.n_traces : (s + 1) * self.n_traces] for s in range(self.n_samples)]

    def select(self, samples: np.ndarray) -> SimulationResult:
        """A result restricted to the given sample indices (in that order)."""
        samples = np.asarray(samples, dtype=int)
        traces = {name: arr[samples] for name, arr in self.traces.items()}
        neuron = times = None
        if self.has_spikes:
            remap = np.full(self.n_samples, -1)
            remap[samples] = np.arange(len(samples))
            src_sample = self.spike_neuron // self.n_traces
            keep = remap[src_sample] >= 0
            neuron = (
                remap[src_sample[keep]] * self.n_traces + self.spike_neuron[keep] % self.n_traces
            )
            times = self.spike_times[keep]
        return SimulationResult(
            traces, self.units, self.dt, len(samples), self.n_traces, neuron, times, dict(self.meta)
        )

    def _require_spikes(self) -> None:
        if not self.has_spikes:
            raise ValueError("spikes were not recorded for this result")

    @classmethod
    def from_observed(cls, problem: Problem) -> SimulationResult:
        """Wrap the observed recordings of ``problem`` as a one-sample result."""
        return cls.from_recordings(problem, [problem.outputs])

    @classmethod
    def from_recordings(
        cls, problem: Problem, recordings: Sequence[Mapping[str, Any]]
    ) -> SimulationResult:
        """Recordings in the problem's output format as one result, one sample per recording.

        Each recording maps every trace output to ``(n_traces, n_steps)`` SI floats and
        ``'spikes'`` (if observed) to one array of spike times per stimulus.
        """
        k = problem.n_traces
        traces = {var: np.stack([rec[var] for rec in recordings]) for var in problem.trace_outputs}
        units = {var: problem.output_units[var] for var in problem.trace_outputs}
        neuron = times = None
        if problem.has_spikes:
            trains = [(r * k + j, train) for r, rec in enumerate(recordings)
                      for j, train in enumerate(rec[SPIKES])]
            neuron = np.concatenate([np.full(len(tr), idx, dtype=int) for idx, tr in trains])
            times = np.concatenate([np.asarray(tr, dtype=float) for _, tr in trains])
        return cls(
            traces, units, problem.dt, len(recordings), k, neuron, times,
            {"duration": problem.duration},
        )
