"""Measured training and sampling defaults of the sbi backends.

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
- **Early stopping** waits at least :data:`PATIENCE_STEPS` gradient steps without
  improvement (:func:`default_patience`: 30 epochs up to ~10,000 simulations, fewer above,
  never fewer than :data:`PATIENCE`; sbi: 20 epochs of batch 200); the epoch cap
  (:func:`default_max_epochs`) bounds the work to about :data:`SAMPLE_BUDGET` per-sample
  gradient evaluations, within :data:`MIN_EPOCH_CAP`-:data:`MAX_EPOCH_CAP`. A fixed 12 epochs
  (ten steps each) trained SNPE at 10,000 simulations of the passive membrane 2.9-3.5x faster
  than sbi's defaults (C2ST 0.550 vs 0.533), but stopped one HH training in four on a plateau
  (``benchmarks/bench_training_seeds.py``) and left narrow posteriors under-resolved.
- **SNRE** and **FMPE** keep sbi's batch, learning rate and patience (they declare
  ``training_defaults = 'sbi'``, see :data:`TRAINING_DEFAULTS`); NPSE takes the measured ones.
  SNRE's loss settings (25 atoms, patience 30) are its declared ``loss_defaults``
  (:data:`SNRE_LOSS_DEFAULTS`).
- **Sampling** for SNLE/SNRE (:func:`default_sampling_options`): rejection sampling from
  the prior whenever at least :data:`MIN_REJECTION_ACCEPTANCE` of the prior draws would be
  accepted (estimated from :data:`ACCEPTANCE_PILOT` draws), which gave the same C2ST as MCMC
  in a fraction of the time; otherwise sbi's vectorized slice sampler with
  :data:`MCMC_PARAMETERS` (fewer warmup steps than sbi's 200: the chains start from
  posterior-weighted prior draws).
"""

from __future__ import annotations

import math
import numbers
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
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 1000
#: Above this many features per simulation, a step is dominated by computation, not by its
#: fixed cost, so large batches stop paying off; the largest batch shrinks in proportion.
#: (At 1,000 features, batch 1,000 still made an SNPE epoch 1.6x and an SNLE epoch 1.2x
#: cheaper than batch 200.)
WIDE_X = 1000
#: Largest batch for very wide x (raw traces).
MIN_WIDE_BATCH_SIZE = 200
#: Legacy spellings of the backend argument (class names) and the policies they stand for;
#: a backend class declares its own (``training_defaults``, ``sampling_defaults``).
LEGACY_NAMES: dict[str, tuple[str, str]] = {
    "SNPEBackend": ("measured", "direct"),
    "SNLEBackend": ("measured", "auto"),
    "SNREBackend": ("sbi", "auto"),
}
#: Kinds of training defaults a backend can declare: this package's measured ones, or sbi's.
TRAINING_DEFAULTS = ("measured", "sbi")
#: Kinds of sampling defaults: sampling directly from the estimator (SNPE), or choosing
#: between rejection sampling and MCMC per observation (SNLE, SNRE).
SAMPLING_DEFAULTS = ("direct", "auto")
#: Backends (class names) that keep sbi's batch, learning rate and patience. SNRE (sbi's NRE_B)
#: draws its contrastive atoms with a batch × batch matrix, so its epochs get slower with
#: larger batches (0.24 s at 200, 0.41 s at 1,000 for 10,000 simulations), and its noisy
#: validation loss made a larger learning rate with a shorter patience stop too early (C2ST
#: 0.74 vs 0.67-0.72 at 1,000 simulations). Its time is won by the sampler instead. FMPE:
#: larger batches did not make its epochs cheaper, and sbi's settings matched the C2ST.
SBI_SETTINGS_BACKENDS = ("SNREBackend", "FMPEBackend")

#: SNRE's loss settings, measured on the validation benchmark (10,000 simulations): sbi's
#: NRE_B (10 atoms, patience 20) reached C2ST 0.59-0.64 but failed SBC (p 0.001-0.002, with
#: MCMC and with importance-resampled test posteriors alike), as did NRE_C (C2ST 0.58, p
#: 0.001) and BNRE (C2ST 0.65-0.74, p 0.001); 25 atoms and patience 30 passed SBC (p 0.02-0.03)
#: at C2ST 0.63, TARP about 0, for twice the training time.
SNRE_LOSS_DEFAULTS: dict = {"num_atoms": 25, "stop_after_epochs": 30}
#: Loss settings of the legacy spellings (class names), as their classes declare them.
LEGACY_LOSS_DEFAULTS: dict[str, dict[str, Any]] = {"SNREBackend": SNRE_LOSS_DEFAULTS}


def _policy(backend: Any, index: int) -> str | None:
    """A backend's declared policy (``backend``: a class, an instance or a legacy name)."""
    if backend is None:
        return None
    if isinstance(backend, str):
        return LEGACY_NAMES.get(backend, ("measured", "direct"))[index]
    attr = ("training_defaults", "sampling_defaults")[index]
    return getattr(backend, attr, None)
