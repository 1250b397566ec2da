"""Training and sampling defaults, the torch thread policy, and a silent training tracker.

The defaults here are what :meth:`Inferencer.infer` uses; every value can be overridden
through ``training=`` / ``sampling=`` (user values win). They were chosen from measurements
(``python -m benchmarks.validation.profile_training`` and ``python -m benchmarks.validation``;
figures in ``docs/benchmarks.rst``), not inherited from sbi:

- **Where an epoch's time goes.** With one torch thread, one gradient step of sbi's default
  MAF costs a fixed ~5 ms (five transforms, gradient clipping, the Adam update) plus ~12 µs
  per sample. At sbi's batch of 200 the fixed part is two thirds of the time; at 1,000 it is a
  third. Hence a batch of about a tenth of the simulations (:func:`default_batch_size`), which
  keeps about ten gradient steps per epoch.
- **Learning rate** grows with the square root of the batch (:func:`default_learning_rate`),
  so the larger batches do not need more epochs.
- **Early stopping** waits :data:`PATIENCE` epochs without improvement (sbi: 20); the epoch
  cap (:func:`default_max_epochs`) bounds the work to about :data:`SAMPLE_BUDGET`
  per-sample gradient evaluations, within :data:`MIN_EPOCH_CAP`-:data:`MAX_EPOCH_CAP`.
- **Sampling** for SNLE/SNRE (:func:`default_sampling_options`): sbi's vectorized slice
  sampler with many short chains started by importance resampling, instead of 20 chains with
  200 warmup steps each.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

#: sbi 0.27's own training defaults (the benchmark's "sbi defaults" column).
SBI_TRAINING_DEFAULTS: dict[str, Any] = {
    "training_batch_size": 200,
    "learning_rate": 5e-4,
    "stop_after_epochs": 20,
    "max_num_epochs": 2**31 - 1,
}
#: sbi 0.27's own posterior settings for SNLE/SNRE (MCMCPosterior's defaults: 20 chains,
#: 200 warmup steps, no thinning, chains initialised by resampling 10,000 prior draws).
SBI_SAMPLING_DEFAULTS: dict[str, Any] = {
    "sample_with": "mcmc",
    "mcmc_method": "slice_np_vectorized",
    "mcmc_parameters": {},
}

#: Number of gradient steps per epoch the batch size aims at.
BATCHES_PER_EPOCH = 10
#: Smallest and largest default batch.
MIN_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000
#: Above this many features per simulation, a step is dominated by computation, not by its
#: fixed cost, so large batches stop paying off; the largest batch shrinks in proportion.
WIDE_X = 100
#: Largest batch for very wide x (raw traces).
MIN_WIDE_BATCH_SIZE = 200
#: Learning rate at a batch of 1,000 (scaled by the square root of the batch size).
LEARNING_RATE_AT_1000 = 2e-3
#: Epochs without improvement of the validation loss before training stops.
PATIENCE = 10
#: Patience for small training sets, whose validation loss is noisy.
SMALL_PATIENCE = 20
#: Below this many simulations, :data:`SMALL_PATIENCE` applies.
SMALL_N = 2000
#: Per-sample gradient evaluations the epoch cap allows (≈ 25-40 s on one core for the
#: default MAF), and the range of the cap.
SAMPLE_BUDGET = 2_000_000
MIN_EPOCH_CAP = 200
MAX_EPOCH_CAP = 1000
#: Posterior settings of SNLE/SNRE: vectorized slice sampling, many short chains.
MCMC_PARAMETERS: dict[str, Any] = {
    "num_chains": 100,
    "thin": 1,
    "warmup_steps": 10,
    "init_strategy": "resample",
}


def _check_sizes(num_simulations: int, x_dim: int) -> None:
    for name, value in (("num_simulations", num_simulations), ("x_dim", x_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")


def default_batch_size(num_simulations: int, x_dim: int) -> int:
    """About :data:`BATCHES_PER_EPOCH` steps per epoch, within the batch limits.

    The largest batch is :data:`MAX_BATCH_SIZE` for up to :data:`WIDE_X` features and shrinks
    in proportion beyond (never below :data:`MIN_WIDE_BATCH_SIZE`).
    """
    _check_sizes(num_simulations, x_dim)
    largest = MAX_BATCH_SIZE
    if x_dim > WIDE_X:
        largest = max(MIN_WIDE_BATCH_SIZE, MAX_BATCH_SIZE * WIDE_X // x_dim)
    smallest = min(MIN_BATCH_SIZE, largest)
    return int(min(largest, max(smallest, num_simulations // BATCHES_PER_EPOCH)))


def default_learning_rate(batch_size: int) -> float:
    """Adam's learning rate for a batch: :data:`LEARNING_RATE_AT_1000` × √(batch/1000)."""
    return float(LEARNING_RATE_AT_1000 * math.sqrt(batch_size / 1000))


def default_patience(num_simulations: int) -> int:
    """Epochs without validation improvement before stopping."""
    return SMALL_PATIENCE if num_simulations < SMALL_N else PATIENCE


def default_max_epochs(num_simulations: int) -> int:
    """Epoch cap: :data:`SAMPLE_BUDGET` sample-gradients, within the cap's range."""
    return int(min(MAX_EPOCH_CAP, max(MIN_EPOCH_CAP, SAMPLE_BUDGET // num_simulations)))


def default_training_options(num_simulations: int, x_dim: int) -> dict[str, Any]:
    """Training settings for ``num_simulations`` simulations of ``x_dim`` features.

    Parameters
    ----------
    num_simulations : int
        Simulations the estimator is trained on (all rounds).
    x_dim : int
        Number of features per simulation.

    Returns
    -------
    dict
        Keyword arguments of the sbi trainer's ``train``.
    """
    batch = default_batch_size(num_simulations, x_dim)
    return {
        "training_batch_size": batch,
        "learning_rate": default_learning_rate(batch),
        "stop_after_epochs": default_patience(num_simulations),
        "max_num_epochs": default_max_epochs(num_simulations),
        "show_train_summary": False,
    }


def default_sampling_options(backend: str) -> dict[str, Any]:
    """``build_posterior`` settings for a backend class name.

    SNLE and SNRE sample with sbi's vectorized slice sampler, :data:`MCMC_PARAMETERS`;
    SNPE samples directly from its flow (sbi's default, nothing to set).
    """
    if backend in ("SNLEBackend", "SNREBackend"):
        return {
            "sample_with": "mcmc",
            "mcmc_method": "slice_np_vectorized",
            "mcmc_parameters": dict(MCMC_PARAMETERS),
        }
    return {}


class SilentTracker:
    """A training tracker that records nothing.

    sbi's trainers otherwise open a TensorBoard writer under ``./sbi-logs`` (a directory in
    the user's working directory and a background thread per trainer); the training summary
    stays available in the trainer's ``summary``.
    """

    log_dir = None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:  # noqa: D102
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:  # noqa: D102
        pass

    def log_params(self, params: dict[str, Any]) -> None:  # noqa: D102
        pass

    def add_figure(self, name: str, figure: Any, step: int | None = None) -> None:  # noqa: D102
        pass

    def flush(self) -> None:  # noqa: D102
        pass


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
