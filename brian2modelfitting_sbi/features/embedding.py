"""Embedding nets for learned features (raw traces).

:func:`trace_embedding` sizes a 1-D CNN from ``sbi.neural_nets.embedding_nets`` from the number
of channels (variables × stimuli) and the trace length: enough convolution + pooling layers to
bring the length down to about 16 values, then fully connected layers. Very short traces get a
fully connected net instead.
"""

from __future__ import annotations

import math

__all__ = ["trace_embedding"]

#: Below this trace length a fully connected net is used instead of a CNN.
MIN_CNN_LENGTH = 32
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
