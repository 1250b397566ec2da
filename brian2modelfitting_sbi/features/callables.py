"""User functions as features: per-trace ``f(1-D array) -> float`` or vectorized ones.

Traces are passed as plain floats in SI units (volts, amperes, ...), like Brian's ``v_``
attributes. For the ``'spikes'`` output, per-trace functions receive the spike times (seconds)
of one trace. A vectorized function, marked with :func:`vectorized`, receives the whole
``(n_traces_total, n_steps)`` block and returns one value per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..problem import SPIKES
from ..simulation.network import Recording
from ..simulation.result import SimulationResult
from .base import FeatureProvider, per_trace_names


def vectorized(func: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Mark ``func`` as vectorized: it maps a 2-D array ``(rows, n_steps)`` to ``(rows,)``."""
    func.sbi_vectorized = True
    return func


def _name(func: Callable, index: int) -> str:
    name = getattr(func, "__name__", "")
    return name if name and name != "<lambda>" else f"f{index}"


class CallableFeatures(FeatureProvider):
    """Apply user functions to each trace of one output variable.

    Parameters
    ----------
    variable : str
        The output variable the functions read (``'v'``, or ``'spikes'`` for spike times).
    functions : sequence of callables
        Per-trace ``f(trace) -> float``, or vectorized ones marked with :func:`vectorized`.
    """

    def __init__(self, variable: str, functions: Sequence[Callable]) -> None:
        funcs = list(functions)
        for k, f in enumerate(funcs):
            if not callable(f):
                raise TypeError(f"features[{k}]: expected a callable, got {f!r}")
        if not funcs:
            raise ValueError("features: the list of functions is empty")
        self.variable = variable
        self.functions = funcs

    def recording(self) -> Recording:
        if self.variable == SPIKES:
            return Recording((), True)
        return Recording((self.variable,), False)

    def names(self, n_traces: int) -> list[str]:
        fnames = [_name(f, k) for k, f in enumerate(self.functions)]
        return per_trace_names(self.variable, fnames, n_traces)

    def compute(self, result: SimulationResult) -> np.ndarray:
        n, k = result.n_samples, result.n_traces
        out = np.empty((n, len(self.functions), k))
        if self.variable == SPIKES:
            trains = [tr for sample in result.spike_trains() for tr in sample]
            for j, f in enumerate(self.functions):
                out[:, j, :] = np.array([f(tr) for tr in trains], dtype=float).reshape(n, k)
        else:
            rows = result.traces[self.variable].reshape(n * k, -1)
            for j, f in enumerate(self.functions):
                if getattr(f, "sbi_vectorized", False):
                    values = np.asarray(f(rows), dtype=float)
                    if values.shape != (n * k,):
                        raise ValueError(
                            f"vectorized feature {_name(f, j)!r} returned shape {values.shape}, "
                            f"expected ({n * k},) (one value per trace)"
                        )
                else:
                    values = np.fromiter((f(r) for r in rows), dtype=float, count=n * k)
                out[:, j, :] = values.reshape(n, k)
        return out.reshape(n, -1)
