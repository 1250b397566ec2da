"""The names a model uses: Brian 2's own, the caller's, and string initial values.

Scripts start with ``from brian2 import *``, so the caller's namespace holds Brian 2's own
functions, units and constants (``exp``, ``mV``, ``pi``): :func:`is_brian_default` tells them
apart from the model's real external constants, which are captured. :func:`stable_repr`
describes a captured value the same way in every process (no memory address), for
:meth:`Problem.fingerprint <brian2modelfitting_sbi.problem.Problem.fingerprint>`.
:func:`check_init_expression` checks a string initial value (``param_init={'v': 'VT'}``)
before anything runs.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

import brian2
import numpy as np
from brian2 import Equations, Quantity, TimedArray, get_unit, second
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS, DEFAULT_UNITS
from brian2.parsing.expressions import parse_expression_dimensions
from brian2.units.fundamentalunits import get_dimensions
from brian2.utils.stringtools import get_identifiers

from .errors import ProblemError

__all__ = ["check_init_expression", "default_value", "is_brian_default", "stable_repr"]


def default_value(name: str) -> Any:
    """Brian 2's own object for ``name`` (function, unit or constant), or None."""
    for table in (DEFAULT_FUNCTIONS, DEFAULT_UNITS, DEFAULT_CONSTANTS):
        if name in table:
            return table[name]
    return None


def is_brian_default(name: str, value: Any) -> bool:
    """Whether the caller's ``value`` for ``name`` is what Brian 2 itself provides.

    True for Brian's functions (``exp`` as star-imported from ``brian2``, numpy's or
    ``math``'s function of the same name), units (the same object, or an equal quantity)
    and constants (``pi``, ``e``, ``inf`` as numbers). Such names are left to Brian's own
    resolution instead of being captured, so that nothing process-specific is saved or
    fingerprinted; a name the caller rebinds to something else is captured.
    """
    default = default_value(name)
    if default is None:
        return False
    if value is default:
        return True
    if name in DEFAULT_FUNCTIONS:
        same = {id(getattr(default, "pyfunc", default))}
        for module in (brian2, np, math):
            if hasattr(module, name):
                same.add(id(getattr(module, name)))
        return id(getattr(value, "pyfunc", value)) in same
    if name in DEFAULT_UNITS:
        return (
            isinstance(value, Quantity)
            and get_dimensions(value) == get_dimensions(default)
            and np.ndim(value) == 0
            and float(value) == float(default)
        )
    try:  # constants: SymbolicConstant objects with a numeric value
        return float(value) == float(getattr(default, "value", default))
    except (TypeError, ValueError):
        return False


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_repr(value: Any) -> str:
    """A description of a namespace value that is the same in every process.

    Numbers and scalar quantities by their repr, arrays by a hash of their bytes and units,
    ``TimedArray`` by its values and dt, functions by module, name and code; never a
    memory address.
    """
    if value is None or isinstance(value, bool | str | int | float):
        return repr(value)
    if isinstance(value, Quantity | np.ndarray | np.generic) and np.ndim(value) == 0:
        return repr(value)  # as fingerprints always had it: stores of earlier runs still match
    if isinstance(value, Quantity | np.ndarray | np.generic):
        arr = np.ascontiguousarray(np.asarray(value))
        digest = hashlib.sha256(arr.tobytes()).hexdigest()[:16]
        return f"array{arr.shape}{arr.dtype}:{digest}:{get_dimensions(value)}"
    if isinstance(value, TimedArray):
        return f"TimedArray(dt={value.dt!r}, {stable_repr(value.values)}, {value.dim})"
    func = getattr(value, "pyfunc", value)
    if callable(func):
        code = getattr(func, "__code__", None)
        digest = "" if code is None else hashlib.sha256(code.co_code).hexdigest()[:16]
        name = getattr(func, "__qualname__", type(func).__name__)
        return f"function {getattr(func, '__module__', '')}.{name}:{digest}"
    return _ADDRESS.sub("", repr(value))


def check_init_expression(
    name: str, expr: str, eqs: Equations, inputs: Mapping[str, Any], local: Mapping[str, Any]
) -> set[str]:
    """Check a string initial value before anything runs; return the external names it uses."""
    known: dict[str, Any] = {n: Quantity(1, dim=eqs[n].dim) for n in eqs.names}
    known.update({n: Quantity(1, dim=get_dimensions(u)) for n, u in inputs.items()})
    known.update({n: Quantity(1, dim=second.dim) for n in ("t", "dt", "lastspike")})
    known.update({n: 1 for n in ("i", "N", "t_in_timesteps", "not_refractory")})
    external, unknown = set(), []
    for ident in sorted(get_identifiers(expr)):
        if ident in known:
            continue
        if ident in local and not is_brian_default(ident, local[ident]):
            known[ident] = local[ident]
            external.add(ident)
        elif default_value(ident) is not None:
            known[ident] = default_value(ident)
        else:
            unknown.append(ident)
    if unknown:
        raise ProblemError(
            f"param_init[{name!r}]: {expr!r} uses {unknown}, which are neither model variables "
            f"nor found in the caller's namespace (or namespace={{...}})"
        )
    try:
        dim = parse_expression_dimensions(expr, known)
    except Exception as exc:  # syntax errors and unit mismatches come in many types
        raise ProblemError(f"param_init[{name!r}]: cannot evaluate {expr!r}: {exc}") from exc
    if dim != eqs[name].dim:
        raise ProblemError(
            f"param_init[{name!r}]: {expr!r} has units of {get_unit(dim)!r}, expected "
            f"{get_unit(eqs[name].dim)!r}"
        )
    return external
