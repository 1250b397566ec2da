"""Training and sampling defaults, and the torch thread policy.

The defaults here are what :meth:`Inferencer.infer` uses; every value can be overridden
through ``training=`` / ``sampling=``. See ``benchmarks/`` for the measurements behind them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


def default_training_options(num_simulations: int, x_dim: int) -> dict[str, Any]:
    """Training settings for ``num_simulations`` simulations of ``x_dim`` features."""
    return {
        "training_batch_size": 200,
        "learning_rate": 5e-4,
        "stop_after_epochs": 20,
        "max_num_epochs": 2**31 - 1,
        "show_train_summary": False,
    }


def default_sampling_options(backend: str) -> dict[str, Any]:
    """``build_posterior`` settings for a backend class name."""
    if backend in ("SNLEBackend", "SNREBackend"):
        return {
            "sample_with": "mcmc",
            "mcmc_method": "slice_np_vectorized",
            "mcmc_parameters": {
                "num_chains": 20,
                "thin": 1,
                "warmup_steps": 50,
                "init_strategy": "resample",
            },
        }
    return {}


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (unchanged if None), then restore."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