#: Learning rate at a batch of 1,000 (scaled by the square root of the batch size).
LEARNING_RATE_AT_1000 = 2e-3
#: Fewest epochs without improvement of the validation loss before training stops.
PATIENCE = 12
#: Gradient steps without improvement before training stops (in epochs, within
#: :data:`PATIENCE`-:data:`MAX_PATIENCE`). On the bundled HH recording (two parameters, a
#: posterior 1/700 of the prior wide) 12 epochs of ten steps stopped one training seed in
#: four on a plateau (validation loss -3.9 against -6.1 to -6.7 nats) and 30 epochs none; in a
#: truncated second round, 30 epochs reached -9.0 nats against -8.0, with a g_na posterior
#: 2.3x narrower (benchmarks/bench_training_seeds.py, bench_noise_width.py).
PATIENCE_STEPS = 300
#: Most epochs without improvement (small budgets have few steps per epoch).
MAX_PATIENCE = 30
#: Fraction of the simulations sbi holds out for validation (its default).
VALIDATION_FRACTION = 0.1
#: Per-sample gradient evaluations the epoch cap allows (≈ 80-120 s on one core for the
#: default MAF), and the range of the cap. With a patience of 12 epochs measured runs stopped
#: well before 3 million; with 300 steps, SNPE on hh4 at 10,000 simulations reached that cap
#: (301 epochs), hence 6 million.
SAMPLE_BUDGET = 6_000_000
MIN_EPOCH_CAP = 300
MAX_EPOCH_CAP = 1000
#: ``sample_with`` value that lets SNLE/SNRE choose between rejection sampling and MCMC.
AUTO = "auto"
#: SNLE/SNRE sample by rejection from the prior when the estimated fraction of accepted prior
#: draws is at least this; below it, by MCMC.
MIN_REJECTION_ACCEPTANCE = 1e-3
#: Prior draws used to estimate that fraction.
ACCEPTANCE_PILOT = 10_000
#: MCMC settings of SNLE/SNRE when rejection sampling would be slow: sbi's vectorized slice
#: sampler, chains started by resampling prior draws in proportion to their posterior density.
MCMC_PARAMETERS: dict[str, Any] = {
    "num_chains": 20,
    "thin": 1,
    "warmup_steps": 50,
    "init_strategy": "resample",
}


