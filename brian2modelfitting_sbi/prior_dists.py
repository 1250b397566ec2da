"""User priors (torch distributions over SI values) and their view in sbi's unit-box coordinates.

A prior given as ``prior=`` is a torch distribution over the parameters in SI units (a
conductance in siemens, a capacitance in farads), columns in the parameter order. sbi works
in unit-box coordinates (see :meth:`ParameterSpace.to_torch
<brian2modelfitting_sbi.priors.ParameterSpace.to_torch>`); :class:`UnitBoxPrior` is the same
distribution seen there (change of variables, Jacobian included).

:func:`describe` turns the usual torch distributions into plain data (for saving and for the
simulation store's identity) and :func:`rebuild` turns that back, without pickle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.distributions import Distribution, constraints

from .problem import ProblemError

#: Draws used to check that a prior's mass lies inside the bounds.
SUPPORT_DRAWS = 10_000


class UnitBoxPrior(Distribution):
    """A prior over SI values, seen in the unit-box coordinates ``u`` sbi works in.

    Parameters
    ----------
    prior : torch.distributions.Distribution
        The prior over SI values, event shape ``(d,)``.
    to_unit, from_unit : callable
        SI tensor → unit-box tensor and back (float64 inside).
    log_det : callable
        ``log |d theta / d u|`` at SI values ``(n, d)`` → ``(n,)``.
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(
        self,
        prior: Distribution,
        to_unit: Callable[[torch.Tensor], torch.Tensor],
        from_unit: Callable[[torch.Tensor], torch.Tensor],
        log_det: Callable[[torch.Tensor], torch.Tensor],
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ) -> None:
        self.base = prior
        self._to_unit, self._from_unit, self._log_det = to_unit, from_unit, log_det
        with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
            torch.manual_seed(0)
            self._inside = prior.sample()  # a point in the support, and the prior's dtype
            self._draws = prior.sample((1000,)).double()
        d = prior.event_shape[0]
        self._low = torch.as_tensor(np.zeros(d) if low is None else low, dtype=torch.float32)
        self._high = torch.as_tensor(np.ones(d) if high is None else high, dtype=torch.float32)
        super().__init__(event_shape=prior.event_shape, validate_args=False)

    @property
    def support(self) -> Any:  # noqa: D102 - torch's interface
        # the prior's declared support in the unit box (the whole box if it declares none),
        # so that sbi rejects posterior samples outside it and bounds its MCMC transform
        return constraints.independent(constraints.interval(self._low, self._high), 1)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:  # noqa: B008, D102
        with torch.no_grad():
            theta = self.base.sample(sample_shape).double()
        return self._to_unit(theta).float()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:  # noqa: D102
        u = value.double()
        inside = torch.all((u >= self._low.double()) & (u <= self._high.double()), dim=-1)
        theta = self._from_unit(u.clamp(0.0, 1.0))
        base = _base_log_prob(self.base, theta, self._inside)
        out = base + self._log_det(theta)
        out = torch.where(inside & torch.isfinite(out), out, torch.full_like(out, -np.inf))
        return out.to(value.dtype)

    @property
    def mean(self) -> torch.Tensor:  # noqa: D102 - sbi may ask for it (from fixed draws)
        return self._to_unit(self._draws).float().mean(0)

    @property
    def variance(self) -> torch.Tensor:  # noqa: D102
        return self._to_unit(self._draws).float().var(0)


def _base_log_prob(prior: Distribution, theta: torch.Tensor, inside_point: torch.Tensor
                   ) -> torch.Tensor:
    """``prior.log_prob`` in the prior's dtype, -inf (not an error) outside its support."""
    dtype = inside_point.dtype
    value = theta.to(dtype)
    try:
        inside = prior.support.check(value)
        if inside.dim() > 1:
            inside = inside.all(-1)
    except NotImplementedError:
        inside = torch.ones(value.shape[:-1], dtype=torch.bool)
    safe = torch.where(inside.unsqueeze(-1), value, inside_point.expand_as(value))
    validate = getattr(prior, "_validate_args", False)
    prior._validate_args = False
    try:
        lp = prior.log_prob(safe).double()
    finally:
        prior._validate_args = validate
    return torch.where(inside, lp, torch.full_like(lp, -np.inf))


