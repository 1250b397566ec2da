"""Truncated proposals for sequential NPE (TSNPE, Deistler et al. 2022), zoomed to a box.

A later round draws its parameters from the prior restricted to a box around the
highest-density region of the current posterior at the observation: the smallest
axis-aligned box that holds the posterior's draws whose density exceeds its
``quantile``-quantile (so ``1 - quantile`` of the posterior's mass), widened by
:data:`BOX_MARGIN` of its width on each side, within the prior's support. For the (log-)
uniform box prior the round draws uniformly in that box, and the estimator of that round is
trained afresh on every simulation inside the box with the box as its prior
(:class:`~brian2modelfitting_sbi.backends.snpe.SNPEBackend`): the posterior under the prior
restricted to a box that holds all of its mass is the posterior itself, and the network then
resolves the box rather than the whole prior. Other priors (``prior=``) are sampled by
rejection from the prior itself, inside the density region, and trained on all rounds with
the ordinary maximum-likelihood loss.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

#: Posterior draws that set the density threshold (Deistler et al. use 10^6; the 10^-4
#: quantile of 2 x 10^5 draws is their 20th lowest density).
THRESHOLD_DRAWS = 200_000
#: Posterior mass left outside the truncation region (Deistler et al.: 10^-4).
DEFAULT_QUANTILE = 1e-4
#: The sampling box is widened by this fraction of its width on each side.
BOX_MARGIN = 0.05
#: Draws sampled and evaluated at once (bounds the memory: 200,000 at once took 200 MB for
#: the upstream workload's mixture density network, 20,000 about a tenth of it).
BLOCK = 20_000
#: Candidates drawn per batch, as a multiple of the samples still missing.
OVERSAMPLING = 4
#: Candidates tried at most before giving up (the region is too small to reach).
MAX_CANDIDATES = 100_000_000
#: Fewest threshold draws inside the prior's support that define a region; with fewer (a
#: posterior that has leaked out of the prior box), the round draws from the whole prior.
MIN_INSIDE = 100


class TruncatedPrior(Distribution):
    """The prior restricted to a posterior's highest-density region at one observation.

    Parameters
    ----------
    prior : torch.distributions.Distribution
        The prior in the estimator's coordinates (the unit box for box priors).
    posterior : sbi posterior
        A direct posterior (its default x set), whose density is thresholded.
    quantile : float
        Posterior mass left outside the region.
    n_draws : int
        Posterior draws that set the threshold and the sampling box.
    """

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(
        self,
        prior: Distribution,
        posterior: Any,
        quantile: float = DEFAULT_QUANTILE,
        n_draws: int = THRESHOLD_DRAWS,
    ) -> None:
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"truncation_quantile: expected a number in (0, 1), got {quantile!r}")
        self.prior = prior
        self.posterior = posterior
        self.quantile = float(quantile)
        with torch.no_grad():
            sizes = [min(BLOCK, int(n_draws) - k) for k in range(0, int(n_draws), BLOCK)]
            # raw draws: sbi's rejection of draws outside the prior stalls for a posterior
            # that has leaked out of the box; the region is the part inside the support
            draws = torch.cat([raw_draws(posterior, m) for m in sizes])
            dim = draws.shape[-1]
            draws = draws[torch.isfinite(prior.log_prob(draws))]
            #: Fraction of the posterior's raw draws inside the prior's support.
            self.inside_fraction = len(draws) / max(1, int(n_draws))
            low, high = _support(prior, dim)
            if len(draws) < MIN_INSIDE:
                self.threshold = -math.inf  # no region to speak of: the whole prior
                inside = torch.stack([low, high])
                warnings.warn(
                    f"truncated proposal: only {self.inside_fraction:.2%} of the posterior's "
                    f"draws fall inside the prior box (it has leaked out: too few simulations "
                    f"or too short a training); the next round draws from the whole prior",
                    RuntimeWarning,
                    stacklevel=3,
                )
            else:
                log_q = self._log_q(draws)
                order = torch.sort(log_q).values
                self.threshold = float(order[int(self.quantile * len(order))])
                inside = draws[log_q > self.threshold]
                if len(inside) == 0:
                    inside = draws
        # each side at the region's draws' ``quantile``-quantile of that parameter (not their
        # extreme: a few far draws of a heavy-tailed estimate would span the prior)
        edges = torch.quantile(inside, torch.tensor([self.quantile, 1.0 - self.quantile]), dim=0)
        width = edges[1] - edges[0]
        self.low = torch.maximum(edges[0] - BOX_MARGIN * width, low)
        self.high = torch.minimum(edges[1] + BOX_MARGIN * width, high)
        self.box = _is_unit_box(prior)
        self._support_volume = float(torch.prod(high - low))
        #: Fraction of the candidates accepted by the last :meth:`sample` call.
        self.acceptance: float | None = None
        super().__init__(event_shape=torch.Size([dim]), validate_args=False)

    def _log_q(self, theta: Tensor) -> Tensor:
        # in blocks: a density evaluation holds several copies of its batch (and of x)
        if len(theta) == 0:
            return torch.empty(0)
        return torch.cat([
            self.posterior.log_prob(theta[k : k + BLOCK], norm_posterior=False)
            for k in range(0, len(theta), BLOCK)
        ])

    def accepts(self, theta: Tensor) -> Tensor:
        """Whether each row of ``theta`` lies inside the region: the box (box priors), the
        density region inside the box (other priors)."""
        with torch.no_grad():
            in_box = inside_box(theta, self.low, self.high)
            if self.box or self.threshold == -math.inf:
                return in_box
            return in_box & (self._log_q(theta) > self.threshold)

    @property
    def box_fraction(self) -> float:
        """Volume of the sampling box over that of the prior's support."""
        return float(torch.prod(self.high - self.low)) / self._support_volume

    def _candidates(self, n: int) -> Tensor:
        if self.box:
            return self.low + (self.high - self.low) * torch.rand(n, len(self.low))
        return self.prior.sample((n,))

    def sample(self, sample_shape: tuple[int, ...] = (), **_: Any) -> Tensor:
        """Draws from the truncated prior (keyword arguments of sbi's ``sample`` ignored)."""
        n = int(math.prod(sample_shape))
        if self.box:  # the region is the box: uniform draws, nothing rejected
            self.acceptance = 1.0
            return self._candidates(n).reshape(*sample_shape, -1)
        kept, tried, total = [], 0, 0
        while total < n:
            batch = max(1000, OVERSAMPLING * (n - total))
            if tried + batch > MAX_CANDIDATES:
                raise RuntimeError(
                    f"truncated proposal: {total} of {n} draws accepted from {tried} candidates; "
                    f"the posterior's region is too small to reach by rejection from this "
                    f"prior; use training={{'multi_round': 'combined'}}"
                )
            candidates = self._candidates(batch)
            good = candidates[self.accepts(candidates)]
            kept.append(good)
            tried += batch
            total += len(good)
        self.acceptance = total / tried
        return torch.cat(kept)[:n].reshape(*sample_shape, -1)

    def log_prob(self, value: Tensor) -> Tensor:
        """The prior's log density inside the region, renormalised by its estimated mass
        (the last sampling's acceptance, over the box for box priors); -inf outside."""
        value = torch.as_tensor(value, dtype=torch.float32)
        log_p = self.prior.log_prob(value)
        mass = self.acceptance if self.acceptance is not None else 1.0
        if self.box:
            mass *= self.box_fraction
        inside = self.accepts(value)
        return torch.where(inside, log_p - math.log(max(mass, 1e-300)), -math.inf)


