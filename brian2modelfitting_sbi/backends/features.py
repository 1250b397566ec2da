"""What a backend can learn from a feature provider, checked before anything is simulated.

A backend declares it (see :class:`~brian2modelfitting_sbi.backends.base.InferenceBackend`):
``embeds_x`` (it takes an embedding net for x, so raw traces can be learned from) and
``takes_estimator_defaults`` (the provider's estimator defaults, e.g. structured z-scoring of
raw traces, apply to it).
"""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import ProblemError

__all__ = ["MAX_LIKELIHOOD_DIM", "check_backend_features", "learned_features"]

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
