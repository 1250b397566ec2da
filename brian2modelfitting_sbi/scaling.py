"""The torch boundary for features: x in SI units → float32 tensors of moderate magnitude.

Features come in SI units, so some are tiny (a current of 1e-10 A, a squared error of 1e-8
V²). sbi's standardizing layers floor standard deviations at small constants and float32 keeps
~7 digits, so such features would lose their information. Every feature column is therefore
divided by a power of ten close to its magnitude in the first round of simulations before it
reaches torch (see :func:`feature_scale`). The scale is fixed once the estimator is trained on
it and derives from the stored first-round features, so a saved inference rebuilds it.
"""

from __future__ import annotations

import numpy as np
import torch


def feature_scale(x: np.ndarray) -> np.ndarray:
    """Per-feature power-of-ten scale from training features ``(n, k)`` (NaN rows ignored).

    The scale is the power of ten nearest to the column's magnitude, ``max(median |x|,
    std x)``: columns of one kind (the samples of a raw voltage trace, flat or not) get the
    same scale, which keeps sbi's structured z-scoring valid. All-zero columns get scale 1.
    """
    x = np.asarray(x, dtype=float)
    finite = np.all(np.isfinite(x), axis=1)
    if finite.sum() < 2:
        return np.ones(x.shape[1])
    x = x[finite]
    magnitude = np.maximum(np.median(np.abs(x), axis=0), np.std(x, axis=0))
    scale = np.ones_like(magnitude)
    ok = np.isfinite(magnitude) & (magnitude > 0)
    scale[ok] = 10.0 ** np.round(np.log10(magnitude[ok]))
    return scale


def x_to_torch(x: np.ndarray, scale: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """Features ``(n, k)`` in SI units → float32 tensor divided by ``scale``."""
    return torch.as_tensor(np.asarray(x, dtype=float) / scale, dtype=torch.float32, device=device)
