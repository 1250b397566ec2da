"""One record per round of simulations; everything else is derived from the records.

A :class:`Round` holds what a round produced (its ``theta``, ``x``) and where ``theta`` came
from (its ``proposal``: None for the prior). The :class:`History` of an inference is the tuple
of its rounds; the training data, the feature scale and the proposals are read from it, never
kept in step by hand.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from brian2 import Quantity

from ..errors import ProblemError
from ..priors import ParameterSpace
from ..scaling import feature_scale
from ..simulation import describe_invalid

__all__ = ["SAVED_POSTERIOR", "History", "Round", "given_round", "make_round"]

#: The proposal of a loaded round that was drawn from a posterior: files store that a round
#: came from a posterior, not the posterior itself.
SAVED_POSTERIOR = "posterior (not saved)"


@dataclass(frozen=True, eq=False)
class Round:
    """Record of one round of simulations.

    Attributes
    ----------
    index : int
        The round's number, from 1.
    theta : numpy.ndarray
        Its parameter sets ``(n, d)`` in SI units.
    x : numpy.ndarray
        Their features ``(n, k)`` (rows of invalid simulations included).
    proposal : object
        What ``theta`` was drawn from: None for the prior, else the posterior (or
        :data:`SAVED_POSTERIOR` for a round loaded from a file).
    n_invalid : int
        Simulations whose features are NaN or infinite.
    invalid_ranges : dict
        Name → (lowest, highest) Quantity of the invalid simulations' parameters.
    timings : tuple of ChunkTiming
        Where and how long each chunk of the round ran, measured in the workers (empty for a
        loaded round or chunks read from a store).
    """

    index: int
    theta: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    proposal: Any = field(default=None, repr=False)
    n_invalid: int = 0
    invalid_ranges: dict[str, tuple[Quantity, Quantity]] = field(default_factory=dict)
    timings: tuple = field(default=(), repr=False)

    @property
    def n_simulations(self) -> int:
        """Simulations run in this round (invalid ones included)."""
        return len(self.theta)

    @property
    def from_prior(self) -> bool:
        """Whether ``theta`` was drawn from the prior."""
        return self.proposal is None


def make_round(
    index: int,
    space: ParameterSpace,
    theta: np.ndarray,
    x: np.ndarray,
    proposal: Any,
    feature_names: Sequence[str],
    timings: Sequence[Any] = (),
) -> Round:
    """The record of a finished round; warns (``RuntimeWarning``) about invalid simulations."""
    valid = np.all(np.isfinite(x), axis=1)
    bad = theta[~valid]
    ranges = {}
    if len(bad):
        lo = space.to_quantities(bad.min(axis=0))
        hi = space.to_quantities(bad.max(axis=0))
        ranges = {name: (lo[name], hi[name]) for name in space.names}
        where = ", ".join(f"{k} in [{a}, {b}]" for k, (a, b) in ranges.items())
        where += f"; most often non-finite: {describe_invalid(x, list(feature_names))}"
        warnings.warn(
            f"round {index}: {len(bad)} of {len(theta)} simulations gave NaN/inf "
            f"features ({where})",
            RuntimeWarning,
            stacklevel=4,
        )
    return Round(index, theta, x, proposal, int(len(bad)), ranges, tuple(timings))


def given_round(
    index: int,
    space: ParameterSpace,
    theta: Any,
    x: Any,
    proposal: Any,
    feature_names: Sequence[str],
) -> Round:
    """The record of a round simulated elsewhere: ``theta`` ``(n, d)`` SI floats and ``x``
    ``(n, k)`` features (arrays or tensors), checked; warns about rows outside the prior box."""
    theta = _rows("theta", theta, space.dim, f"parameter values {space.names}")
    x = _rows("x", x, len(feature_names), "features")
    if len(theta) != len(x):
        raise ProblemError(f"theta, x: {len(theta)} parameter sets but {len(x)} feature rows")
    slack = 1e-6 * space.width
    if np.any(theta < space.lower - slack) or np.any(theta > space.upper + slack):
        warnings.warn(
            "theta: some parameter sets lie outside the prior bounds", RuntimeWarning, stacklevel=4
        )
    return make_round(index, space, theta, x, proposal, feature_names)


def _rows(name: str, value: Any, columns: int, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.atleast_2d(np.asarray(value, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != columns or len(arr) == 0:
        raise ProblemError(
            f"{name}: expected an array (n, {columns}) of {what}, got shape {np.shape(value)}"
        )
    return arr


@dataclass(frozen=True)
class History:
    """The rounds of an inference, in order, and what is derived from them.

    Attributes
    ----------
    dim, n_features : int
        Shape of a row of ``theta`` and of ``x`` (for empty histories).
    rounds : tuple of Round
        The records.
    """

    dim: int
    n_features: int
    rounds: tuple[Round, ...] = ()

    def add(self, new: Round) -> History:
        """A history with ``new`` appended."""
        return History(self.dim, self.n_features, (*self.rounds, new))

    def __len__(self) -> int:
        return len(self.rounds)

    @functools.cached_property
    def theta(self) -> np.ndarray:
        """Every round's parameter sets ``(n, d)``."""
        if not self.rounds:
            return np.empty((0, self.dim))
        return np.concatenate([r.theta for r in self.rounds])

    @functools.cached_property
    def x(self) -> np.ndarray:
        """Every round's features ``(n, k)``."""
        if not self.rounds:
            return np.empty((0, self.n_features))
        return np.concatenate([r.x for r in self.rounds])

    @functools.cached_property
    def x_scale(self) -> np.ndarray:
        """The per-feature scale, from the first round (fixed once training starts)."""
        return feature_scale(self.rounds[0].x)

    @property
    def n_simulations(self) -> int:
        """Simulations over all rounds."""
        return sum(r.n_simulations for r in self.rounds)

    @property
    def proposals(self) -> list[Any]:
        """Each round's proposal (None for the prior)."""
        return [r.proposal for r in self.rounds]

    @property
    def sequential(self) -> bool:
        """Whether some round was drawn from a posterior."""
        return any(not r.from_prior for r in self.rounds)
