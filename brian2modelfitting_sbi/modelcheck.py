"""Model strings checked by Brian 2 itself, before anything is simulated.

:func:`check_model` builds a one-neuron ``NeuronGroup`` from the equations, the inputs (in
their units), ``threshold``, ``reset``, ``refractory`` and ``method`` and prepares it for a
zero-length run with the numpy target on the runtime device: Brian parses every string and
checks every unit, and nothing is compiled nor simulated. A failure is reported as a
:class:`~brian2modelfitting_sbi.errors.ProblemError` naming the argument at fault.
String initial values are checked by :func:`brian2modelfitting_sbi.namespace.check_init_expression`.
This module imports nothing from the package but :mod:`.errors`, so every module may use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from brian2 import Equations, Network, NeuronGroup, get_device, get_unit, prefs, second
from brian2.devices.device import RuntimeDevice, reset_device, set_device
from brian2.units.fundamentalunits import DIMENSIONLESS, Unit, get_dimensions
from brian2.utils.logger import catch_logs

from ._heap import frozen_heap
from .errors import ProblemError

__all__ = ["check_model", "parse_equations", "unit_code"]

_BASE_UNITS = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")
_GROUP = "sbi_model_check"


def unit_code(dim: Any) -> str:
    """Unit text that Brian's equation parser accepts, for a dimension or a quantity.

    A unit whose name is one word (``volt``, ``siemens``) is written by name; any other
    (``amp / (meter ** 2)``, whose parentheses Brian refuses after the ``:`` of an equation) as
    a product of SI base units, ``metre ** -2 * amp``.
    """
    d = get_dimensions(dim)
    if d is DIMENSIONLESS:
        return "1"
    name = repr(get_unit(d))
    if name.isidentifier():
        return name
    parts = []
    for base, exp in zip(_BASE_UNITS, d._dims, strict=True):
        if exp:
            e = int(exp) if float(exp).is_integer() else float(exp)
            parts.append(base if e == 1 else f"{base} ** {e}")
    return " * ".join(parts)


@contextlib.contextmanager
def _unregistered_units() -> Iterator[None]:
    """Units created inside the block stay out of Brian's registry of display names."""
    old = Unit.automatically_register_units
    Unit.automatically_register_units = False
    try:
        yield
    finally:
        Unit.automatically_register_units = old


def parse_equations(text: str) -> Equations:
    """``Equations(text)`` without registering the units its unit strings create.

    Parsing ``metre ** -2 * amp`` creates a unit of that name, which Brian would otherwise
    register and then use to display the user's ``amp/meter**2`` quantities.
    """
    with _unregistered_units():
        return Equations(text)


@contextlib.contextmanager
def _checking() -> Iterator[list]:
    """Runtime device, numpy target, no unit registration and Brian's logs captured."""
    standalone = not isinstance(get_device(), RuntimeDevice)
    if standalone:
        set_device("runtime")
    old_target = prefs.codegen.target
    prefs.codegen.target = "numpy"
    # Parsing unit strings creates units; keep them out of Brian's registry, so that checking
    # changes nothing of how the user's units print.
    try:
        with _unregistered_units(), catch_logs() as logs:
            yield logs
    finally:
        prefs.codegen.target = old_target
        if standalone:
            reset_device()


def _root_message(exc: BaseException) -> str:
    """The message of the innermost cause (Brian wraps errors in ``BrianObjectException``)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _input_equations(input_units: Mapping[str, Any]) -> str:
    """Each input as a constant subexpression in its units (its values do not matter here)."""
    lines = []
    for name, unit in input_units.items():
        code = unit_code(unit)
        scale = "" if code == "1" else f" * {code}"
        lines.append(f"{name} = 0{scale} : {code}")
    return "\n".join(lines)


def _with_inputs(equations: Equations, input_units: Mapping[str, Any]) -> Equations:
    """The model with each input as a constant subexpression in its units."""
    if not input_units:
        return equations
    return equations + Equations(_input_equations(input_units))


def _try_group(
    equations: Equations, namespace: Mapping[str, Any], dt: float, **kwargs: Any
) -> BaseException | None:
    """Build and prepare a one-neuron group; return the error, or None if Brian accepts it."""
    group = None
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        group = NeuronGroup(
            1, equations, dt=dt * second, namespace=dict(namespace), name=_GROUP, **kwargs
        )
        with frozen_heap():
            Network(group).run(0 * second, namespace=dict(namespace))
    except Exception as exc:  # Brian's errors come in many types
        return exc
    finally:
        if group is not None:
            group._network = 0  # checked on purpose: no "never included in a network" warning
    return None


def check_model(
    equations: Equations,
    input_units: Mapping[str, Any],
    namespace: Mapping[str, Any],
    dt: float,
    *,
    method: str | None = None,
    threshold: str | None = None,
    reset: str | None = None,
    refractory: Any = False,
) -> None:
    """Check the model, its inputs' units and its spiking strings with Brian 2.

    Parameters
    ----------
    equations : brian2.Equations
        The user's model equations.
    input_units : dict
        Input variable name → Brian unit of the given input.
    namespace : dict
        External constants the strings refer to.
    dt : float
        Time step in seconds.
    method, threshold, reset, refractory
        As for ``NeuronGroup`` (None / False: not given).

    Raises
    ------
    ProblemError
        Naming the argument at fault (``model``/``input``, ``method``, ``threshold``,
        ``reset`` or ``refractory``) and Brian's reason.
    """
    given: dict[str, Any] = {}
    if threshold is not None:
        given["threshold"] = threshold
    if reset is not None:
        given["reset"] = reset
    if refractory is not False and refractory is not None:
        given["refractory"] = refractory
    if method is not None:
        given["method"] = method
    with _checking():
        eqs = _with_inputs(equations, input_units)
        if _try_group(eqs, namespace, dt, **given) is None:
            return
        # Something is wrong: add the arguments one at a time to name the one at fault.
        units = ", ".join(
            f"{k!r} in {get_unit(get_dimensions(u))!r}" for k, u in input_units.items()
        )
        exc = _try_group(eqs, namespace, dt)
        if exc is not None:
            raise ProblemError(
                f"model: Brian 2 refuses the equations with the inputs ({units or 'none'}): "
                f"{_root_message(exc)}; check the units of the inputs and of the equations"
            ) from exc
        kwargs: dict[str, Any] = {}
        for name in ("method", "threshold", "reset", "refractory"):
            if name not in given:
                continue
            kwargs[name] = given[name]
            exc = _try_group(eqs, namespace, dt, **kwargs)
            if exc is not None:
                raise ProblemError(
                    f"{name}: Brian 2 refuses {given[name]!r}: {_root_message(exc)}"
                ) from exc
        exc = _try_group(eqs, namespace, dt, **given)  # pragma: no cover - order-dependent
        raise ProblemError(f"model: Brian 2 refuses the model: {_root_message(exc)}") from exc
