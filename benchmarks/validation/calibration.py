"""SBC and TARP calibration of a trained backend, with sbi's diagnostics.

Posterior samples for every test observation are drawn once (vectorized over observations)
and handed to both :func:`sbi.diagnostics.run_sbc` and :func:`sbi.diagnostics.run_tarp`
through :class:`DrawnSamples`, so the two checks share one (costly, for MCMC) set of draws.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from sbi.diagnostics import check_sbc, check_tarp, run_sbc, run_tarp

from brian2modelfitting_sbi.backends._sbi import posterior_arguments
from brian2modelfitting_sbi.backends.ensemble import member_kind

#: Batched MCMC for SNLE/SNRE test observations: a few chains per observation.
CALIBRATION_MCMC = {
    "sample_with": "mcmc",
    "mcmc_method": "slice_np_vectorized",
    "mcmc_parameters": {"num_chains": 4, "warmup_steps": 30, "thin": 1},
}


#: SNPE test posteriors: candidates drawn per observation, per sample kept.
POOL = 10
#: The same for FMPE/NPSE, whose samples are ODE/SDE solutions (costly in such numbers).
VECTOR_FIELD_POOL = 2
#: SNLE/SNRE test posteriors with ``sampler='sir'``: prior candidates per observation.
SIR_CANDIDATES = 50_000


def _direct_in_box(posterior: Any, xs: torch.Tensor, n: int, factor: int = POOL) -> torch.Tensor:
    """``n`` samples per observation inside the prior box, like sbi's rejection sampling.

    sbi rejects flow samples outside the box until it has ``n`` per observation, which for a
    few test observations in the corners of the box (a small-budget flow putting >99% of its
    mass outside) stalls for minutes. Here ``factor * n`` (:data:`POOL` unless given)
    candidates are drawn per observation without rejection and the first ``n`` inside the box
    are kept; an observation with fewer
    inside resamples those (with replacement), and one with none keeps its candidates clamped
    to the box (its ranks then show the leak).
    """
    with torch.no_grad():
        pool = posterior.sample_batched(
            (factor * n,), x=xs, reject_outside_prior=False, show_progress_bars=False
        )  # (factor * n, B, d), unit-box coordinates
    inside = ((pool >= 0) & (pool <= 1)).all(dim=-1)
    out = torch.empty((n, *pool.shape[1:]))
    generator = torch.Generator().manual_seed(0)
    for j in range(pool.shape[1]):
        kept = pool[inside[:, j], j]
        if len(kept) >= n:
            out[:, j] = kept[:n]
        elif len(kept) > 0:
            out[:, j] = kept[torch.randint(len(kept), (n,), generator=generator)]
        else:
            out[:, j] = pool[:n, j].clamp(0, 1)
    return out


class DrawnSamples:
    """Stands in for a posterior in sbi's diagnostics: returns samples drawn beforehand."""

    def __init__(self, samples: torch.Tensor) -> None:
        self.samples = samples  # (n_samples, n_observations, dim)

    def sample_batched(self, sample_shape: Any, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """The stored samples (shape checked against the request)."""
        n = int(torch.Size(sample_shape).numel())
        if n != self.samples.shape[0] or len(x) != self.samples.shape[1]:
            raise ValueError("requested samples do not match the stored draws")
        return self.samples


@dataclass
class Calibration:
    """Calibration figures of one posterior."""

    sbc_ks_pvalue: float  # smallest KS p-value of SBC rank uniformity over parameters
    sbc_c2st_ranks: float  # largest C2ST of ranks vs uniform over parameters
    tarp_atc: float  # TARP area to curve (0: calibrated, <0: overconfident)
    tarp_ks_pvalue: float
    sampler: str

    @property
    def calibrated(self) -> bool:
        """SBC ranks uniform (Bonferroni over 3 parameters at 5%) and TARP consistent."""
        return self.sbc_ks_pvalue > 0.05 / 3 and self.tarp_ks_pvalue > 0.05

    def as_text(self) -> str:
        """Short summary for tables: ``SBC p / TARP ATC``."""
        ok = "ok" if self.calibrated else "NOT calibrated"
        return f"SBC p={self.sbc_ks_pvalue:.2f} TARP atc={self.tarp_atc:+.3f} ({ok})"


def draw_sir(backend: Any, xs: torch.Tensor, n: int, n_candidates: int = SIR_CANDIDATES) -> tuple:
    """Sampling-importance-resampling from the prior, per observation.

    The estimator's posterior (the same potential the rejection sampler users get draws
    from) weights ``n_candidates`` prior draws; ``n`` are resampled in proportion to the
    weights. Nearly exact when the effective sample size is well above ``n`` (reported in the
    sampler's name), unlike a few short MCMC chains, whose correlated draws bias SBC ranks.
    """
    rejection = backend.trainer.build_posterior(
        backend.density_estimator, **posterior_arguments({"sample_with": "rejection"})
    )
    generator = torch.Generator().manual_seed(0)
    out, ess = None, []
    for j in range(len(xs)):
        rejection.set_default_x(xs[j : j + 1])
        theta = backend.prior.sample((n_candidates,))
        with torch.no_grad():
            log_w = rejection.potential(theta) - backend.prior.log_prob(theta)
        w = torch.softmax(log_w.double(), dim=0)
        ess.append(float(1.0 / torch.sum(w**2)))
        idx = torch.multinomial(w, n, replacement=True, generator=generator)
        if out is None:
            out = torch.empty((n, len(xs), theta.shape[-1]))
        out[:, j] = theta[idx]
    median_ess = sorted(ess)[len(ess) // 2]
    return out, f"SIR ({n_candidates} prior draws/x, median ESS {median_ess:.0f})"


def draw_batched(
    backend: Any, posterior: Any, xs: torch.Tensor, n: int, sampler: str = "mcmc"
) -> tuple:
    """``(samples (n, len(xs), d), sampler name)``, vectorized over the observations.

    Amortized backends sample their estimator (SNPE's flow, FMPE's ODE, NPSE's SDE);
    SNLE/SNRE use batched MCMC (``sampler='mcmc'``) or :func:`draw_sir` (``'sir'``).
    """
    if getattr(backend, "amortized", False):  # SNPE's flow, FMPE's ODE, NPSE's SDE
        pool = POOL if member_kind(backend).__name__ == "SNPEBackend" else VECTOR_FIELD_POOL
        name = backend.last_sampling.get("sample_with") or "direct"
        return _direct_in_box(posterior, xs, n, pool), f"{name} ({pool}x pool, kept in the box)"
    if sampler == "sir":
        return draw_sir(backend, xs, n)
    mcmc = backend.trainer.build_posterior(
        backend.density_estimator, **posterior_arguments(CALIBRATION_MCMC)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "large number of chains"
        samples = mcmc.sample_batched((n,), x=xs, show_progress_bars=False)
    return samples, "mcmc (4 chains/x, 30 warmup)"


def calibrate(
    backend: Any,
    posterior: Any,
    thetas: torch.Tensor,
    xs: torch.Tensor,
    n_samples: int = 100,
    sampler: str = "mcmc",
) -> Calibration:
    """SBC (marginal ranks) and TARP for test pairs drawn from the prior.

    ``thetas`` and ``xs`` are in the coordinates the estimator works in (the Inferencer's
    ``space.to_torch`` and ``x_to_torch``).
    """
    samples, sampler = draw_batched(backend, posterior, xs, n_samples, sampler)
    drawn = DrawnSamples(samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ranks, dap = run_sbc(
            thetas, xs, drawn, num_posterior_samples=n_samples, show_progress_bar=False
        )
        checks = check_sbc(ranks, thetas, dap, num_posterior_samples=n_samples)
        ecp, alpha = run_tarp(
            thetas, xs, drawn, num_posterior_samples=n_samples, show_progress_bar=False
        )
    atc, tarp_p = check_tarp(ecp, alpha)
    return Calibration(
        float(checks["ks_pvals"].min()),
        float(checks["c2st_ranks"].max()),
        float(atc),
        float(tarp_p),
        sampler,
    )