# ---------------------------------------------------------------------- checks
def as_event_prior(prior: Any, d: int, names: list[str]) -> Distribution:
    """``prior`` as a distribution with event shape ``(d,)``, or a clear error."""
    if not isinstance(prior, Distribution):
        raise ProblemError(
            f"prior: expected a torch.distributions.Distribution over {names} (SI units), "
            f"got {type(prior).__name__}"
        )
    shape = tuple(prior.batch_shape) + tuple(prior.event_shape)
    if tuple(prior.event_shape) == () and tuple(prior.batch_shape) == (d,):
        prior = torch.distributions.Independent(prior, 1)
    if tuple(prior.event_shape) != (d,) or tuple(prior.batch_shape) != ():
        raise ProblemError(
            f"prior: expected a distribution over {d} parameters {names} (event shape "
            f"({d},)), got batch shape {tuple(prior.batch_shape)} and event shape "
            f"{tuple(prior.event_shape)} (shape {shape})"
        )
    return prior


def support_bounds(prior: Distribution, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-parameter ``(lower, upper)`` of the support ``prior`` declares (SI), or None.

    Read from interval constraints, sbi's ``MultipleIndependent`` parts and affine/exp
    transforms of a bounded base; None when the support is not a box it can read.
    """
    if isinstance(prior, torch.distributions.TransformedDistribution):
        base = support_bounds(prior.base_dist, d)
        if base is None:
            return None
        lo, hi = base
        for t in prior.transforms:
            if isinstance(t, torch.distributions.AffineTransform):
                loc, scale = _vector(t.loc, d), _vector(t.scale, d)
                a, b = loc + scale * lo, loc + scale * hi
                lo, hi = np.minimum(a, b), np.maximum(a, b)
            elif isinstance(t, torch.distributions.ExpTransform):
                lo, hi = np.exp(lo), np.exp(hi)
            else:
                return None
        return lo, hi
    if type(prior).__name__ == "MultipleIndependent":
        parts = []
        for part in prior.dists:
            k = int(np.prod(part.event_shape)) if len(part.event_shape) else 1
            got = support_bounds(part, k)
            if got is None:
                return None
            parts.append(got)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    try:
        base = prior.support
    except NotImplementedError:
        return None
    while isinstance(base, constraints.independent):
        base = base.base_constraint
    lo = getattr(base, "lower_bound", None)
    hi = getattr(base, "upper_bound", None)
    if lo is None or hi is None:
        return None
    return _vector(lo, d), _vector(hi, d)


def _vector(value: Any, d: int) -> np.ndarray:
    array = np.asarray(torch.as_tensor(value, dtype=torch.float64).detach())
    return np.broadcast_to(array, (d,)).astype(float)


def check_support(
    prior: Distribution, lower: np.ndarray, upper: np.ndarray, names: list[str]
) -> None:
    """The prior's mass must lie inside ``[lower, upper]`` (SI), or a clear error.

    A declared interval support is compared with the bounds; otherwise (and in addition)
    :data:`SUPPORT_DRAWS` draws must fall inside them.
    """
    tol = 1e-6 * (upper - lower)
    declared = support_bounds(prior, len(lower))
    if declared is not None:
        lo, hi = declared
        outside = (lo < lower - tol) | (hi > upper + tol)
        bad = [n for n, o in zip(names, outside, strict=True) if o]
        if bad:
            raise ProblemError(
                f"prior: its support reaches outside the bounds for {bad} (support "
                f"[{lo.tolist()}, {hi.tolist()}], bounds [{lower.tolist()}, "
                f"{upper.tolist()}] in SI units); the prior must lie inside the bounds"
            )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        draws = prior.sample((SUPPORT_DRAWS,)).double().numpy()
    outside = (draws < lower - tol) | (draws > upper + tol) | ~np.isfinite(draws)
    if outside.any():
        bad = [n for n, o in zip(names, outside.any(axis=0), strict=True) if o]
        raise ProblemError(
            f"prior: {int(outside.any(axis=1).sum())} of {SUPPORT_DRAWS} draws fall outside "
            f"the bounds for {bad} (bounds [{lower.tolist()}, {upper.tolist()}] in SI units); "
            f"give a prior supported inside the bounds (e.g. Uniform, Beta scaled into them), "
            f"or widen the bounds"
        )


# ---------------------------------------------------------------------- plain data
_ARGS = {
    "Uniform": ("low", "high"),
    "Normal": ("loc", "scale"),
    "LogNormal": ("loc", "scale"),
    "Beta": ("concentration1", "concentration0"),
    "Gamma": ("concentration", "rate"),
    "HalfNormal": ("scale",),
    "Exponential": ("rate",),
    "MultivariateNormal": ("loc", "covariance_matrix"),
    "Laplace": ("loc", "scale"),
}


def describe(prior: Distribution) -> dict[str, Any]:
    """Plain-data description of ``prior`` (JSON-able), or a ProblemError for other kinds.

    Handled: the distributions of :data:`_ARGS`, ``Independent`` (sbi's ``BoxUniform``
    included), sbi's ``MultipleIndependent`` and ``TransformedDistribution`` with affine and
    exp transforms.
    """
    name = type(prior).__name__
    if name in _ARGS:
        return {
            "type": name,
            "args": {a: getattr(prior, a).detach().cpu().double().tolist() for a in _ARGS[name]},
        }
    if isinstance(prior, torch.distributions.Independent):  # BoxUniform too
        return {
            "type": "Independent",
            "base": describe(prior.base_dist),
            "ndims": int(prior.reinterpreted_batch_ndims),
        }
    if name == "MultipleIndependent":
        return {"type": "MultipleIndependent", "parts": [describe(p) for p in prior.dists]}
    if isinstance(prior, torch.distributions.TransformedDistribution):
        return {
            "type": "TransformedDistribution",
            "base": describe(prior.base_dist),
            "transforms": [_describe_transform(t) for t in prior.transforms],
        }
    raise ProblemError(
        f"prior: a {name} cannot be stored as plain data (handled: {sorted(_ARGS)}, "
        f"Independent/BoxUniform, MultipleIndependent, TransformedDistribution with "
        f"AffineTransform/ExpTransform)"
    )


def _as_list(value: Any) -> Any:
    return torch.as_tensor(value, dtype=torch.float64).tolist()


def _describe_transform(t: Any) -> dict[str, Any]:
    if isinstance(t, torch.distributions.AffineTransform):
        return {"type": "Affine", "loc": _as_list(t.loc), "scale": _as_list(t.scale)}
    if isinstance(t, torch.distributions.ExpTransform):
        return {"type": "Exp"}
    raise ProblemError(
        f"prior: a transform {type(t).__name__} cannot be stored as plain data "
        f"(handled: AffineTransform, ExpTransform)"
    )


def rebuild(data: dict[str, Any]) -> Distribution:
    """The distribution described by :func:`describe` (float32 parameters)."""
    kind = data["type"]
    if kind in _ARGS:
        cls = getattr(torch.distributions, kind)
        args = {k: torch.tensor(v, dtype=torch.float32) for k, v in data["args"].items()}
        return cls(**args)
    if kind == "Independent":
        return torch.distributions.Independent(rebuild(data["base"]), int(data["ndims"]))
    if kind == "MultipleIndependent":
        from sbi.utils import MultipleIndependent

        return MultipleIndependent([rebuild(p) for p in data["parts"]], validate_args=False)
    if kind == "TransformedDistribution":
        transforms = []
        for t in data["transforms"]:
            if t["type"] == "Affine":
                transforms.append(
                    torch.distributions.AffineTransform(
                        torch.tensor(t["loc"], dtype=torch.float32),
                        torch.tensor(t["scale"], dtype=torch.float32),
                    )
                )
            elif t["type"] == "Exp":
                transforms.append(torch.distributions.ExpTransform())
            else:
                raise ValueError(f"unknown transform {t['type']!r}")
        return torch.distributions.TransformedDistribution(rebuild(data["base"]), transforms)
    raise ValueError(f"unknown prior type {kind!r}")
