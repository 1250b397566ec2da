"""Sampling and MAP search for many observations at once with one estimator (SNPE).

:func:`draw_batched` draws every observation's samples in one network pass per chunk (sbi's
``sample_batched``); :func:`batched_map` climbs all observations' log densities in one batched
gradient ascent. :func:`content_seed` gives a recording a seed from its features, so that it
gets the same samples alone or in any batch.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import torch

from ..threads import torch_threads
from .sampling import seeded

#: Settings of the batched MAP search (gradient ascent from the best posterior samples).
MAP_ITERATIONS = 300
MAP_STARTS = 10
MAP_LEARNING_RATE = 0.01
#: Largest ``n_recordings × n_samples`` drawn in one batched call (sbi warns above 2**21).
MAX_BATCH_DRAWS = 2**20
#: sbi caps ``max_sampling_batch_size × n_recordings`` at this (and warns when it must).
_SBI_BATCH_CAP = 100_000


def content_seed(seed: int | None, x: np.ndarray) -> int | None:
    """A seed for one recording, from ``seed`` and its features: the same recording gets the
    same samples whatever the batch it comes in."""
    if seed is None:
        return None
    digest = hashlib.sha256(np.int64(seed).tobytes() + np.ascontiguousarray(x).tobytes())
    return int.from_bytes(digest.digest()[:4], "little")


def draw_batched(
    posterior: Any, x: torch.Tensor, n: int, seed: int | None, threads: int | None,
    within_prior: bool = True,
) -> torch.Tensor:
    """``n`` samples for each row of ``x`` with one network pass per chunk: ``(B, n, d)``.

    ``within_prior=False`` keeps the estimator's draws outside the prior's support (sbi's
    ``reject_outside_prior=False``): for an estimator trained in a box (zoomed rounds) at
    features whose posterior may lie outside it, where rejection would never finish.
    """
    extra = {} if within_prior else {"reject_outside_prior": False}
    per_chunk = max(1, MAX_BATCH_DRAWS // n)
    out = []
    with seeded(seed), torch_threads(threads), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reject_outside_prior=False.*")
        for start in range(0, len(x), per_chunk):
            chunk = x[start : start + per_chunk]
            samples = posterior.sample_batched(
                (int(n),),
                x=chunk,
                show_progress_bars=False,
                max_sampling_batch_size=max(1, _SBI_BATCH_CAP // len(chunk)),
                **extra,
            )
            out.append(samples.transpose(0, 1))
    return torch.cat(out)


def batched_map(
    estimator: Any,
    x: torch.Tensor,
    starts: torch.Tensor,
    *,
    num_to_optimize: int = MAP_STARTS,
    num_iter: int = MAP_ITERATIONS,
    learning_rate: float = MAP_LEARNING_RATE,
    threads: int | None = 1,
) -> torch.Tensor:
    """MAP in the unit box of every row of ``x`` by one batched gradient ascent.

    Starts from the ``num_to_optimize`` best of ``starts`` ``(B, n, d)`` (posterior samples)
    and climbs the estimator's log density in logit coordinates (which keep the box), like
    sbi's ``posterior.map``. Each start moves independently, so a recording's estimate does
    not depend on the others in the batch. Returns ``(B, d)``.
    """
    eps = 1e-6
    with torch_threads(threads):
        theta0 = starts.transpose(0, 1).clamp(eps, 1 - eps)  # (n, B, d)
        with torch.no_grad():
            lp0 = estimator.log_prob(theta0, condition=x)  # (n, B)
        m = min(int(num_to_optimize), theta0.shape[0])
        top = lp0.topk(m, dim=0).indices  # (m, B)
        index = top.unsqueeze(-1).expand(m, theta0.shape[1], theta0.shape[2])
        best = theta0.gather(0, index)  # (m, B, d)
        best_lp = lp0.gather(0, top)
        u = torch.logit(best).detach().requires_grad_(True)
        optimizer = torch.optim.Adam([u], lr=learning_rate)
        for _ in range(int(num_iter)):
            optimizer.zero_grad()
            theta = torch.sigmoid(u)
            lp = estimator.log_prob(theta, condition=x)
            (grad,) = torch.autograd.grad(-lp.sum(), u)
            u.grad = grad
            with torch.no_grad():
                better = lp > best_lp
                best = torch.where(better.unsqueeze(-1), theta.detach(), best)
                best_lp = torch.where(better, lp.detach(), best_lp)
            optimizer.step()
        with torch.no_grad():
            theta = torch.sigmoid(u)
            lp = estimator.log_prob(theta, condition=x)
            better = lp > best_lp
            best = torch.where(better.unsqueeze(-1), theta, best)
            best_lp = torch.where(better, lp, best_lp)
            winner = best_lp.argmax(dim=0)  # (B,)
            return best[winner, torch.arange(best.shape[1])]
