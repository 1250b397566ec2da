"""The user's arrays and settings, checked and converted to plain SI floats.

Traces (``input``, ``output``) become 2-D float arrays next to their Brian 2 unit, spike trains
sorted 1-D arrays of seconds, the ``var``/``value`` forms of the fitters one dict; every
malformed value is a :class:`~brian2modelfitting_sbi.errors.ProblemError` naming the argument
(``input['I']``, ``output['spikes'][2]``, ``bounds['gL']``...), what was expected and what
was given. :class:`~brian2modelfitting_sbi.problem.Problem` and the recordings of
:meth:`Inferencer.condition <brian2modelfitting_sbi.Inferencer.condition>` share these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, get_unit, second
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from .errors import ProblemError

__all__ = [
    "as_spike_trains",
    "as_trace_array",
    "check_settings",
    "dimensions_of",
    "float_array",
    "normalize_io",
    "short_repr",
]


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to fit an error message."""
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def as_trace_array(name: str, value: Any) -> tuple[np.ndarray, Any]:
    """Return (2-D float array in SI units, Brian unit) for an input or output argument."""
    if isinstance(value, str | bytes) or value is None or isinstance(value, Mapping):
        raise ProblemError(
            f"{name}: expected a 2-D array (n_traces, n_steps) with units, got {short_repr(value)}"
        )
    if isinstance(value, Sequence) and not isinstance(value, Quantity):
        if len(value) == 0:
            raise ProblemError(
                f"{name}: expected a 2-D array (n_traces, n_steps), got an empty list"
            )
        dims = {dimensions_of(f"{name}[{k}]", v) for k, v in enumerate(value)}
        if len(dims) > 1:
            raise ProblemError(f"{name}: all traces must have the same units, got {dims}")
        lengths = {np.shape(v) for v in value}
        if len(lengths) > 1:
            raise ProblemError(
                f"{name}: all traces must have the same length, got shapes {lengths}"
            )
        value = Quantity(float_array(name, [np.asarray(v) for v in value]), dim=dims.pop())
    arr = float_array(name, value)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ProblemError(
            f"{name}: expected a 2-D array (n_traces, n_steps) with at least 2 steps, "
            f"got shape {np.shape(value)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ProblemError(f"{name}: contains NaN or infinite values")
    return arr, get_unit(get_dimensions(value))


def dimensions_of(where: str, value: Any) -> Any:
    """Brian dimensions of ``value`` (lists of quantities too), or a ProblemError naming ``where``.

    ``brian2.get_dimensions`` raises ``TypeError`` for lists, None, strings and other objects;
    here those become one clear message.
    """
    if isinstance(value, str | bytes) or value is None:
        raise ProblemError(
            f"{where}: expected a number or array with units, got {short_repr(value)}"
        )
    try:
        return get_dimensions(value)
    except (TypeError, AttributeError):
        pass
    try:
        return get_dimensions(Quantity(value))
    except Exception:  # Brian raises several types for mixed or non-numeric data
        raise ProblemError(
            f"{where}: expected a number or array with units, got {short_repr(value)}"
        ) from None


def float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array, or a ProblemError naming ``name`` (strings, objects...)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"{name}: expected numbers, got {short_repr(value)} ({exc})") from None
    return arr


def as_spike_trains(
    name: str, value: Any, n_traces: int, duration: float | None = None
) -> list[np.ndarray]:
    """One sorted float array of spike times (seconds) per trace, checked: 1-D, finite and,
    if ``duration`` (seconds) is given, within the recording."""
    if isinstance(value, Quantity | np.ndarray) and np.ndim(value) == 1 and n_traces == 1:
        value = [value]
    if not isinstance(value, Sequence | np.ndarray) or len(value) != n_traces:
        raise ProblemError(
            f"{name}: expected a list of {n_traces} arrays of spike times (one per input trace), "
            f"got {short_repr(value)}"
        )
    trains = []
    for k, train in enumerate(value):
        dim = dimensions_of(f"{name}[{k}]", train)
        if dim is not DIMENSIONLESS and dim != second.dim:
            raise ProblemError(f"{name}[{k}]: spike times must be in seconds, got units {dim}")
        times = float_array(f"{name}[{k}]", train)
        if times.ndim > 1:
            raise ProblemError(
                f"{name}[{k}]: expected a 1-D array of spike times, got shape {times.shape}"
            )
        times = np.sort(times.ravel())
        if not np.all(np.isfinite(times)):
            raise ProblemError(f"{name}[{k}]: spike times contain NaN or infinite values")
        end = np.inf if duration is None else duration
        if len(times) and (times[0] < 0 or times[-1] > end):
            raise ProblemError(
                f"{name}[{k}]: spike times must lie within the recording, 0 s to {duration} s "
                f"(n_steps * dt), got times from {times[0]} s to {times[-1]} s; times past the end "
                f"usually mean that dt is not the sampling step of the recordings (a wrong dt "
                f"gives a confidently wrong posterior)"
            )
        trains.append(times)
    return trains