def inside_box(theta: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Whether each row of ``theta`` lies in the box ``[low, high]`` (bounds included)."""
    return torch.all((theta >= low) & (theta <= high), dim=-1)


def raw_draws(posterior: Any, n: int) -> Tensor:
    """``n`` draws of ``posterior`` (at its default x) without rejection outside the prior
    (where sbi allows), without sbi's warning about the draws outside."""
    try:
        with warnings.catch_warnings():  # the draws outside the prior are what we want here
            warnings.filterwarnings("ignore", message=".*reject_outside_prior=False.*")
            return posterior.sample((n,), show_progress_bars=False, reject_outside_prior=False)
    except TypeError:  # a posterior without that option
        return posterior.sample((n,), show_progress_bars=False)


def _support(prior: Distribution, dim: int) -> tuple[Tensor, Tensor]:
    """The prior's box support (the unit box when it declares none)."""
    support = getattr(prior, "support", None)
    support = getattr(support, "base_constraint", support)  # Independent(...) of an interval
    low = getattr(support, "lower_bound", None)
    high = getattr(support, "upper_bound", None)
    if low is None or high is None:
        low, high = torch.zeros(dim), torch.ones(dim)
    low = torch.as_tensor(low, dtype=torch.float32).expand(dim)
    high = torch.as_tensor(high, dtype=torch.float32).expand(dim)
    return low, high


def _is_unit_box(prior: Distribution) -> bool:
    """Whether ``prior`` is uniform on a box (sbi's ``BoxUniform``: a product of uniforms)."""
    base = getattr(prior, "base_dist", prior)
    return isinstance(base, torch.distributions.Uniform)
