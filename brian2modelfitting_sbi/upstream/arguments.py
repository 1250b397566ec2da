"""Reading brian2modelfitting's arguments: keyword checks, its option names, its helpers.

Everything here is a pure function of its arguments (no Inferencer): the translation of
upstream's names (``inference_method``, ``sbi_device``, ``inference_kwargs``) onto ours, the
tests that tell an upstream call form from ours, and errors that name an unknown keyword
with the closest known one (``difflib``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..backends import get_backend
from ..errors import ProblemError
from ..priors import ParameterSpace

__all__ = [
    "as_array",
    "backend_name",
    "calc_prior",
    "check_names",
    "condition_rows",
    "device_name",
    "estimator_arguments",
    "get_param_dict",
    "is_shape",
    "is_upstream_pairplot",
    "is_upstream_traces",
    "split_infer_keywords",
    "subset_index",
    "unknown_keywords",
]

#: Keywords of upstream's ``infer`` that are not parameter bounds.
INFER_OPTIONS = (
    "theta",
    "x",
    "inference_method",
    "density_estimator_model",
    "inference_kwargs",
    "train_kwargs",
    "posterior_kwargs",
    "sbi_device",
)
#: Our keywords of ``infer`` (its arguments and the option groups' keywords), for hints.
OUR_INFER_OPTIONS = (
    "n_samples", "n_simulations", "backend", "n_rounds", "seed", "restart", "simulation",
    "training", "sampling", "chunk_size", "n_jobs", "executor", "store", "standalone",
    "progress", "threads", "device", "invalid", "fill_value", "estimator",
    "estimator_options", "embedding_net", "discrete_columns", "ensemble", "prior",
)
#: Our keywords of ``train``, for hints.
OUR_TRAIN_OPTIONS = (
    "backend", "seed", "training", "sampling", "threads", "device", "invalid", "fill_value",
    "estimator", "estimator_options", "embedding_net", "discrete_columns", "ensemble",
)
#: Upstream's inference methods and the backends they map to.
METHODS = {"SNPE": "snpe", "SNLE": "snle", "SNRE": "snre"}
#: Keywords of our ``pairplot`` (anything else selects upstream's form).
PAIRPLOT_OURS = ("n_draws", "n_samples", "points", "point_labels", "limits", "zoom", "seed", "bins",
                 "figsize", "color")
#: Keywords of our ``generate_traces`` (any of them selects our posterior-predictive form).
TRACES_OURS = ("params", "variables", "seed", "return_params", "n_draws")


# ---------------------------------------------------------------------- keyword checks
def hints(names: Sequence[str], allowed: Sequence[str]) -> str:
    """``'name' (did you mean 'closest'?)`` for each name."""
    out = []
    for name in names:
        close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
        out.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ", ".join(out)


def unknown_keywords(where: str, names: Sequence[str], allowed: Sequence[str]) -> ProblemError:
    """An error naming the unknown keywords, each with its closest allowed name."""
    return ProblemError(
        f"{where}: unknown keyword argument(s) {hints(names, allowed)}; expected one of "
        f"{sorted(allowed)}"
    )


def split_infer_keywords(
    parameters: Sequence[str], keywords: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``infer(**keywords)`` → (ours: bounds and our options, upstream's options).

    A keyword that is neither a model parameter nor an option (ours or upstream's
    :data:`INFER_OPTIONS`) is refused with the closest name suggested.
    """
    legacy = {k: v for k, v in keywords.items() if k in INFER_OPTIONS and k not in parameters}
    ours = {k: v for k, v in keywords.items() if k not in legacy}
    unknown = [k for k in ours if k not in parameters and k not in OUR_INFER_OPTIONS]
    if unknown:
        raise ProblemError(
            f"bounds: {sorted(unknown)} are not parameters of the model nor options of infer(): "
            f"{hints(unknown, [*parameters, *OUR_INFER_OPTIONS, *INFER_OPTIONS])}; the model's "
            f"parameters are {list(parameters)}"
        )
    return ours, legacy


def check_names(parameters: Sequence[str], where: str, names: Sequence[str]) -> None:
    """Refuse names that are not parameters of the model, suggesting the closest."""
    unknown = [k for k in names if k not in parameters]
    if unknown:
        raise ProblemError(
            f"{where}: {sorted(unknown)} are not parameters of the model: "
            f"{hints(unknown, parameters)}; the model's parameters are {list(parameters)}"
        )