def normalize_io(kind: str, var: Any, value: Any) -> dict[str, Any]:
    """Accept ``var='I', value=array``, ``value={'I': array}`` or lists of both."""
    if var is not None and not isinstance(var, str):
        if not isinstance(var, Sequence) or not var or not all(isinstance(v, str) for v in var):
            raise ProblemError(
                f"{kind}_var: expected a variable name or a list of names, got {short_repr(var)}"
            )
    if isinstance(value, Mapping) and not all(isinstance(k, str) for k in value):
        raise ProblemError(
            f"{kind}: the keys of a dict must be variable names, got {short_repr(value)}"
        )
    if isinstance(value, Mapping) and not value:
        raise ProblemError(f"{kind}: got an empty dict")
    if isinstance(value, Mapping):
        if var is not None and set([var] if isinstance(var, str) else var) != set(value):
            raise ProblemError(
                f"{kind}_var: {short_repr(var)} does not match the keys of {kind} {sorted(value)}"
            )
        return dict(value)
    if var is None:
        raise ProblemError(
            f"{kind}_var: required when {kind} is not a dict (e.g. {kind}_var='I' or "
            f"{kind}={{'I': array}})"
        )
    if isinstance(var, str):
        return {var: value}
    var = list(var)
    if not isinstance(value, Sequence) or len(value) != len(var):
        raise ProblemError(
            f"{kind}: with {kind}_var={var!r}, expected a list of {len(var)} entries, "
            f"got {short_repr(value)}"
        )
    return dict(zip(var, value, strict=True))


def check_settings(
    *,
    dt: Any,
    method: Any,
    threshold: Any,
    reset: Any,
    refractory: Any,
    param_init: Any,
    namespace: Any,
) -> None:
    """Types and ranges of the simulation settings of the fitters' arguments (a
    :class:`~brian2modelfitting_sbi.errors.ProblemError` naming the first one at fault)."""
    if dt is None:
        raise ProblemError("dt: required (e.g. dt=0.1*ms)")
    if (
        isinstance(dt, str | bytes)
        or dimensions_of("dt", dt) != get_dimensions(second)
        or np.ndim(dt) != 0
    ):
        raise ProblemError(f"dt: expected a time in seconds (e.g. 0.1*ms), got {short_repr(dt)}")
    if not float(dt) > 0 or not np.isfinite(float(dt)):
        raise ProblemError(f"dt: must be > 0 and finite, got {dt}")
    for arg, code in (("method", method), ("threshold", threshold), ("reset", reset)):
        if code is not None and (not isinstance(code, str) or not code.strip()):
            raise ProblemError(
                f"{arg}: expected a non-empty string or None, got {short_repr(code)}"
            )
    if not (
        isinstance(refractory, bool | str)
        or refractory is None
        or (isinstance(refractory, Quantity) and np.ndim(refractory) == 0)
    ):
        raise ProblemError(
            f"refractory: expected False, a time (e.g. 2*ms) or a condition string, "
            f"got {short_repr(refractory)}"
        )
    if isinstance(refractory, Quantity) and not (
        get_dimensions(refractory) == second.dim and 0 <= float(refractory) < np.inf
    ):
        raise ProblemError(
            f"refractory: expected a finite time >= 0, got {short_repr(refractory)}"
        )
    if param_init is not None and not isinstance(param_init, Mapping):
        raise ProblemError(
            f"param_init: expected a dict of initial values (e.g. {{'v': -70*mV}}), "
            f"got {short_repr(param_init)}"
        )
    if namespace is not None and not isinstance(namespace, Mapping):
        raise ProblemError(f"namespace: expected a dict, got {short_repr(namespace)}")
