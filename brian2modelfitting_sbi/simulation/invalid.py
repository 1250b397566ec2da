"""Simulations whose features are NaN or infinite: where they are, and what training gets.

Blow-ups and features that need an event that did not happen (a latency without a spike)
give non-finite features. By default such rows are left out of training (``'drop'``);
``'keep'`` hands them to the backend as they are; ``'fill'`` replaces each non-finite value by
``fill_value``: a number, one number per feature (sequence or ``{feature name: value}``), or a
per-feature statistic of the finite values (``'min'``, ``'max'``, ``'mean'``, ``'median'``)
over all simulations so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..problem import ProblemError

INVALID_POLICIES = ("drop", "keep", "fill")
FILL_STRATEGIES = ("min", "max", "mean", "median")


def valid_rows(x: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows whose features are all finite."""
    return np.all(np.isfinite(x), axis=1)


def check_invalid(invalid: Any, fill_value: Any, feature_names: Sequence[str]) -> None:
    """Validate ``invalid``/``fill_value`` before anything runs."""
    if invalid not in INVALID_POLICIES:
        raise ProblemError(f"invalid: expected one of {INVALID_POLICIES}, got {invalid!r}")
    if invalid != "fill":
        if fill_value is not None:
            raise ProblemError(
                f"fill_value: only used with invalid='fill', got invalid={invalid!r}"
            )
        return
    if fill_value is None:
        raise ProblemError(
            f"fill_value: required with invalid='fill' (a number, one per feature, a dict "
            f"{{feature: value}} or one of {FILL_STRATEGIES})"
        )
    _fill_vector(fill_value, feature_names, None)


def _fill_vector(
    fill_value: Any, feature_names: Sequence[str], reference: np.ndarray | None
) -> np.ndarray:
    k = len(feature_names)
    if isinstance(fill_value, str):
        if fill_value not in FILL_STRATEGIES:
            raise ProblemError(
                f"fill_value: expected a number, one value per feature or one of "
                f"{FILL_STRATEGIES}, got {fill_value!r}"
            )
        if reference is None:
            return np.zeros(k)
        finite = np.where(np.isfinite(reference), reference, np.nan)
        empty = ~np.any(np.isfinite(reference), axis=0)
        if empty.any():
            names = [n for n, e in zip(feature_names, empty, strict=True) if e]
            raise RuntimeError(
                f"fill_value={fill_value!r}: no finite value to compute it from for {names}; "
                f"give explicit fill values"
            )
        return getattr(np, f"nan{fill_value}")(finite, axis=0)
    if isinstance(fill_value, Mapping):
        unknown = sorted(set(fill_value) - set(feature_names))
        missing = sorted(set(feature_names) - set(fill_value))
        if unknown or missing:
            raise ProblemError(
                f"fill_value: the dict must give a value for every feature; unknown {unknown}, "
                f"missing {missing}"
            )
        values = np.array([fill_value[n] for n in feature_names], dtype=float)
    else:
        try:
            values = np.broadcast_to(np.asarray(fill_value, dtype=float), (k,)).copy()
        except (TypeError, ValueError) as exc:
            raise ProblemError(
                f"fill_value: expected a number or {k} values (one per feature), got {fill_value!r}"
            ) from exc
    if not np.all(np.isfinite(values)):
        raise ProblemError(f"fill_value: must be finite, got {fill_value!r}")
    return values


def apply_invalid(
    theta: np.ndarray,
    x: np.ndarray,
    invalid: str,
    fill_value: Any = None,
    feature_names: Sequence[str] = (),
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, x)`` as training should see them under the ``invalid`` policy.

    ``reference`` holds the features the statistics of a fill strategy are computed from
    (``x`` if None).
    """
    if invalid == "keep":
        return theta, x
    if invalid == "drop":
        keep = valid_rows(x)
        return theta[keep], x[keep]
    if invalid == "fill":
        names = list(feature_names) or [str(j) for j in range(x.shape[1])]
        values = _fill_vector(fill_value, names, x if reference is None else reference)
        bad = ~np.isfinite(x)
        return theta, np.where(bad, values[None, :], x)
    raise ProblemError(f"invalid: expected one of {INVALID_POLICIES}, got {invalid!r}")


def describe_invalid(x: np.ndarray, feature_names: Sequence[str], top: int = 3) -> str:
    """Which features were non-finite most often, e.g. ``"latency[0] (12), ..."``."""
    counts = np.sum(~np.isfinite(x), axis=0)
    order = np.argsort(-counts, kind="stable")[:top]
    parts = [f"{feature_names[j]} ({counts[j]})" for j in order if counts[j] > 0]
    return ", ".join(parts)