def backend_name(method: Any) -> str:
    """``'SNPE'``/``'SNLE'``/``'SNRE'`` (any case) → our backend name (else ``NameError``)."""
    key = str(method).upper()
    if key not in METHODS:
        raise NameError(
            f"inference_method: {method!r} is not supported; choose 'SNPE', 'SNLE' or 'SNRE'"
        )
    return METHODS[key]


def device_name(device: Any) -> tuple[str, str | None]:
    """Upstream's ``sbi_device`` → ``(torch device, warning or None)``: ``'gpu'``/``'cuda'``
    when CUDA is available, else the CPU (with a warning for an unavailable GPU)."""
    name = str(device).lower()
    if name in ("gpu", "cuda"):
        if torch.cuda.is_available():
            return "cuda", None
        return "cpu", f"sbi_device: {device!r} is not available; training on the CPU"
    return "cpu", None


def estimator_arguments(
    backend: str | type, inference_kwargs: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Any]:
    """Upstream's ``inference_kwargs`` → our ``estimator_options`` and ``embedding_net``."""
    options = dict(inference_kwargs or {})
    argument = getattr(get_backend(backend), "embedding_argument", "embedding_net")
    embedding = options.pop(argument, None)
    if embedding is None and argument != "embedding_net":
        embedding = options.pop("embedding_net", None)
    return options, embedding


# ---------------------------------------------------------------------- call forms
def is_shape(n: Any) -> bool:
    """Whether ``sample``'s first argument is a shape (upstream's ``(10_000,)``, a list, or a
    ``torch.Size``, which is a tuple), not a count (ours); anything else is checked as a count."""
    return isinstance(n, tuple | list)


def is_upstream_pairplot(first: Any, keywords: Mapping[str, Any]) -> bool:
    """Whether a ``pairplot`` call is in upstream's form (samples array or its keywords)."""
    if first is not None and not isinstance(first, int | np.integer):
        return True
    return any(k not in PAIRPLOT_OURS for k in keywords)


def is_upstream_traces(args: Sequence[Any], keywords: Mapping[str, Any]) -> bool:
    """Whether a ``generate_traces`` call has upstream's meaning: no dict first argument and
    none of our keywords."""
    if args and isinstance(args[0], Mapping):
        return False
    return not any(k in TRACES_OURS for k in keywords)


# ---------------------------------------------------------------------- arrays
def as_array(name: str, value: Any, columns: int, what: str) -> np.ndarray:
    """An array or tensor ``(n, columns)`` of floats, else a ProblemError."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.atleast_2d(np.asarray(value, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != columns:
        raise ProblemError(
            f"{name}: expected an array (n, {columns}) of {what}, got shape {np.shape(value)}"
        )
    return arr


def subset_index(space: ParameterSpace, subset: Any) -> list[int] | None:
    """Parameter names → column indices (None: all)."""
    if subset is None:
        return None
    check_names(space.names, "subset", list(subset))
    return [space.names.index(name) for name in subset]


def condition_rows(space: ParameterSpace, condition: Any, map_array: Any) -> np.ndarray:
    """A condition (array ``(m, d)``/``(d,)`` of SI floats, tensor, dict; None: ``map_array()``)
    → rows ``(m, d)``."""
    if condition is None:
        return np.asarray(map_array(), dtype=float)[None]
    if isinstance(condition, Mapping):
        return np.atleast_2d(space.to_array(condition))
    return as_array("condition", condition, space.dim,
                    f"parameter values {space.names} (e.g. sample((1,)))")


# ---------------------------------------------------------------------- upstream's helpers
def calc_prior(param_names: Sequence[str], **bounds: Sequence[Any]) -> Any:
    """Upstream's helper: a ``BoxUniform`` over SI floats, one ``[lower, upper]`` per name.

    Raises ``TypeError`` (as upstream) when a name has no bounds.
    """
    from sbi.utils import BoxUniform

    missing = [name for name in param_names if name not in bounds]
    if missing:
        raise TypeError(f"bounds must be set for the parameters {missing}")
    low = [float(min(bounds[name])) for name in param_names]
    high = [float(max(bounds[name])) for name in param_names]
    return BoxUniform(low=torch.as_tensor(low), high=torch.as_tensor(high))


def get_param_dict(
    param_values: Any, param_names: Sequence[str], n_values: int
) -> dict[str, np.ndarray]:
    """Upstream's helper: columns of ``param_values`` as ``{name: array of n_values}``."""
    columns = np.atleast_2d(np.asarray(param_values)).T
    return {name: np.ones(n_values) * col for name, col in zip(param_names, columns, strict=False)}
