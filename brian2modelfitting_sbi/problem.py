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
    get_local_namespace,
)
from brian2.units.fundamentalunits import get_dimensions
from brian2.utils.stringtools import get_identifiers

from .arguments import (
    as_spike_trains,
    as_trace_array,
    check_settings,
    dimensions_of,
    normalize_io,
    short_repr,
)
from .errors import ProblemError
from .modelcheck import check_model
from .namespace import (  # noqa: F401 - is_brian_default, stable_repr: also importable here
    check_init_expression,
    default_value,
    is_brian_default,
    stable_repr,
)

SPIKES = "spikes"
#: Names that Brian 2 provides inside every NeuronGroup.
_BRIAN_INTERNALS = {"t", "dt", "i", "N", "xi", "t_in_timesteps", "lastspike", "not_refractory"}


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
    param_init: dict[str, float | str]
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
            "namespace": {k: stable_repr(v) for k, v in sorted(self.namespace.items())},
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
        param_init: Mapping[str, Quantity | str] | None = None,
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
            raise ProblemError(
                f"model: expected a string or brian2.Equations, got {short_repr(model)}"
            )
        check_settings(
            dt=dt, method=method, threshold=threshold, reset=reset, refractory=refractory,
            param_init=param_init, namespace=namespace,
        )

        # ---- inputs
        if input is None:
            raise ProblemError("input: required (2-D array n_traces x n_steps with units)")
        raw_inputs = normalize_io("input", input_var, input)
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
            inputs[name], input_units[name] = as_trace_array(f"input[{name!r}]", value)
        shapes = {arr.shape for arr in inputs.values()}
        if len(shapes) > 1:
            raise ProblemError(f"input: all input variables must have the same shape, got {shapes}")
        n_traces, n_steps = shapes.pop()

        # ---- outputs
        if output is None:
            raise ProblemError("output: required (recorded traces, or spike times)")
        raw_outputs = normalize_io("output", output_var, output)
        outputs, output_units = {}, {}
        for name, value in raw_outputs.items():
            if name == SPIKES:
                if threshold is None:
                    raise ProblemError(
                        "threshold: required when spikes are observed (output_var='spikes')"
                    )
                outputs[name] = as_spike_trains(
                    "output['spikes']", value, n_traces, n_steps * float(dt)
                )
                output_units[name] = second
                continue
            if name not in eqs.names:
                raise ProblemError(
                    f"output_var: {name!r} is not a variable of the model; model variables are "
                    f"{sorted(eqs.names)} (or 'spikes')"
                )
            arr, unit = as_trace_array(f"output[{name!r}]", value)
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

        # ---- initial values (string expressions are checked with the namespace below)
        local = dict(namespace) if namespace is not None else get_local_namespace(level + 1)
        init: dict[str, float | str] = {}
        init_names: set[str] = set()
        for name, value in (param_init or {}).items():
            if name not in eqs.names:
                raise ProblemError(
                    f"param_init: {name!r} is not a variable of the model ({sorted(eqs.names)})"
                )
            if isinstance(value, str):
                init_names |= check_init_expression(name, value, eqs, input_units, local)
                init[name] = value
                continue
            if dimensions_of(f"param_init[{name!r}]", value) != eqs[name].dim:
                raise ProblemError(
                    f"param_init[{name!r}]: expected units of {get_unit(eqs[name].dim)!r}, "
                    f"got {short_repr(value)}"
                )
            if np.ndim(value) != 0 or not np.isfinite(float(value)):
                raise ProblemError(
                    f"param_init[{name!r}]: expected one finite value, got {short_repr(value)}"
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
        external |= init_names
        resolved, missing = {}, []
        for name in sorted(external):
            if name in local and not is_brian_default(name, local[name]):
                resolved[name] = local[name]
            elif default_value(name) is None:
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
