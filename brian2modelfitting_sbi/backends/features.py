"""What a backend can learn from a feature provider, checked before anything is simulated.

A backend declares it (see :class:`~brian2modelfitting_sbi.backends.base.InferenceBackend`):
``embeds_x`` (it takes an embedding net for x, so raw traces can be learned from) and
``takes_estimator_defaults`` (the provider's estimator defaults, e.g. structured z-scoring of
raw traces, apply to it) and ``discrete_features`` (it models discrete columns, such as spike
counts, as discrete: which columns are comes from ``discrete_columns=``, else from the
provider's :meth:`~brian2modelfitting_sbi.features.FeatureProvider.discrete_columns`, else
from the simulated features).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CapabilityError, ProblemError

__all__ = [
    "MAX_LIKELIHOOD_DIM",
    "check_backend_features",
    "check_discrete",
    "declared_discrete",
    "discrete_columns",
    "integer_columns",
    "learned_features",
    "override_columns",
]

#: Above this many features, a backend without embedding net (SNLE) is refused for raw traces.
MAX_LIKELIHOOD_DIM = 100


def _backend_label(backend_cls: type) -> str:
    return getattr(backend_cls, "__name__", str(backend_cls)).replace("Backend", "").lower()


def _takes_embedding(backend_cls: type) -> bool:
    # the capability flag of InferenceBackend; duck-typed classes without it are assumed to
    return bool(getattr(backend_cls, "embeds_x", True))


def check_backend_features(
    features: Any, backend_cls: type, x_dim: int, embedding_net: Any = None
) -> None:
    """Refuse, before simulating, a backend that cannot learn from these features.

    A backend without an embedding net for x (SNLE learns the likelihood of x itself) cannot
    use ``embedding_net``, and raw traces of more than :data:`MAX_LIKELIHOOD_DIM` values would
    make it model every time step directly.
    """
    if _takes_embedding(backend_cls):
        return
    name = _backend_label(backend_cls)
    if embedding_net is not None:
        raise ProblemError(
            f"embedding_net: the {name!r} backend cannot use an embedding net for x: it learns "
            f"the likelihood p(x | theta) of x itself. Use backend='snpe' or 'snre', which learn "
            f"features with an embedding net, or give summary features for {name!r}"
        )
    if features.default_embedding_net(x_dim) is None:
        return
    if x_dim > MAX_LIKELIHOOD_DIM:
        raise ProblemError(
            f"backend: {name!r} learns the likelihood of x itself and cannot use an embedding "
            f"net, so it would model all {x_dim} raw trace values directly (slow and "
            f"inaccurate). Use backend='snpe' or 'snre' (they learn features from raw traces "
            f"with an embedding net), downsample the traces to at most {MAX_LIKELIHOOD_DIM} "
            f"values (RawTraces(downsample=...)), or give summary features, e.g. "
            f"EphysFeatures(['mean', 'std', ...])"
        )
    warnings.warn(
        f"backend {name!r} cannot use an embedding net: it models the {x_dim} raw trace values "
        f"directly",
        UserWarning,
        stacklevel=3,
    )


def learned_features(
    features: Any,
    backend_cls: type,
    x_dim: int,
    embedding_net: Any = None,
    estimator_options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any] | None]:
    """The embedding net and estimator options for training ``backend_cls`` on ``features``.

    The user's ``embedding_net`` passes through; otherwise the provider's default (if the
    backend takes one). The provider's estimator defaults (e.g. structured z-scoring for raw
    traces) apply to sbi backends, under the user's ``estimator_options``.
    """
    check_backend_features(features, backend_cls, x_dim, embedding_net)
    if embedding_net is None and _takes_embedding(backend_cls):
        embedding_net = features.default_embedding_net(x_dim)
    takes = getattr(backend_cls, "takes_estimator_defaults", False)
    defaults = features.default_estimator_options() if takes else {}
    if defaults:
        estimator_options = {**defaults, **(estimator_options or {})}
    return embedding_net, estimator_options


# ---------------------------------------------------------------------------- discrete columns
#: Largest integer value a column may reach to be detected as discrete (a spike count).
MAX_DETECTED_VALUE = 200


def _names(features: Any, x_dim: int) -> tuple[int, list[str]]:
    """``(n_traces, names)`` of a provider with ``x_dim`` columns (its names for the number
    of stimuli that gives that many columns)."""
    for n_traces in range(1, x_dim + 1):
        names = list(features.names(n_traces))
        if len(names) == x_dim:
            return n_traces, names
    return 1, list(features.names(1))


def declared_discrete(features: Any, x_dim: int) -> list[bool | None]:
    """Per column: True (discrete), False (continuous) or None (the provider does not say)."""
    n_traces, _ = _names(features, x_dim)
    method = getattr(features, "discrete_columns", None)
    declared = None if method is None else method(n_traces)
    if declared is None or len(declared) != x_dim:
        return [None] * x_dim
    return [None if d is None else bool(d) for d in declared]


def integer_columns(x: np.ndarray) -> list[int]:
    """Columns of ``x`` whose finite values are non-negative integers below
    :data:`MAX_DETECTED_VALUE`, with at least two distinct values."""
    found = []
    for j in range(x.shape[1]):
        col = x[:, j][np.isfinite(x[:, j])]
        if len(col) and np.all(col == np.round(col)) and np.all(col >= 0):
            if len(np.unique(col)) > 1 and col.max() < MAX_DETECTED_VALUE:
                found.append(j)
    return found


def override_columns(override: Sequence[int | str], names: Sequence[str]) -> list[int]:
    """``discrete_columns=`` (feature names or column indices) as sorted column indices."""
    if isinstance(override, str | int) or not isinstance(override, Sequence):
        raise ProblemError(
            f"discrete_columns: expected a list of feature names or column indices, got "
            f"{override!r}"
        )
    out = set()
    for item in override:
        if isinstance(item, str) and item in names:
            out.add(list(names).index(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
            out.add(int(item))
        else:
            raise ProblemError(
                f"discrete_columns: {item!r} is neither a feature name nor a column index "
                f"(0..{len(names) - 1}); the features are {list(names)}"
            )
    return sorted(out)


def check_discrete(backend_cls: type, features: Any, x_dim: int, override: Any) -> None:
    """Refuse, before simulating, discrete columns a backend cannot use or cannot do without.

    ``discrete_columns=`` needs a backend with ``discrete_features``; such a backend (MNLE)
    needs at least one discrete and one continuous column, which the provider may declare.
    """
    name = _backend_label(backend_cls)
    _, names = _names(features, x_dim)
    if not getattr(backend_cls, "discrete_features", False):
        if override is not None:
            raise CapabilityError(
                f"discrete_columns: the {name!r} backend models every feature as continuous "
                f"(discrete_features=False); use backend='mnle' to model discrete columns"
            )
        return
    if override is not None:
        mask = [j in override_columns(override, names) for j in range(x_dim)]
    else:
        mask = declared_discrete(features, x_dim)
    if None in mask:
        return  # decided on the simulated features
    if not any(mask):
        raise CapabilityError(
            f"backend: {name!r} models discrete features (spike counts) next to continuous "
            f"ones, but none of {names} is discrete; use backend='snle' or 'snpe', add a "
            f"spike count (EphysFeatures(['spike_count', ...])), or name the discrete "
            f"columns with discrete_columns=[...]"
        )
    if all(mask):
        raise CapabilityError(
            f"backend: {name!r} needs at least one continuous feature next to the discrete "
            f"ones ({names} are all discrete); use backend='snpe' or 'snle', or add a "
            f"continuous feature"
        )


def discrete_columns(
    features: Any, names: Sequence[str], x: np.ndarray, override: Any = None
) -> list[int]:
    """The discrete columns: ``override``, else the provider's declaration, where it does not
    declare, the integer-valued columns of the simulated features ``x`` (SI units)."""
    if override is not None:
        return override_columns(override, names)
    mask = declared_discrete(features, len(names))
    detected = set(integer_columns(x)) if None in mask else set()
    return [j for j, d in enumerate(mask) if d or (d is None and j in detected)]
