"""brian2modelfitting's result shapes: ``sample(shape)`` arrays, ``generate_traces`` at the
posterior mean, ``conditional_corrcoeff`` over condition rows.

Each function takes the Inferencer and reads its public state (``result``, ``posterior``,
``space``, ``problem``, ``target``); the array of the last ``sample(shape)`` is kept as
upstream's ``samples`` attribute (what its ``pairplot`` plots by default).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from brian2.units.fundamentalunits import get_dimensions

from ..errors import NotFittedError, ProblemError, check_count
from ..namespace import check_init_expression
from ..posterior.conditional_plots import conditional_corrcoef
from ..posterior.predictive import simulate_outputs
from ..posterior.sampling import draw
from ..problem import SPIKES
from .arguments import condition_rows, subset_index, unknown_keywords

__all__ = ["conditional_corrcoeff", "generate_traces", "require_result", "sample"]


def require_result(inferencer: Any) -> Any:
    """The Inferencer's :class:`~brian2modelfitting_sbi.posterior.Posterior`, else an error."""
    if inferencer.result is None:
        raise NotFittedError("no posterior yet: call infer() first")
    return inferencer.result


def sample(inferencer: Any, shape: Any, posterior: Any = None, **options: Any) -> np.ndarray:
    """Upstream's ``sample(shape)``: an array ``shape + (d,)`` of SI floats, columns in
    ``param_names`` order; ``options``: ``seed``, ``threads``."""
    try:
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ProblemError(
            f"shape: expected an int (our dict of quantities) or a shape tuple such as "
            f"(10_000,) (upstream's array), got {shape!r}"
        ) from None
    allowed = ("seed", "threads")
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise unknown_keywords("sample", unknown, ["posterior", *allowed])
    estimate = posterior if posterior is not None else require_result(inferencer).estimate
    space = inferencer.space
    n = math.prod(shape)
    samples = draw(estimate, space, n, options.get("seed"), options.get("threads", 1))
    samples = samples.reshape(*shape, space.dim)
    inferencer.samples = samples
    return samples


def conditional_corrcoeff(
    inferencer: Any,
    condition: Any,
    density: Any,
    limits: Any,
    subset: Any,
    options: Mapping[str, Any],
) -> np.ndarray:
    """Our conditional correlations, averaged over the rows of ``condition`` (an array from
    ``sample((1,))``, a dict, None: the MAP); ``subset`` picks rows and columns."""
    result = require_result(inferencer)
    unknown = [k for k in options if k != "resolution"]
    if unknown:
        raise unknown_keywords("conditional_corrcoeff", unknown, ["resolution", "density"])
    space = result.space
    rows = condition_rows(space, condition, result.map_array)
    matrix = np.mean(
        [
            conditional_corrcoef(density or result.estimate, space, row, limits=limits, **options)
            for row in rows
        ],
        axis=0,
    )
    index = subset_index(space, subset)
    return matrix if index is None else matrix[np.ix_(index, index)]


def generate_traces(
    inferencer: Any,
    n_samples: int = 1,
    posterior: Any = None,
    output_var: Any = None,
    param_init: Mapping[str, Any] | None = None,
    level: int = 0,
) -> Any:
    """Upstream's ``generate_traces``: one simulation at the mean of ``n_samples`` draws.

    Returns a Quantity ``(n_traces, n_steps)`` for one state variable; for several outputs a
    dict (spikes: a list of spike-time arrays, one per trace). ``param_init`` overrides
    initial values for this call only; ``level`` is accepted for upstream's scripts.
    """
    space = inferencer.space
    if space is None:
        raise NotFittedError("no parameter space yet: call infer() (or set_bounds()) first")
    estimate = posterior if posterior is not None else require_result(inferencer).estimate
    check_count("n_samples", n_samples, 1)
    theta = draw(estimate, space, n_samples).mean(axis=0, keepdims=True)
    variables = list(inferencer.problem.outputs) if output_var is None else output_var
    variables = [variables] if isinstance(variables, str) else list(variables)
    problem = inferencer.problem
    if param_init:
        problem = dataclasses.replace(
            problem, param_init={**problem.param_init, **_initial_values(problem, param_init)}
        )
    out = simulate_outputs(problem, space.names, theta, variables=variables,
                           target=inferencer.target, measurement=inferencer.measurement)
    traces = {var: value[0] for var, value in out.items()}
    if len(variables) == 1 and variables[0] != SPIKES:
        return traces[variables[0]]
    return traces


def _initial_values(problem: Any, param_init: Mapping[str, Any]) -> dict[str, Any]:
    """Checked initial values: strings as given, quantities as SI floats."""
    eqs = problem.equations
    out: dict[str, Any] = {}
    for name, value in param_init.items():
        if name not in eqs.names:
            raise ProblemError(f"param_init: {name!r} is not a variable of the model")
        if isinstance(value, str):
            check_init_expression(name, value, eqs, problem.input_units, problem.namespace)
            out[name] = value
        elif get_dimensions(value) != eqs[name].dim:
            raise ProblemError(f"param_init[{name!r}]: expected units of {eqs[name].dim}")
        else:
            out[name] = float(value)
    return out
