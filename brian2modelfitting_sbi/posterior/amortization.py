"""Whether a trained estimator gives the posterior of other recordings (amortization).

One trained network conditioned on new features is the posterior of a new recording only
if it was trained on prior draws; :func:`amortization_status` says so, or refuses with the
reason (multi-round SNPE, whose later rounds are not prior draws; a zoomed SNPE is amortized
inside the box of its last round only, see :func:`zoom_region`).
"""

from __future__ import annotations

from typing import Any

from ..errors import NotAmortizedError, require_fitted

__all__ = ["amortization_status", "zoom_region"]


def zoom_region(backend: Any) -> Any:
    """The box a zoomed (truncated multi-round) SNPE estimator was last trained in, or None
    (an ensemble's: its members')."""
    members = getattr(backend, "members", None)
    return getattr(members[0] if members else backend, "region", None)


def amortization_status(
    trained: Any, within_region: bool = False
) -> tuple[bool, str]:
    """``(amortized, reason)`` for a trained inference (a
    :class:`~brian2modelfitting_sbi.posterior.conditioning.TrainedEstimator`).

    Raises :class:`~brian2modelfitting_sbi.errors.NotAmortizedError` for multi-round SNPE
    (refused). With ``within_region``, a multi-round SNPE whose last estimator was trained
    afresh in a box (:func:`zoom_region`) counts as amortized: it is, for recordings whose
    posterior lies inside that box (the trust report's local calibration, whose test
    parameters are posterior draws, is such a use).
    """
    require_fitted(trained.posterior, "posterior", "infer()")
    require_fitted(trained.backend, "posterior", "infer()")
    kind = type(trained.backend).__name__
    amortized = bool(getattr(trained.backend, "amortized", False))
    region = zoom_region(trained.backend) if trained.sequential else None
    if amortized and region is not None and within_region:
        return True, f"{kind} is amortized within the box of its last round"
    if amortized and region is not None:
        raise NotAmortizedError(
            f"{kind} was trained in {trained.n_rounds} rounds: its last estimator learned from "
            f"simulations in a box around the posterior at the training observation (the "
            f"prior restricted to that box), so it is valid for recordings whose posterior "
            f"lies inside that box only. Train one round from the prior to condition on many "
            f"recordings: infer(n_samples, backend='snpe', n_rounds=1, restart=True, ...)"
        )
    if amortized and trained.sequential:
        raise NotAmortizedError(
            f"{kind} was trained in {trained.n_rounds} rounds: from round 2 on, the "
            f"simulations were drawn from the posterior at the training observation, and the "
            f"proposal-corrected estimator is only valid at (and near) that observation, not "
            f"for other recordings. Train one round from the prior to condition on many "
            f"recordings: infer(n_samples, backend='snpe', n_rounds=1, restart=True, ...)"
        )
    if amortized:
        return True, f"{kind} is amortized"
    reason = (
        f"{kind} is not amortized: each recording's posterior needs its own sampling run "
        f"(MCMC or rejection sampling)"
    )
    if trained.sequential:
        reason += (
            f"; moreover its estimator was trained in {trained.n_rounds} rounds on "
            f"simulations concentrated near the training observation, so it is less accurate "
            f"for recordings far from it"
        )
    return False, reason
