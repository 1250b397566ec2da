"""Interoperability: build an Inferencer from a brian2modelfitting fitter; export to ArviZ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._optional import require
from .problem import SPIKES, ProblemError

#: Equation names the fitters add to the user's model (input through a TimedArray, target).
_INPUT_MARKER = "input_var(t, i % n_traces)"


def fitter_arguments(fitter: Any) -> dict[str, Any]:
    """The Inferencer arguments of a configured brian2modelfitting ``TraceFitter`` or
    ``SpikeFitter``: the user's model (without the equations the fitter added), input and
    output with their variable names, dt, method, threshold, reset, refractory, param_init.
    """
    Fitter = require("brian2modelfitting.fitter", "Inferencer.from_fitter").Fitter
    if not isinstance(fitter, Fitter):
        raise ProblemError(
            f"fitter: expected a brian2modelfitting TraceFitter or SpikeFitter, got {fitter!r}"
        )
    from brian2 import Equations

    model = fitter.model
    input_vars = [eq.varname for eq in model.values() if _INPUT_MARKER in str(eq.expr or "")]
    if len(input_vars) != 1:
        raise ProblemError(
            f"fitter: could not find the input variable in the fitter's model (equations "
            f"'... = {_INPUT_MARKER}' found: {input_vars})"
        )
    input_var = input_vars[0]
    output_var = fitter.output_var
    output_vars = [output_var] if isinstance(output_var, str) else list(output_var)
    added = {input_var} | {f"{v}_target" for v in output_vars if v != SPIKES}
    user_model = Equations([eq for eq in model.values() if eq.varname not in added])
    outputs = fitter.output
    if len(output_vars) == 1:
        output: Any = {output_vars[0]: outputs}
    else:
        output = dict(zip(output_vars, outputs, strict=True))
    return {
        "model": user_model,
        "input": {input_var: fitter.input},
        "output": output,
        "dt": fitter.dt,
        "method": fitter.method,
        "threshold": fitter.threshold,
        "reset": fitter.reset,
        "refractory": fitter.refractory,
        "param_init": dict(fitter.param_init or {}),
    }


def fitter_bounds(fitter: Any) -> dict[str, Any] | None:
    """The bounds a fitter was last fitted with (``TraceFitter.bounds``), if any."""
    bounds = getattr(fitter, "bounds", None)
    return dict(bounds) if isinstance(bounds, Mapping) and bounds else None


def from_fitter(
    cls: type, fitter: Any, features: Any, namespace: Mapping[str, Any], target: str | None
) -> Any:
    """An Inferencer of class ``cls`` for the model, input and output of ``fitter``; a fitted
    fitter's bounds become its prior box."""
    inferencer = cls(**fitter_arguments(fitter), features=features, namespace=namespace,
                     target=target)
    bounds = fitter_bounds(fitter)
    if bounds:
        inferencer.set_bounds(**bounds)
    return inferencer


def to_arviz(
    space: Any,
    samples: np.ndarray,
    *,
    x_o: np.ndarray | None = None,
    feature_names: list[str] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """Posterior samples as an ArviZ ``InferenceData`` (one chain).

    Values are in each parameter's display unit, named in the variable's ``units``
    attribute (``si_scale`` converts them to SI); the observed features go to the
    ``observed_data`` group. Attributes stay plain strings and numbers, so the result can be
    written with ``to_netcdf``.
    """
    az = require("arviz", "to_arviz")

    samples = np.asarray(samples, dtype=float)
    units = [space.display_unit(j) for j in range(space.dim)]
    posterior = {
        name: samples[None, :, j] / float(unit)
        for j, (name, unit) in enumerate(zip(space.names, units, strict=True))
    }
    kwargs: dict[str, Any] = {"posterior": posterior}
    if x_o is not None:
        names = feature_names or [f"x{k}" for k in range(np.size(x_o))]
        kwargs["observed_data"] = {"x": np.asarray(x_o, dtype=float).reshape(-1)}
        kwargs["coords"] = {"feature": list(names)}
        kwargs["dims"] = {"x": ["feature"]}
    unit_names = {name: str(unit) for name, unit in zip(space.names, units, strict=True)}
    base_attrs = {"inference_library": "brian2modelfitting_sbi"}
    base_attrs.update(attrs or {})
    idata = az.from_dict(**kwargs)
    for group in idata.groups():
        idata[group].attrs.update(base_attrs)
    for name in space.names:
        idata.posterior[name].attrs["units"] = unit_names[name]
        idata.posterior[name].attrs["si_scale"] = float(units[space.names.index(name)])
    return idata
