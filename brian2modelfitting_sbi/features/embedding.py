"""Embedding nets for learned features, and how the Inferencer picks one for a backend.

:func:`trace_embedding` sizes a 1-D CNN from ``sbi.neural_nets.embedding_nets`` from the number
of channels (variables × stimuli) and the trace length: enough convolution + pooling layers to
bring the length down to about 16 values, then fully connected layers. Very short traces get a
fully connected net instead.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..problem import ProblemError

__all__ = ["check_backend_features", "learned_features", "trace_embedding"]

#: Below this trace length a fully connected net is used instead of a CNN.
MIN_CNN_LENGTH = 32
#: Above this many features, a backend without embedding net (SNLE) is refused for raw traces.
MAX_LIKELIHOOD_DIM = 100
_TARGET_LENGTH = 16
_KERNEL = 5


def _cnn_length(length: int, n_layers: int, pool: int) -> int:
    """Length after ``n_layers`` of (conv: kernel 5, padding 1; max-pool ``pool``)."""
    for _ in range(n_layers):
        length = (length + 2 - _KERNEL + 1) // pool
    return length


def trace_embedding(n_channels: int, length: int, output_dim: int = 20):  # noqa: ANN201
    """A CNN embedding for ``n_channels`` time series of ``length`` values each.

    Parameters
    ----------
    n_channels : int
        Input channels (one per recorded variable and stimulus).
    length : int
        Values per channel.
    output_dim : int
        Number of learned features.

    Returns
    -------
    torch.nn.Module
        ``sbi``'s ``CNNEmbedding`` (or ``FCEmbedding`` below :data:`MIN_CNN_LENGTH` values),
        taking ``x`` of shape ``(batch, n_channels * length)``.
    """
    from sbi.neural_nets.embedding_nets import CNNEmbedding, FCEmbedding

    if n_channels < 1 or length < 1:
        raise ValueError(
            f"trace_embedding: need n_channels, length >= 1, got {n_channels}, {length}"
        )
    if length < MIN_CNN_LENGTH:
        return FCEmbedding(input_dim=n_channels * length, output_dim=output_dim, num_hiddens=64)
    n_layers = 2 if length <= 256 else 3 if length <= 2048 else 4
    pool = max(2, math.ceil((length / _TARGET_LENGTH) ** (1 / n_layers)))
    while _cnn_length(length, n_layers, pool) < 1:
        pool -= 1
    channels = [8, 16, 32, 32][:n_layers]
    return CNNEmbedding(
        input_shape=(length,),
        in_channels=n_channels,
        out_channels_per_layer=channels,
        num_conv_layers=n_layers,
        num_linear_layers=2,
        num_linear_units=64,
        output_dim=output_dim,
        kernel_size=_KERNEL,
        pool_kernel_size=pool,
    )


def _backend_label(backend_cls: type) -> str:
    return getattr(backend_cls, "__name__", str(backend_cls)).replace("Backend", "").lower()


def _takes_embedding(backend_cls: type) -> bool:
    return getattr(backend_cls, "embedding_argument", "embedding_net") is not None


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
    from ..backends._sbi import SbiBackend

    defaults = features.default_estimator_options() if issubclass(backend_cls, SbiBackend) else {}
    if defaults:
        estimator_options = {**defaults, **(estimator_options or {})}
    return embedding_net, estimator_options
