"""Parameter space: names, units and bounds; conversions between quantities and arrays.

The box given by the bounds is the default (uniform) prior. Values travel as plain float arrays
in SI units ``(n, d)`` between modules; Brian 2 quantities exist only at the user-facing edge
and float32 tensors only at the boundary to torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from brian2 import Quantity, get_unit
from brian2.units.fundamentalunits import get_dimensions

from .arguments import dimensions_of
from .problem import Problem, ProblemError


@dataclass(frozen=True)
class ParameterSpace:
    """Inferred parameters with their units and prior bounds.

    Parameters
    ----------
    names : list of str
        Parameter names, in the column order of every ``theta`` array.
    units : list of brian2 Unit
        The unit of each parameter.
    lower, upper : numpy.ndarray
        Bounds in SI units (plain floats), shape ``(d,)``.
    """

    names: list[str]
    units: list[Any]
    lower: np.ndarray
    upper: np.ndarray

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ compares the bound arrays as tuples, which numpy refuses.
        if not isinstance(other, ParameterSpace):
            return NotImplemented
        return (
            list(self.names) == list(other.names)
            and [repr(u) for u in self.units] == [repr(u) for u in other.units]
            and np.array_equal(self.lower, other.lower)
            and np.array_equal(self.upper, other.upper)
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

    @classmethod
    def from_bounds(
        cls, problem: Problem, bounds: Mapping[str, Sequence[Quantity]]
    ) -> ParameterSpace:
        """Validate ``name=[lower, upper]`` bounds against the model's parameters."""
        allowed = problem.parameter_names
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
                f"bounds: no range given for the model parameters {missing}; give name=[lower, "
                f"upper] for each, or fix them in param_init or the equations"
            )
        names = sorted(bounds)
        units, lower, upper = [], [], []
        for name in names:
            value = bounds[name]
            unit = problem.parameter_unit(name)
            if (
                not isinstance(value, Sequence | np.ndarray | Quantity)
                or isinstance(value, str | bytes)
                or np.ndim(value) == 0
                or len(value) != 2
            ):
                raise ProblemError(
                    f"bounds[{name!r}]: expected [lower, upper] in {unit!r}, got {value!r}"
                )
            for end in value:
                if isinstance(end, str | bytes) or np.ndim(end) != 0:
                    raise ProblemError(
                        f"bounds[{name!r}]: expected two numbers in {unit!r}, got {value!r}"
                    )
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
            units.append(unit)
            lower.append(lo)
            upper.append(hi)
        return cls(names, units, np.array(lower), np.array(upper))

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
    # sbi sees every parameter rescaled to the unit box, u = (theta - lower) / width: its
    # conditioning nets clamp standard deviations below 1e-7, which would erase parameters
    # in SI units (a capacitance of 1e-10 F), and float32 keeps more digits near [0, 1].
    def prior(self, device: str = "cpu") -> torch.distributions.Distribution:
        """The uniform prior on the unit box (the torch coordinates, see :meth:`to_torch`)."""
        from sbi.utils import BoxUniform

        return BoxUniform(
            low=torch.zeros(self.dim, dtype=torch.float32),
            high=torch.ones(self.dim, dtype=torch.float32),
            device=device,
        )

    def to_torch(self, theta: np.ndarray, device: str = "cpu") -> torch.Tensor:
        """SI floats ``(n, d)`` → float32 tensor in the unit-box coordinates sbi works in."""
        unit = (np.asarray(theta, dtype=float) - self.lower) / self.width
        return torch.as_tensor(unit, dtype=torch.float32, device=device)

    def from_torch(self, values: torch.Tensor) -> np.ndarray:
        """Unit-box coordinates (a tensor from sbi) → SI floats, float64 numpy."""
        unit = values.detach().cpu().double().numpy()
        return self.lower + unit * self.width

    @property
    def log_jacobian(self) -> float:
        """``log p_SI(theta) = log p_torch(u) + log_jacobian`` (change of coordinates)."""
        return -float(np.sum(np.log(self.width)))

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` parameter sets from the box with numpy (reproducible with a seed)."""
        return self.lower + rng.random((n, self.dim)) * self.width

    def to_json(self) -> dict:
        """Plain-data description (for saving)."""
        return {
            "names": self.names,
            "units": [repr(u) for u in self.units],
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }
