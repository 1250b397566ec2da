"""Brian 2 units, equations and values as JSON, read back without evaluating anything."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from brian2 import Quantity
from brian2.equations.equations import (
    BOOLEAN,
    DIFFERENTIAL_EQUATION,
    INTEGER,
    SUBEXPRESSION,
)
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions, get_or_create_dimension

from ..errors import SavedFileError
from ..modelcheck import unit_code  # the one unit writer (also of the simulated inputs)
from ..problem import SPIKES, Problem


def dims_json(dim: Any) -> list[float]:
    """The 7 SI base exponents of a dimension (or of a quantity's dimension)."""
    d = get_dimensions(dim)
    return [0.0] * 7 if d is DIMENSIONLESS else [float(e) for e in d._dims]


def dims_from_json(value: Any, where: str) -> Any:
    """A Brian dimension from its 7 base exponents (validated, nothing evaluated)."""
    if (
        not isinstance(value, list)
        or len(value) != 7
        or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in value)
    ):
        raise SavedFileError(f"{where}: expected 7 unit exponents, got {value!r}")
    exps = [int(e) if float(e).is_integer() else float(e) for e in value]
    return get_or_create_dimension(exps)


def equations_text(equations: Any) -> str:
    """Model equations as text that re-parses to the same equations (unlike ``str``)."""
    lines = []
    for eq in equations.values():
        if eq.var_type == BOOLEAN:
            unit = "boolean"
        elif eq.var_type == INTEGER:
            unit = "integer"
        else:
            unit = unit_code(eq.dim)
        flags = f" ({', '.join(eq.flags)})" if eq.flags else ""
        if eq.type == DIFFERENTIAL_EQUATION:
            lines.append(f"d{eq.varname}/dt = {eq.expr} : {unit}{flags}")
        elif eq.type == SUBEXPRESSION:
            lines.append(f"{eq.varname} = {eq.expr} : {unit}{flags}")
        else:
            lines.append(f"{eq.varname} : {unit}{flags}")
    return "\n".join(lines)


def value_json(value: Any) -> dict[str, Any] | None:
    """A namespace value, ``refractory`` etc. as JSON (None if it cannot be stored)."""
    if value is None or isinstance(value, bool):
        return {"kind": "literal", "value": value}
    if isinstance(value, str):
        return {"kind": "literal", "value": value}
    if isinstance(value, Quantity) or isinstance(value, numbers.Number | np.ndarray):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            return None
        return {
            "kind": "quantity",
            "value": arr.astype(float).tolist(),
            "dims": dims_json(value),
            "integer": arr.dtype.kind in "biu" and not isinstance(value, Quantity),
        }
    return None


def value_from_json(data: Any, where: str) -> Any:
    """Inverse of :func:`value_json`."""
    if not isinstance(data, dict) or data.get("kind") not in ("literal", "quantity"):
        raise SavedFileError(f"{where}: malformed value {data!r}")
    if data["kind"] == "literal":
        value = data.get("value")
        if value is not None and not isinstance(value, bool | str):
            raise SavedFileError(f"{where}: malformed literal {value!r}")
        return value
    raw = np.asarray(data.get("value"), dtype=float)
    dim = dims_from_json(data.get("dims"), where)
    if dim is DIMENSIONLESS:
        if data.get("integer"):
            raw = raw.astype(int)
        return raw.item() if raw.ndim == 0 else raw
    return Quantity(raw, dim=dim)


def problem_meta(problem: Problem) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A problem as JSON metadata and named arrays; namespace values that JSON cannot hold
    are listed under ``namespace_not_saved``."""
    arrays: dict[str, np.ndarray] = {}
    for name, arr in problem.inputs.items():
        arrays[f"input/{name}"] = np.asarray(arr, dtype=float)
    for name in problem.trace_outputs:
        arrays[f"output/{name}"] = np.asarray(problem.outputs[name], dtype=float)
    if problem.has_spikes:
        for k, train in enumerate(problem.outputs[SPIKES]):
            arrays[f"spikes/{k}"] = np.asarray(train, dtype=float)
    namespace, skipped = {}, []
    for name, value in problem.namespace.items():
        encoded = value_json(value)
        if encoded is None:
            skipped.append(name)
        else:
            namespace[name] = encoded
    refractory = value_json(problem.refractory)
    if refractory is None:
        raise SavedFileError(f"refractory: cannot store {problem.refractory!r}")
    meta = {
        "equations": equations_text(problem.equations),
        "inputs": {k: dims_json(u) for k, u in problem.input_units.items()},
        "outputs": {k: dims_json(u) for k, u in problem.output_units.items()},
        "dt": problem.dt,
        "method": problem.method,
        "threshold": problem.threshold,
        "reset": problem.reset,
        "refractory": refractory,
        "param_init": dict(problem.param_init),
        "namespace": namespace,
        "namespace_not_saved": skipped,
        "fingerprint": problem.fingerprint(),
    }
    return meta, arrays
