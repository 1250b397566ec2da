"""Parameter space: names, units, bounds and prior; conversions between quantities and arrays.

The box given by the bounds is the default prior: uniform, or log-uniform for the parameters
marked so (``gl=[1*nS, 100*nS, 'log']`` or ``gl=LogUniform(1*nS, 100*nS)``). A ``prior=``
(a torch distribution over the parameters in SI units, columns in name order) replaces it; its
mass must lie inside the bounds, which still give the units, the torch coordinates and the
plot ranges. Values travel as plain float arrays in SI units ``(n, d)`` between modules;
Brian 2 quantities exist only at the user-facing edge and float32 tensors only at the boundary
to torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from brian2 import Quantity, get_unit
from brian2.units.fundamentalunits import get_dimensions

from . import prior_dists
from .arguments import dimensions_of
from .problem import Problem, ProblemError

#: Scales a parameter's bounds can have.
SCALES = ("linear", "log")


@dataclass(frozen=True)
class LogUniform:
    """A log-uniform prior between two bounds, given in place of ``[lower, upper]``.

    ``inf.infer(1000, gl=LogUniform(1*nS, 100*nS))`` is the same as
    ``gl=[1*nS, 100*nS, 'log']``: every decade of the range gets the same prior mass.

    Parameters
    ----------
    lower, upper : Quantity
        The bounds, both > 0, in the parameter's units.
    """

    lower: Any
    upper: Any

    def __iter__(self):  # noqa: D105 - so that it reads like [lower, upper, 'log']
        return iter((self.lower, self.upper, "log"))

    def __len__(self) -> int:  # noqa: D105
        return 3


def _parse_bound(name: str, value: Any, unit: Any) -> tuple[float, float, str]:
    """``[lower, upper]``, ``[lower, upper, 'log']`` or a LogUniform → SI floats and scale."""
    expected = f"[lower, upper] or [lower, upper, 'log'] in {unit!r}"
    if isinstance(value, LogUniform):
        value = list(value)
    if (
        not isinstance(value, Sequence | np.ndarray | Quantity)
        or isinstance(value, str | bytes)
        or np.ndim(value) == 0
        or len(value) not in (2, 3)
    ):
        raise ProblemError(f"bounds[{name!r}]: expected {expected}, got {value!r}")
    scale = "linear"
    if len(value) == 3:
        scale = value[2]
        if not isinstance(scale, str) or scale not in SCALES:
            raise ProblemError(
                f"bounds[{name!r}]: the third entry must be one of {list(SCALES)}, "
                f"got {scale!r}"
            )
        value = value[:2]
    for end in value:
        if isinstance(end, str | bytes) or np.ndim(end) != 0:
            raise ProblemError(f"bounds[{name!r}]: expected two numbers in {unit!r}, got {value!r}")
        if dimensions_of(f"bounds[{name!r}]", end) != get_dimensions(unit):
            raise ProblemError(
                f"bounds[{name!r}]: expected values in units of {unit!r}, got {value!r}"
            )
    try:
        lo, hi = (float(end) for end in value)
    except (TypeError, ValueError):
        raise ProblemError(
            f"bounds[{name!r}]: expected two numbers in {unit!r}, got {value!r}"
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ProblemError(
            f"bounds[{name!r}]: expected finite values (a box prior needs both ends), "
            f"got {value!r}"
        )
    if not lo < hi:
        raise ProblemError(f"bounds[{name!r}]: lower must be < upper, got {value!r}")
    if scale == "log" and lo <= 0:
        raise ProblemError(
            f"bounds[{name!r}]: a log-uniform prior needs bounds > 0, got {value!r}"
        )
    return lo, hi, scale


@dataclass(frozen=True)
class ParameterSpace:
    """Inferred parameters with their units, prior bounds and prior.

    Parameters
    ----------
    names : list of str
        Parameter names, in the column order of every ``theta`` array.
    units : list of brian2 Unit
        The unit of each parameter.
    lower, upper : numpy.ndarray
        Bounds in SI units (plain floats), shape ``(d,)``.
    scales : tuple of str, optional
        ``'linear'`` (uniform prior, the default) or ``'log'`` (log-uniform) per parameter.
    user_prior : torch.distributions.Distribution, optional
        A prior over SI values replacing the (log-)uniform box (see :meth:`with_prior`).
    """

    names: list[str]
    units: list[Any]
    lower: np.ndarray
    upper: np.ndarray
    scales: tuple[str, ...] = ()
    user_prior: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.scales:
            object.__setattr__(self, "scales", ("linear",) * len(self.names))
        object.__setattr__(self, "scales", tuple(self.scales))
        log = np.array([s == "log" for s in self.scales], dtype=bool)
        object.__setattr__(self, "_log", log)
        if np.any(log & (np.asarray(self.lower) <= 0)):
            raise ProblemError("bounds: a log-uniform prior needs bounds > 0")
        description = None
        if self.user_prior is not None:
            try:
                description = prior_dists.describe(self.user_prior)
            except ProblemError:
                description = {"type": type(self.user_prior).__name__, "stored": False}
        object.__setattr__(self, "prior_description", description)

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ compares the bound arrays as tuples, which numpy refuses.
        if not isinstance(other, ParameterSpace):
            return NotImplemented
        return (
            list(self.names) == list(other.names)
            and [repr(u) for u in self.units] == [repr(u) for u in other.units]
            and np.array_equal(self.lower, other.lower)
            and np.array_equal(self.upper, other.upper)
            and self.scales == other.scales
            and self.prior_description == other.prior_description
            and (self.user_prior is None) == (other.user_prior is None)
        )

    __hash__ = None  # mutable arrays inside: not hashable

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return len(self.names)

    @property
    def width(self) -> np.ndarray:
        """Width of the prior box in SI units."""
        return self.upper - self.lower

    @property
    def log_scaled(self) -> np.ndarray:
        """Boolean mask of the log-scaled (log-uniform) parameters."""
        return self._log.copy()

    @classmethod
    def from_bounds(
        cls,
        problem: Problem,
        bounds: Mapping[str, Sequence[Quantity]],
        prior: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ParameterSpace:
        """Validate ``name=[lower, upper]`` bounds against the model's parameters.

        Parameters
        ----------
        problem : Problem
            The model whose parameters are bounded.
        bounds : dict
            ``name -> [lower, upper]``, ``[lower, upper, 'log']`` or :class:`LogUniform`.
        prior : torch.distributions.Distribution, optional
            Replaces the (log-)uniform box, see :meth:`with_prior`.
        extra : dict, optional
            Further parameters (name → unit) that are not the model's, e.g. measurement noise
            levels; they need bounds like the model's.
        """
        extra = dict(extra or {})
        allowed = list(problem.parameter_names) + sorted(extra)
        if not bounds:
            raise ProblemError(
                f"bounds: give a [lower, upper] range for each parameter to infer, "
                f"e.g. {allowed[0] if allowed else 'gL'}=[1*nS, 100*nS]; "
                f"model parameters: {allowed}"
            )
        unknown = sorted(set(bounds) - set(allowed))
        if unknown:
            raise ProblemError(
                f"bounds: {unknown} are not parameters of the model; the model's parameters are "
                f"{allowed} (declare a parameter in the equations as e.g. "
                f"'gL : siemens (constant)')"
            )
        missing = sorted(set(allowed) - set(bounds))
        if missing:
            raise ProblemError(
                f"bounds: no range given for the parameters {missing}; give name=[lower, "
                f"upper] for each, or fix them in param_init or the equations"
            )
        names = sorted(bounds)
        units, lower, upper, scales = [], [], [], []
        for name in names:
            unit = extra[name] if name in extra else problem.parameter_unit(name)
            lo, hi, scale = _parse_bound(name, bounds[name], unit)
            units.append(unit)
            lower.append(lo)
            upper.append(hi)
            scales.append(scale)
        space = cls(names, units, np.array(lower), np.array(upper), tuple(scales))
        return space if prior is None else space.with_prior(prior)

    def with_prior(self, prior: Any) -> ParameterSpace:
        """This space with ``prior`` (torch distribution over SI values) replacing the box.

        The distribution's event shape must be ``(d,)`` (a batch of ``d`` scalar
        distributions is taken as independent), columns in :attr:`names` order, values in SI
        units (siemens, farad, volt...). Its mass must lie inside the bounds: a declared
        interval support is compared with them, and 10,000 draws must fall inside.
        """
        prior = prior_dists.as_event_prior(prior, self.dim, list(self.names))
        prior_dists.check_support(prior, self.lower, self.upper, list(self.names))
        return ParameterSpace(
            list(self.names), list(self.units), self.lower, self.upper, self.scales, prior
        )

    # ------------------------------------------------------------------ conversions
    def to_quantities(self, theta: np.ndarray) -> dict[str, Quantity]:
        """``(n, d)`` or ``(d,)`` SI floats → dict name → Quantity (array or scalar)."""
        theta = np.asarray(theta, dtype=float)
        return {
            name: Quantity(theta[..., j], dim=get_dimensions(unit))
            for j, (name, unit) in enumerate(zip(self.names, self.units, strict=True))
        }

    def to_array(self, params: Mapping[str, Any]) -> np.ndarray:
        """dict name → Quantity (scalars or arrays) → SI float array ``(n, d)`` or ``(d,)``."""
        missing = sorted(set(self.names) - set(params))
        if missing:
            raise ProblemError(f"params: missing values for {missing}")
        cols = []
        for name, unit in zip(self.names, self.units, strict=True):
            value = params[name]
            if dimensions_of(f"params[{name!r}]", value) != get_dimensions(unit):
                raise ProblemError(f"params[{name!r}]: expected units of {unit!r}, got {value!r}")
            col = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(col)):
                raise ProblemError(f"params[{name!r}]: expected finite values, got {value!r}")
            cols.append(col)
        shapes = {c.shape for c in cols}
        if len(shapes) > 1:
            raise ProblemError(
                f"params: every parameter needs the same number of values, got shapes "
                f"{dict(zip(self.names, [c.shape for c in cols], strict=True))}"
            )
        return np.stack(cols, axis=-1)

    def label(self, j: int) -> str:
        """Axis label ``name [unit]`` for parameter ``j``."""
        return f"{self.names[j]} [{self.units[j]}]"

    def display_unit(self, j: int) -> Any:
        """A readable unit for parameter ``j``, chosen from the middle of the prior box."""
        mid = Quantity(0.5 * (self.lower[j] + self.upper[j]), dim=get_dimensions(self.units[j]))
        return get_unit(mid.dim) if mid == 0 else mid.get_best_unit()

    # ------------------------------------------------------------------ torch
    # sbi sees every parameter rescaled to the unit box, u = (theta - lower) / width (for
    # log-scaled parameters, u = log(theta / lower) / log(upper / lower)): its conditioning
    # nets clamp standard deviations below 1e-7, which would erase parameters in SI units (a
    # capacitance of 1e-10 F), and float32 keeps more digits near [0, 1]. The (log-)uniform
    # prior is then the uniform unit box.
    def _unit(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        log = self._log
        u = (theta - self.lower) / self.width
        if log.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                lu = np.log(theta / self.lower) / np.log(self.upper / self.lower)
            u = np.where(log, lu, u)
        return u

    def _si(self, unit: np.ndarray) -> np.ndarray:
        unit = np.asarray(unit, dtype=float)
        theta = self.lower + unit * self.width
        if self._log.any():
            theta = np.where(self._log, self.lower * (self.upper / self.lower) ** unit, theta)
        return theta

    def prior(self, device: str = "cpu") -> torch.distributions.Distribution:
        """The prior in the torch coordinates (see :meth:`to_torch`).

        The uniform unit box for (log-)uniform parameters; a user ``prior=`` seen in those
        coordinates otherwise (:class:`~brian2modelfitting_sbi.prior_dists.UnitBoxPrior`).
        """
        if self.user_prior is not None:
            low = high = None
            declared = prior_dists.support_bounds(self.user_prior, self.dim)
            if declared is not None:
                low = np.clip(self._unit(np.maximum(declared[0], self.lower)), 0.0, 1.0)
                high = np.clip(self._unit(np.minimum(declared[1], self.upper)), 0.0, 1.0)
            return prior_dists.UnitBoxPrior(
                self.user_prior,
                lambda t: torch.as_tensor(self._unit(t.cpu().numpy()), device=device),
                lambda u: torch.as_tensor(self._si(u.cpu().numpy()), device=device),
                lambda t: torch.as_tensor(-self.log_jacobian_at(t.cpu().numpy()), device=device),
                low,
                high,
            )
        from sbi.utils import BoxUniform

        return BoxUniform(
            low=torch.zeros(self.dim, dtype=torch.float32),
            high=torch.ones(self.dim, dtype=torch.float32),
            device=device,
        )

    def to_torch(self, theta: np.ndarray, device: str = "cpu") -> torch.Tensor:
        """SI floats ``(n, d)`` → float32 tensor in the unit-box coordinates sbi works in."""
        return torch.as_tensor(self._unit(theta), dtype=torch.float32, device=device)

    def from_torch(self, values: torch.Tensor) -> np.ndarray:
        """Unit-box coordinates (a tensor from sbi) → SI floats, float64 numpy."""
        return self._si(values.detach().cpu().double().numpy())

    def log_jacobian_at(self, theta: np.ndarray) -> np.ndarray:
        """``log |du/dtheta|`` at SI values ``(n, d)`` → ``(n,)``.

        ``log p_SI(theta) = log p_torch(u) + log_jacobian_at(theta)`` (change of coordinates).
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lin = -np.log(self.width)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = -np.log(np.log(self.upper / self.lower)) - np.log(theta)
        return np.sum(np.where(self._log, log, lin), axis=-1)

    @property
    def log_jacobian(self) -> float:
        """The constant ``log |du/dtheta|`` of linear spaces (see :meth:`log_jacobian_at`)."""
        if self._log.any():
            raise ValueError("log_jacobian: not constant with log-scaled parameters")
        return -float(np.sum(np.log(self.width)))

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` parameter sets from the prior (reproducible with a seeded ``rng``)."""
        if self.user_prior is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(rng.integers(2**63 - 1)))
                draws = self.user_prior.sample((int(n),)).double().numpy()
            # float32 priors round their bounds by ~1e-7: keep every draw inside the box
            return np.clip(draws, self.lower, self.upper)
        return self._si(rng.random((n, self.dim)))

    def saved_prior(self) -> dict:
        """The scales and user prior as plain data for a saved file (pickle-free).

        Raises
        ------
        ProblemError
            If the user prior is of a kind :func:`~brian2modelfitting_sbi.prior_dists.describe`
            cannot store.
        """
        out: dict[str, Any] = {"scales": list(self.scales)}
        if self.user_prior is not None:
            out["prior"] = prior_dists.describe(self.user_prior)
        return out

    def to_json(self) -> dict:
        """Plain-data description (for saving and the simulation store's identity)."""
        out = {
            "names": self.names,
            "units": [repr(u) for u in self.units],
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }
        if any(s != "linear" for s in self.scales):
            out["scales"] = list(self.scales)
        if self.prior_description is not None:
            out["prior"] = self.prior_description
        return out
