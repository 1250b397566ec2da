"""User functions as features: per-trace ``f(1-D array) -> float`` or vectorized ones.

Traces are passed as plain floats in SI units (volts, amperes, ...), like Brian's ``v_``
attributes. For the ``'spikes'`` output, per-trace functions receive the spike times (seconds)
of one trace. A vectorized function, marked with :func:`vectorized`, receives the whole
``(n_traces_total, n_steps)`` block and returns one value per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ProblemError, UserCallableError
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


def _where(variable: str, row: int, n_traces: int) -> str:
    """``"output 'v', trace 1 of sample 0"`` for row ``row`` of the flattened traces."""
    return f"output {variable!r}, trace {row % n_traces} of sample {row // n_traces}"


def as_number(value: Any) -> float | None:
    """``value`` as a float if it is one real number (0-d or one element), else None."""
    if isinstance(value, str | bytes) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything numpy cannot read is not a number
        return None
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        return None
    return float(arr.reshape(()))


def describe(value: Any) -> str:
    """A short description of a returned value, for error messages."""
    if value is None or isinstance(value, str | bytes):
        return repr(value)[:60]
    shape = np.shape(value) if hasattr(value, "__len__") or hasattr(value, "shape") else None
    kind = type(value).__name__
    return f"a {kind} of shape {shape}" if shape not in (None, ()) else f"{kind} {value!r}"[:80]


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
                raise ProblemError(f"features[{k}]: expected a callable, got {f!r}")
        if not funcs:
            raise ProblemError("features: the list of functions is empty")
        self.variable = variable
        self.functions = funcs

    def recording(self) -> Recording:
        if self.variable == SPIKES:
            return Recording((), True)
        return Recording((self.variable,), False)

    def names(self, n_traces: int) -> list[str]:
        fnames = [_name(f, k) for k, f in enumerate(self.functions)]
        return per_trace_names(self.variable, fnames, n_traces)

    def _one(self, f: Callable, j: int, data: np.ndarray, row: int, n_traces: int) -> float:
        """``f(data)`` as a float; a failure or a non-number names the feature and the trace."""
        where = _where(self.variable, row, n_traces)
        try:
            value = f(data)
        except Exception as exc:
            raise UserCallableError(
                f"feature {_name(f, j)!r} (features[{j}]) failed on {where}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        number = as_number(value)
        if number is None:
            raise UserCallableError(
                f"feature {_name(f, j)!r} (features[{j}]) returned {describe(value)} on {where}; "
                f"a per-trace feature must return one number (mark a function of the whole "
                f"(traces, steps) block with @vectorized)"
            )
        return number

    def _block(self, f: Callable, j: int, rows: np.ndarray) -> np.ndarray:
        """A vectorized feature on all ``rows``: one number per row, checked."""
        try:
            values = f(rows)
        except Exception as exc:
            raise UserCallableError(
                f"vectorized feature {_name(f, j)!r} (features[{j}]) failed on output "
                f"{self.variable!r} (all {len(rows)} traces): {type(exc).__name__}: {exc}"
            ) from exc
        arr = None if isinstance(values, str | bytes) or values is None else np.asarray(values)
        if arr is None or arr.dtype.kind not in "biuf" or arr.shape != (len(rows),):
            raise UserCallableError(
                f"vectorized feature {_name(f, j)!r} (features[{j}]) returned "
                f"{describe(values)} on output {self.variable!r}, expected numbers of shape "
                f"({len(rows)},) (one value per trace)"
            )
        return arr.astype(float)

    def compute(self, result: SimulationResult) -> np.ndarray:
        n, k = result.n_samples, result.n_traces
        out = np.empty((n, len(self.functions), k))
        if self.variable == SPIKES:
            trains = [tr for sample in result.spike_trains() for tr in sample]
            for j, f in enumerate(self.functions):
                values = [self._one(f, j, tr, row, k) for row, tr in enumerate(trains)]
                out[:, j, :] = np.array(values, dtype=float).reshape(n, k)
        else:
            rows = result.traces[self.variable].reshape(n * k, -1)
            for j, f in enumerate(self.functions):
                if getattr(f, "sbi_vectorized", False):
                    values = self._block(f, j, rows)
                else:
                    values = np.fromiter(
                        (self._one(f, j, r, row, k) for row, r in enumerate(rows)),
                        dtype=float,
                        count=n * k,
                    )
                out[:, j, :] = values.reshape(n, k)
        return out.reshape(n, -1)