def _check_sizes(num_simulations: int, x_dim: int) -> None:
    for name, value in (("num_simulations", num_simulations), ("x_dim", x_dim)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")


def default_batch_size(num_simulations: int, x_dim: int, backend: Any = None) -> int:
    """About :data:`BATCHES_PER_EPOCH` steps per epoch, within the batch limits.

    The largest batch is :data:`MAX_BATCH_SIZE` for up to :data:`WIDE_X` features and shrinks
    in proportion beyond (never below :data:`MIN_WIDE_BATCH_SIZE`). Backends that declare
    ``training_defaults = 'sbi'`` keep sbi's batch.
    """
    _check_sizes(num_simulations, x_dim)
    if _policy(backend, 0) == "sbi":
        return int(SBI_TRAINING_DEFAULTS["training_batch_size"])
    largest = MAX_BATCH_SIZE
    if x_dim > WIDE_X:
        largest = max(MIN_WIDE_BATCH_SIZE, MAX_BATCH_SIZE * WIDE_X // x_dim)
    smallest = min(MIN_BATCH_SIZE, largest)
    return int(min(largest, max(smallest, num_simulations // BATCHES_PER_EPOCH)))


def default_learning_rate(batch_size: int) -> float:
    """Adam's learning rate for a batch: :data:`LEARNING_RATE_AT_1000` × √(batch/1000)."""
    return float(LEARNING_RATE_AT_1000 * math.sqrt(batch_size / 1000))


def default_patience(num_simulations: int, batch_size: int | None = None) -> int:
    """Epochs without validation improvement before stopping: :data:`PATIENCE_STEPS`
    gradient steps at ``batch_size`` (default :func:`default_batch_size`), within
    :data:`PATIENCE`-:data:`MAX_PATIENCE` epochs.

    With the default batch (about ten steps per epoch) that is 30 epochs up to about 11,000
    simulations, 17 at 20,000 and 12 from 25,000 on.
    """
    if batch_size is None:
        batch_size = default_batch_size(num_simulations, 1)
    steps = max(1, math.ceil((1 - VALIDATION_FRACTION) * num_simulations / batch_size))
    return int(min(MAX_PATIENCE, max(PATIENCE, math.ceil(PATIENCE_STEPS / steps))))


def default_max_epochs(num_simulations: int) -> int:
    """Epoch cap: :data:`SAMPLE_BUDGET` sample-gradients, within the cap's range."""
    return int(min(MAX_EPOCH_CAP, max(MIN_EPOCH_CAP, SAMPLE_BUDGET // num_simulations)))


def default_training_options(
    num_simulations: int, x_dim: int, backend: Any = None
) -> dict[str, Any]:
    """Training settings for ``num_simulations`` simulations of ``x_dim`` features.

    Parameters
    ----------
    num_simulations : int
        Simulations the estimator is trained on (all rounds).
    x_dim : int
        Number of features per simulation.
    backend : class, instance or str, optional
        The backend, whose declared ``training_defaults`` decides (``'sbi'``: sbi's batch,
        learning rate and patience) and whose ``loss_defaults`` are laid over them; a class
        name (``'SNREBackend'``) is the legacy spelling.

    Returns
    -------
    dict
        Keyword arguments of the sbi trainer's ``train``.
    """
    batch = default_batch_size(num_simulations, x_dim, backend)
    if _policy(backend, 0) == "sbi":
        options = {
            **SBI_TRAINING_DEFAULTS,
            "max_num_epochs": default_max_epochs(num_simulations),
            "show_train_summary": False,
        }
    else:
        options = {
            "training_batch_size": batch,
            "learning_rate": default_learning_rate(batch),
            "stop_after_epochs": default_patience(num_simulations, batch),
            "max_num_epochs": default_max_epochs(num_simulations),
            "show_train_summary": False,
        }
    if isinstance(backend, str):  # the backend's own loss settings (declared, see base)
        options.update(LEGACY_LOSS_DEFAULTS.get(backend, {}))
    elif backend is not None:
        options.update(getattr(backend, "loss_defaults", None) or {})
    return options


def default_sampling_options(backend: Any) -> dict[str, Any]:
    """``build_posterior`` settings for a backend (class, instance or legacy class name).

    SNLE and SNRE use ``sample_with='auto'``: rejection sampling from the prior when
    :func:`estimate_acceptance` predicts at least :data:`MIN_REJECTION_ACCEPTANCE`, else
    sbi's vectorized slice sampler with :data:`MCMC_PARAMETERS` (see
    :func:`resolve_auto_sampling`). SNPE samples directly from its flow (sbi's default).
    """
    if _policy(backend, 1) == "auto":
        return {
            "sample_with": AUTO,
            "mcmc_method": "slice_np_vectorized",
            "mcmc_parameters": dict(MCMC_PARAMETERS),
        }
    return {}


def sampling_options(backend: Any, user: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults of :func:`default_sampling_options` updated with the user's settings.

    User values win. Settings of one method given without ``sample_with`` select that
    method: ``{'mcmc_parameters': {...}}`` means MCMC, ``{'rejection_sampling_parameters':
    {...}}`` rejection sampling, rather than ``'auto'``.
    """
    user = dict(user or {})
    options = default_sampling_options(backend)
    if options.get("sample_with") == AUTO and "sample_with" not in user:
        if "mcmc_parameters" in user or "mcmc_method" in user:
            user["sample_with"] = "mcmc"
        elif "rejection_sampling_parameters" in user:
            user["sample_with"] = "rejection"
    options.update(user)
    if options.get("sample_with") not in (AUTO, "mcmc"):
        options.pop("mcmc_method", None)
        options.pop("mcmc_parameters", None)
    return options


def estimate_acceptance(log_ratio: torch.Tensor, m: float = 1.2) -> float:
    """Acceptance rate of rejection sampling from the prior, estimated from prior draws.

    Parameters
    ----------
    log_ratio : torch.Tensor
        ``log(unnormalised posterior / prior)`` (the log likelihood or log ratio, up to a
        constant) at draws from the prior.
    m : float
        sbi's safety factor on the maximum ratio.

    Returns
    -------
    float
        ``mean(ratio) / (m * max(ratio))`` over the draws. sbi bounds the ratio by a maximum
        found by gradient ascent, which is at least the largest one drawn, so the actual rate
        is at most this estimate.
    """
    finite = log_ratio[torch.isfinite(log_ratio)]
    if finite.numel() == 0:
        return 0.0
    scaled = torch.exp(finite - finite.max())
    return float(scaled.sum() / (log_ratio.numel() * m))


def resolve_auto_sampling(options: dict[str, Any], acceptance: float) -> dict[str, Any]:
    """Replace ``sample_with='auto'`` by ``'rejection'`` or ``'mcmc'`` for an acceptance rate.

    Only the chosen method's settings are kept (``rejection_sampling_parameters``, or
    ``mcmc_method`` and ``mcmc_parameters``); other keys pass through unchanged.
    """
    chosen = "rejection" if acceptance >= MIN_REJECTION_ACCEPTANCE else "mcmc"
    drop = ("mcmc_method", "mcmc_parameters") if chosen == "rejection" else (
        "rejection_sampling_parameters",
    )
    out = {k: v for k, v in options.items() if k not in drop}
    out["sample_with"] = chosen
    return out
