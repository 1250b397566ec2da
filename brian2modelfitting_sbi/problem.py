"""Validation of the fitter-style arguments into one plain, picklable description.

Everything a worker process needs to rebuild the simulation lives in :class:`Problem`:
equations (a picklable Brian 2 ``Equations``), input and observed output arrays as plain
floats in SI units next to their Brian 2 units, dt, integration method,
threshold/reset/refractory and the external namespace. Every user mistake is caught here,
before anything is simulated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import Equations, Quantity, get_unit, second
from brian2.core.namespace import (
    DEFAULT_CONSTANTS,
    DEFAULT_FUNCTIONS,
    DEFAULT_UNITS,
    get_local_namespace,
)
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions
from brian2.utils.stringtools import get_identifiers

from .errors import ProblemError
from .modelcheck import check_model

SPIKES = "spikes"
#: Names that Brian 2 provides inside every NeuronGroup.
_BRIAN_INTERNALS = {"t", "dt", "i", "N", "xi", "t_in_timesteps", "lastspike", "not_refractory"}


__all__ = ["SPIKES", "Problem", "ProblemError", "dimensions_of"]


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _as_trace_array(name: str, value: Any) -> tuple[np.ndarray, Any]:
    """Return (2-D float array in SI units, Brian unit) for an input or output argument."""
    if isinstance(value, str | bytes) or value is None or isinstance(value, Mapping):
        raise ProblemError(
            f"{name}: expected a 2-D array (n_traces, n_steps) with units, got {_fmt(value)}"
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
        value = Quantity(_float_array(name, [np.asarray(v) for v in value]), dim=dims.pop())
    arr = _float_array(name, value)
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
        raise ProblemError(f"{where}: expected a number or array with units, got {_fmt(value)}")
    try:
        return get_dimensions(value)
    except (TypeError, AttributeError):
        pass
    try:
        return get_dimensions(Quantity(value))
    except Exception:  # Brian raises several types for mixed or non-numeric data
        raise ProblemError(
            f"{where}: expected a number or array with units, got {_fmt(value)}"
        ) from None


def _float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array, or a ProblemError naming ``name`` (strings, objects...)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"{name}: expected numbers, got {_fmt(value)} ({exc})") from None
    return arr


def _as_spike_trains(
    name: str, value: Any, n_traces: int, duration: float | None = None
) -> list[np.ndarray]:
    if isinstance(value, Quantity | np.ndarray) and np.ndim(value) == 1 and n_traces == 1:
        value = [value]
    if not isinstance(value, Sequence | np.ndarray) or len(value) != n_traces:
        raise ProblemError(
            f"{name}: expected a list of {n_traces} arrays of spike times (one per input trace), "
            f"got {_fmt(value)}"
        )
    trains = []
    for k, train in enumerate(value):
        dim = dimensions_of(f"{name}[{k}]", train)
        if dim is not DIMENSIONLESS and dim != second.dim:
            raise ProblemError(f"{name}[{k}]: spike times must be in seconds, got units {dim}")
        times = _float_array(f"{name}[{k}]", train)
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
                f"(n_steps * dt), got times from {times[0]} s to {times[-1]} s"
            )
        trains.append(times)
    return trains


def _normalize_io(kind: str, var: Any, value: Any) -> dict[str, Any]:
    """Accept ``var='I', value=array``, ``value={'I': array}`` or lists of both."""
    if var is not None and not isinstance(var, str):
        if not isinstance(var, Sequence) or not var or not all(isinstance(v, str) for v in var):
            raise ProblemError(
                f"{kind}_var: expected a variable name or a list of names, got {_fmt(var)}"
            )
    if isinstance(value, Mapping) and not all(isinstance(k, str) for k in value):
        raise ProblemError(f"{kind}: the keys of a dict must be variable names, got {_fmt(value)}")
    if isinstance(value, Mapping) and not value:
        raise ProblemError(f"{kind}: got an empty dict")
    if isinstance(value, Mapping):
        if var is not None and set([var] if isinstance(var, str) else var) != set(value):
            raise ProblemError(
                f"{kind}_var: {_fmt(var)} does not match the keys of {kind} {sorted(value)}"
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
            f"got {_fmt(value)}"
        )
    return dict(zip(var, value, strict=True))


@dataclass(frozen=True)
class Problem:
    """A validated inference problem: model, stimuli, recordings and simulation settings.

    Build it with :meth:`from_arguments`; the fields are plain data (floats in SI units with
    their Brian 2 units next to them) so that the object pickles cheaply to worker processes.
    """

    equations: Equations
    inputs: dict[str, np.ndarray]
    input_units: dict[str, Any]
    outputs: dict[str, Any]
    output_units: dict[str, Any]
    dt: float
    method: str | None
    threshold: str | None
    reset: str | None
    refractory: Any
    param_init: dict[str, float]
    namespace: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ properties
    @property
    def model(self) -> str:
        """The model equations as text (for display and fingerprints)."""
        return str(self.equations)

    @property
    def n_traces(self) -> int:
        """Number of input traces (stimuli), i.e. recordings per parameter set."""
        return next(iter(self.inputs.values())).shape[0]

    @property
    def n_steps(self) -> int:
        """Number of time steps of each trace."""
        return next(iter(self.inputs.values())).shape[1]

    @property
    def duration(self) -> float:
        """Simulated duration in seconds."""
        return self.n_steps * self.dt

    @property
    def trace_outputs(self) -> list[str]:
        """Names of the observed state variables (everything but ``'spikes'``)."""
        return [name for name in self.outputs if name != SPIKES]

    @property
    def has_spikes(self) -> bool:
        """Whether spike times are observed."""
        return SPIKES in self.outputs

    @property
    def parameter_names(self) -> list[str]:
        """Model parameters that can be inferred (declared parameters not set by param_init)."""
        eqs = self.equations
        return sorted(set(eqs.parameter_names) - set(self.param_init))

    def parameter_unit(self, name: str) -> Any:
        """Brian 2 unit of a model parameter."""
        return get_unit(self.equations[name].dim)

    def fingerprint(self) -> str:
        """A hash of everything that determines the simulations (for stores and saved files)."""
        h = hashlib.sha256()
        meta = {
            "model": self.model,
            "dt": self.dt,
            "method": self.method,
            "threshold": self.threshold,
            "reset": self.reset,
            "refractory": repr(self.refractory),
            "param_init": self.param_init,
            "namespace": {k: repr(v) for k, v in sorted(self.namespace.items())},
            "input_units": {k: repr(v) for k, v in self.input_units.items()},
            "output_units": {k: repr(v) for k, v in self.output_units.items()},
        }
        h.update(json.dumps(meta, sort_keys=True).encode())
        for name in sorted(self.inputs):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.inputs[name]).tobytes())
        for name in sorted(self.outputs):
            h.update(name.encode())
            value = self.outputs[name]
            for arr in value if name == SPIKES else [value]:
                h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arguments(
        cls,
        model: str | Equations,
        *,
        input_var: str | Sequence[str] | None = None,
        input: Any = None,  # noqa: A002 - the fitters' name
        output_var: str | Sequence[str] | None = None,
        output: Any = None,
        dt: Quantity | None = None,
        method: str | None = None,
        threshold: str | None = None,
        reset: str | None = None,
        refractory: Any = False,
        param_init: Mapping[str, Quantity] | None = None,
        namespace: Mapping[str, Any] | None = None,
        level: int = 0,
    ) -> Problem:
        """Validate the fitters' arguments and build a :class:`Problem`.

        ``level`` is how many frames above the caller the user's namespace lives (used to
        capture constants such as ``EL`` that the equations refer to).
        """
        if isinstance(model, str):
            try:
                eqs = Equations(model)
            except Exception as exc:  # Brian's parse errors come in many types
                raise ProblemError(f"model: could not parse the equations: {exc}") from exc
        elif isinstance(model, Equations):
            eqs = model
        else:
            raise ProblemError(f"model: expected a string or brian2.Equations, got {_fmt(model)}")
        if dt is None:
            raise ProblemError("dt: required (e.g. dt=0.1*ms)")
        if (
            isinstance(dt, str | bytes)
            or dimensions_of("dt", dt) != get_dimensions(second)
            or np.ndim(dt) != 0
        ):
            raise ProblemError(f"dt: expected a time in seconds (e.g. 0.1*ms), got {_fmt(dt)}")
        if not float(dt) > 0 or not np.isfinite(float(dt)):
            raise ProblemError(f"dt: must be > 0 and finite, got {dt}")
        for arg, code in (("method", method), ("threshold", threshold), ("reset", reset)):
            if code is not None and (not isinstance(code, str) or not code.strip()):
                raise ProblemError(f"{arg}: expected a non-empty string or None, got {_fmt(code)}")
        if not (
            isinstance(refractory, bool | str)
            or refractory is None
            or (isinstance(refractory, Quantity) and np.ndim(refractory) == 0)
        ):
            raise ProblemError(
                f"refractory: expected False, a time (e.g. 2*ms) or a condition string, "
                f"got {_fmt(refractory)}"
            )
        if isinstance(refractory, Quantity) and not (
            get_dimensions(refractory) == second.dim and 0 <= float(refractory) < np.inf
        ):
            raise ProblemError(f"refractory: expected a finite time >= 0, got {_fmt(refractory)}")
        if param_init is not None and not isinstance(param_init, Mapping):
            raise ProblemError(
                f"param_init: expected a dict of initial values (e.g. {{'v': -70*mV}}), "
                f"got {_fmt(param_init)}"
            )
        if namespace is not None and not isinstance(namespace, Mapping):
            raise ProblemError(f"namespace: expected a dict, got {_fmt(namespace)}")

        # ---- inputs
        if input is None:
            raise ProblemError("input: required (2-D array n_traces x n_steps with units)")
        raw_inputs = _normalize_io("input", input_var, input)
        inputs, input_units = {}, {}
        for name, value in raw_inputs.items():
            if name in eqs.names:
                raise ProblemError(
                    f"input_var: {name!r} is defined by the model equations; an input variable "
                    f"must be an undefined name the model uses (like 'I')"
                )
            if name not in eqs.identifiers:
                raise ProblemError(
                    f"input_var: {name!r} is not used in the model; the model refers to "
                    f"{sorted(eqs.identifiers)}"
                )
            inputs[name], input_units[name] = _as_trace_array(f"input[{name!r}]", value)
        shapes = {arr.shape for arr in inputs.values()}
        if len(shapes) > 1:
            raise ProblemError(f"input: all input variables must have the same shape, got {shapes}")
        n_traces, n_steps = shapes.pop()

        # ---- outputs
        if output is None:
            raise ProblemError("output: required (recorded traces, or spike times)")
        raw_outputs = _normalize_io("output", output_var, output)
        outputs, output_units = {}, {}
        for name, value in raw_outputs.items():
            if name == SPIKES:
                if threshold is None:
                    raise ProblemError(
                        "threshold: required when spikes are observed (output_var='spikes')"
                    )
                outputs[name] = _as_spike_trains(
                    "output['spikes']", value, n_traces, n_steps * float(dt)
                )
                output_units[name] = second
                continue
            if name not in eqs.names:
                raise ProblemError(
                    f"output_var: {name!r} is not a variable of the model; model variables are "
                    f"{sorted(eqs.names)} (or 'spikes')"
                )
            arr, unit = _as_trace_array(f"output[{name!r}]", value)
            if arr.shape != (n_traces, n_steps):
                raise ProblemError(
                    f"output[{name!r}]: expected shape {(n_traces, n_steps)} to match input, "
                    f"got {arr.shape}"
                )
            if get_dimensions(unit) != eqs[name].dim:
                raise ProblemError(
                    f"output[{name!r}]: expected units of {get_unit(eqs[name].dim)!r}, got {unit!r}"
                )
            outputs[name], output_units[name] = arr, get_unit(eqs[name].dim)

        # ---- initial values
        init = {}
        for name, value in (param_init or {}).items():
            if name not in eqs.names:
                raise ProblemError(
                    f"param_init: {name!r} is not a variable of the model ({sorted(eqs.names)})"
                )
            if dimensions_of(f"param_init[{name!r}]", value) != eqs[name].dim:
                raise ProblemError(
                    f"param_init[{name!r}]: expected units of {get_unit(eqs[name].dim)!r}, "
                    f"got {_fmt(value)}"
                )
            if np.ndim(value) != 0 or not np.isfinite(float(value)):
                raise ProblemError(
                    f"param_init[{name!r}]: expected one finite value, got {_fmt(value)}"
                )
            init[name] = float(value)

        # ---- namespace: capture the constants the model refers to
        external = set(eqs.identifiers)
        for code in (threshold, reset):
            if isinstance(code, str):
                external |= get_identifiers(code)
        if isinstance(refractory, str):
            external |= get_identifiers(refractory)
        external -= set(eqs.names) | set(inputs) | _BRIAN_INTERNALS | set(eqs.stochastic_variables)
        local = dict(namespace) if namespace is not None else get_local_namespace(level + 1)
        resolved, missing = {}, []
        for name in sorted(external):
            if name in local:
                resolved[name] = local[name]
            elif not (
                name in DEFAULT_UNITS or name in DEFAULT_FUNCTIONS or name in DEFAULT_CONSTANTS
            ):
                missing.append(name)
        if missing:
            raise ProblemError(
                f"model: the names {missing} are neither defined in the equations, nor inputs, "
                f"nor found in the caller's namespace; define them before creating the "
                f"Inferencer or pass namespace={{...}}"
            )
        # ---- the model strings and the inputs' units, checked by Brian 2 itself
        check_model(
            eqs,
            input_units,
            resolved,
            float(dt),
            method=method,
            threshold=threshold,
            reset=reset,
            refractory=refractory,
        )
        return cls(
            equations=eqs,
            inputs=inputs,
            input_units=input_units,
            outputs=outputs,
            output_units=output_units,
            dt=float(dt),
            method=method,
            threshold=threshold,
            reset=reset,
            refractory=refractory,
            param_init=init,
            namespace=resolved,
        )
