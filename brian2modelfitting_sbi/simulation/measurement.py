"""Measurement noise on simulated outputs, added to the recorded traces before the features.

Real recordings carry noise from the amplifier and the cell; noise-free simulations compared
with them make features that the noise moves (minima, maxima, slopes) disagree, and the
posterior's width then reflects the simulation budget instead of the data. With
``Inferencer(..., measurement_noise={'v': 0.5*mV})`` every simulated trace of ``v`` gets
Gaussian noise of that standard deviation before its features are computed:

- white: independent at each recorded sample (``{'v': 0.5*mV}``);
- coloured: a stationary Ornstein–Uhlenbeck process with the given time constant
  (``{'v': MeasurementNoise(0.5*mV, tau=2*ms)}``), exact at the recording's sampling step:
  ``e[k] = a e[k-1] + sigma sqrt(1 - a**2) z[k]``, ``a = exp(-dt/tau)``, ``e[0] ~ N(0, sigma**2)``;
- inferred: a level named like a parameter (``{'v': 'sigma_v'}``) is a column of theta with
  bounds given like any other (``inf.infer(..., sigma_v=[0.1*mV, 2*mV])``).

The numbers of sample ``g`` of a round come from its own generator,
``SeedSequence(entropy, spawn_key=(g, 1))`` (the model's ``xi`` noise uses ``(g,)``, see
:mod:`.noise`), so the same seed gives the same noise whatever the chunking, the workers or
the device. Spike outputs are untouched; the observed recordings are never changed.

:func:`estimate_noise` estimates a recording's noise level from its high-frequency residual.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Quantity, get_unit, second
from brian2.units.fundamentalunits import get_dimensions, get_or_create_dimension

from ..problem import SPIKES, Problem, ProblemError
from .result import SimulationResult

#: spawn_key tag of the measurement-noise streams (the model's xi streams have none).
STREAM_TAG = 1


@dataclass(frozen=True)
class MeasurementNoise:
    """Gaussian measurement noise of one output variable.

    Parameters
    ----------
    sigma : Quantity or str
        Standard deviation in the output's units (> 0), or the name of a parameter to infer
        (its bounds are then given like any other parameter's).
    tau : Quantity, optional
        Correlation time of Ornstein–Uhlenbeck (coloured) noise; white noise if None.
    """

    sigma: Any
    tau: Any = None


@dataclass(frozen=True)
class _Entry:
    variable: str
    sigma: float | None  # SI; None when inferred
    parameter: str | None
    tau: float | None  # seconds; None for white noise
    unit: Any


@dataclass(frozen=True)
class MeasurementPlan:
    """Validated measurement noise of a problem (plain, picklable data)."""

    entries: tuple[_Entry, ...]

    @property
    def parameter_units(self) -> dict[str, Any]:
        """Inferred noise levels: parameter name → unit."""
        return {e.parameter: e.unit for e in self.entries if e.parameter is not None}

    @property
    def variables(self) -> list[str]:
        """Output variables that get noise."""
        return [e.variable for e in self.entries]

    def model_part(
        self, names: Sequence[str], theta: np.ndarray
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """The model's parameter names and theta columns (noise levels left out)."""
        noise = set(self.parameter_units)
        keep = [j for j, n in enumerate(names) if n not in noise]
        return tuple(names[j] for j in keep), np.asarray(theta)[:, keep]

    def levels(self, names: Sequence[str], theta: np.ndarray) -> np.ndarray:
        """Noise standard deviation per sample and entry ``(m, n_entries)`` (SI)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        out = np.empty((len(theta), len(self.entries)))
        for i, e in enumerate(self.entries):
            out[:, i] = e.sigma if e.parameter is None else theta[:, list(names).index(e.parameter)]
        return out

    def apply(
        self,
        result: SimulationResult,
        names: Sequence[str],
        theta: np.ndarray,
        entropy: int,
        start: int,
    ) -> SimulationResult:
        """``result`` with noise added to its traces (new arrays; spikes unchanged).

        ``theta`` holds the chunk's parameter sets (all columns, ``names`` order), ``start``
        the round index of its first sample and ``entropy`` the round's seed.
        """
        levels = self.levels(names, theta)
        m = result.n_samples
        traces = dict(result.traces)
        present = [(i, e) for i, e in enumerate(self.entries) if e.variable in traces]
        if not present or m == 0:
            return result
        n_steps = traces[present[0][1].variable].shape[-1]
        for _, e in present:  # new arrays: the monitor's may be views (copy=False)
            traces[e.variable] = np.array(traces[e.variable], dtype=float)
        shape = (len(self.entries), result.n_traces, n_steps)
        for k in range(m):  # one sample at a time: no chunk-sized table of normals
            z = stream(entropy, start + k).standard_normal(shape)
            for i, e in present:
                traces[e.variable][k] += colour(z[i], result.dt, e.tau) * levels[k, i]
        return dataclasses.replace(result, traces=traces)

    def to_json(self) -> list[dict[str, Any]]:
        """Plain data (saving, store identity)."""
        return [
            {
                "variable": e.variable,
                "sigma": e.sigma,
                "parameter": e.parameter,
                "tau": e.tau,
                "dims": [float(v) for v in get_dimensions(e.unit)._dims],
            }
            for e in self.entries
        ]

    def as_argument(self, problem: Problem) -> dict[str, MeasurementNoise]:
        """The ``measurement_noise`` argument this plan was made from (quantities)."""
        out = {}
        for e in self.entries:
            sigma = e.parameter if e.parameter is not None else Quantity(
                e.sigma, dim=get_dimensions(e.unit)
            )
            tau = None if e.tau is None else e.tau * second
            out[e.variable] = MeasurementNoise(sigma, tau)
        return out


def argument_from_json(data: Sequence[Mapping[str, Any]]) -> dict[str, MeasurementNoise]:
    """The ``measurement_noise`` argument from :meth:`MeasurementPlan.to_json` data.

    Levels are SI floats there, with the output's dimensions as 7 exponents.
    """
    out = {}
    for item in data:
        exps = [int(e) if float(e).is_integer() else e for e in item["dims"]]
        dim = get_or_create_dimension(exps)
        sigma = item.get("parameter") or Quantity(float(item["sigma"]), dim=dim)
        tau = None if item.get("tau") is None else float(item["tau"]) * second
        out[str(item["variable"])] = MeasurementNoise(sigma, tau)
    return out


def stream(entropy: int, index: int) -> np.random.Generator:
    """The measurement-noise generator of sample ``index`` of a round seeded with ``entropy``."""
    seq = np.random.SeedSequence(int(entropy), spawn_key=(int(index), STREAM_TAG))
    return np.random.Generator(np.random.PCG64(seq))


def colour(z: np.ndarray, dt: float, tau: float | None) -> np.ndarray:
    """Unit-variance noise from standard normals ``z`` (time on the last axis).

    White (``z`` itself) if ``tau`` is None, else a stationary OU process of correlation
    time ``tau`` sampled every ``dt``: ``corr(e[k], e[k+j]) = exp(-j dt / tau)``.
    """
    if tau is None:
        return z
    from scipy.signal import lfilter

    a = math.exp(-dt / tau)
    drive = z * math.sqrt(1.0 - a * a)
    drive[..., 0] = z[..., 0]  # start in the stationary distribution
    return lfilter([1.0], [1.0, -a], drive, axis=-1)


def plan_measurement(problem: Problem, spec: Mapping[str, Any] | None) -> MeasurementPlan | None:
    """Validate ``measurement_noise`` against the problem's outputs (None: no noise)."""
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return None
    where = "measurement_noise"
    outputs = list(problem.trace_outputs)
    if not isinstance(spec, Mapping):
        raise ProblemError(
            f"{where}: expected a dict output variable -> noise level, e.g. "
            f"{{{outputs[0] if outputs else 'v'!r}: 0.5*mV}}, got {spec!r}"
        )
    entries = []
    taken = set(problem.equations.names) | set(problem.parameter_names) | set(problem.param_init)
    for var in sorted(spec):
        value = spec[var]
        if var == SPIKES:
            raise ProblemError(f"{where}: spike outputs carry no measurement noise; give it for "
                               f"trace outputs {outputs}")
        if var not in outputs:
            raise ProblemError(
                f"{where}: {var!r} is not a recorded output; the trace outputs are {outputs}"
            )
        unit = problem.output_units[var]
        item = value if isinstance(value, MeasurementNoise) else MeasurementNoise(value)
        sigma, parameter = None, None
        if isinstance(item.sigma, str):
            parameter = item.sigma
            if not parameter.isidentifier() or parameter in taken:
                raise ProblemError(
                    f"{where}[{var!r}]: {parameter!r} cannot name a noise parameter (it must be "
                    f"an identifier that is not a model name: {sorted(taken)})"
                )
            taken.add(parameter)
        else:
            sigma = _positive(item.sigma, unit, f"{where}[{var!r}]", "noise level")
        tau = None
        if item.tau is not None:
            tau = _positive(item.tau, second, f"{where}[{var!r}].tau", "correlation time")
        entries.append(_Entry(var, sigma, parameter, tau, get_unit(get_dimensions(unit))))
    return MeasurementPlan(tuple(entries))


def _positive(value: Any, unit: Any, where: str, what: str) -> float:
    if (
        not isinstance(value, Quantity | float | int)
        or isinstance(value, bool)
        or np.ndim(value) != 0
        or get_dimensions(value) != get_dimensions(unit)
    ):
        raise ProblemError(
            f"{where}: expected a {what} in units of {get_unit(get_dimensions(unit))!r} "
            f"(a scalar Quantity > 0, or a parameter name), got {value!r}"
        )
    out = float(value)
    if not (np.isfinite(out) and out > 0):
        raise ProblemError(f"{where}: expected a {what} > 0, got {value!r}")
    return out


# ---------------------------------------------------------------------- estimate
#: The noise counts as significant above this fraction of the traces' range (1st-99th
#: percentile): smaller noise changes no feature that matters.
MIN_RELATIVE_NOISE = 5e-4


def _robust_var(d: np.ndarray) -> float:
    d = d[np.isfinite(d)]
    return (1.4826 * float(np.median(np.abs(d - np.median(d))))) ** 2 if len(d) else 0.0


def estimate_noise(traces: np.ndarray) -> tuple[float, bool]:
    """The white measurement-noise level of traces ``(..., n_steps)``, and whether it matters.

    From the high-frequency residual: the ``k``-th differences of consecutive samples of
    white noise of level ``sigma`` have the variance ``C(2k, k) sigma**2`` (``6 sigma**2``
    for ``k = 2``, ``20 sigma**2`` for ``k = 3``), while a smooth signal adds little to
    them; the level is ``sqrt(v3 / 20)``, with robust variances (``(1.4826 MAD)**2``, which
    ignore spikes and input steps). Model noise (a random walk of step ``s``) adds ``2 s**2``
    and ``6 s**2`` to ``v2`` and ``v3``, so ``(v3 - 3 v2) / 2`` is the white part alone; the
    noise is called significant (measurement noise the simulations should have) when that
    part is at least half the level and the level at least :data:`MIN_RELATIVE_NOISE` of the
    traces' range.
    """
    x = np.asarray(traces, dtype=float)
    if x.shape[-1] < 5:
        return 0.0, False
    v2 = _robust_var(np.diff(x, n=2, axis=-1).ravel())
    v3 = _robust_var(np.diff(x, n=3, axis=-1).ravel())
    sigma = math.sqrt(v3 / 20.0)
    white = math.sqrt(max(0.0, 0.5 * (v3 - 3.0 * v2)))
    finite = x[np.isfinite(x)]
    spread = float(np.subtract(*np.percentile(finite, [99, 1]))) if finite.size else 0.0
    noisy = sigma > 0 and white >= 0.5 * sigma and sigma >= MIN_RELATIVE_NOISE * spread
    return sigma, bool(noisy)


def recording_noise(problem: Problem) -> dict[str, Quantity]:
    """Estimated measurement noise of each observed trace output (see :func:`estimate_noise`)."""
    out = {}
    for var in problem.trace_outputs:
        sigma, _ = estimate_noise(problem.outputs[var])
        out[var] = Quantity(sigma, dim=get_dimensions(problem.output_units[var]))
    return out


def noise_warning(problem: Problem, plan: MeasurementPlan | None) -> str | None:
    """A warning text when recordings look noisy but their simulations get no noise."""
    noisy = []
    covered = set(plan.variables) if plan is not None else set()
    for var in problem.trace_outputs:
        if var in covered:
            continue
        sigma, is_noisy = estimate_noise(problem.outputs[var])
        if is_noisy and sigma > 0:
            level = Quantity(sigma, dim=get_dimensions(problem.output_units[var]))
            noisy.append((var, level))
    if not noisy:
        return None
    found = ", ".join(f"{v!r}: {lvl.in_best_unit(3)}" for v, lvl in noisy)
    arg = ", ".join(f"{v!r}: {lvl.in_best_unit(3).replace(' ', '*')}" for v, lvl in noisy)
    return (
        f"the recordings look noisy (estimated measurement noise {found}) but the simulations "
        f"carry none, so simulated and observed features differ and the posterior's width "
        f"follows the simulation budget; pass measurement_noise={{{arg}}} to Inferencer "
        f"(see Inferencer.recording_noise)"
    )


def bounded_parameters(problem: Problem, plan: MeasurementPlan | None) -> list[str]:
    """Every parameter that takes bounds, sorted: the model's and the inferred noise levels."""
    extra = [] if plan is None else list(plan.parameter_units)
    return sorted({*problem.parameter_names, *extra})
