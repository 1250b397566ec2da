"""The read-only state of :class:`~brian2modelfitting_sbi.Inferencer`, as properties.

:class:`StateProperties` exposes what one inference holds (its parameter space, the
:class:`~brian2modelfitting_sbi.inference.rounds.History` of rounds, the trained backend and
the :class:`~brian2modelfitting_sbi.posterior.Posterior` at the observed data) without letting
it be set from outside: each property reads the Inferencer's internals (``_space``,
``_history``, ``_backend``, ``_result``, ``problem``, ``features``) and changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from brian2 import Quantity

from ..errors import require_fitted
from ..posterior import Posterior
from ..priors import ParameterSpace
from ..scaling import x_to_torch
from ..simulation.measurement import recording_noise
from .rounds import Round

__all__ = ["StateProperties"]


class StateProperties:
    """Feature names, parameter space, rounds, training data, backend and posterior."""

    @property
    def feature_names(self) -> list[str]:
        """Names of the summary features, in column order."""
        return self.features.names(self.problem.n_traces)

    @property
    def space(self) -> ParameterSpace | None:
        """The parameter space (None before bounds are set)."""
        return self._space

    @property
    def rounds(self) -> list[Round]:
        """One record per round (theta, x, proposal, invalid counts)."""
        return list(self._history.rounds)

    @property
    def theta(self) -> np.ndarray:
        """Parameter sets of every round ``(n, d)``, SI floats."""
        return self._history.theta

    @property
    def x(self) -> np.ndarray:
        """Features of every round ``(n, k)`` (invalid rows included)."""
        return self._history.x

    @property
    def proposals(self) -> list[Any]:
        """What each round was drawn from (None for the prior)."""
        return self._history.proposals

    @property
    def sequential(self) -> bool:
        """Whether some round was drawn from a posterior (not the prior)."""
        return self._history.sequential

    @property
    def n_simulations(self) -> int:
        """Simulations run so far (all rounds, invalid ones included)."""
        return self._history.n_simulations

    @property
    def backend(self) -> Any:
        """The trained backend (None before :meth:`train`)."""
        return self._backend

    @property
    def result(self) -> Posterior | None:
        """The :class:`~brian2modelfitting_sbi.posterior.Posterior` at the observed data."""
        return self._result

    @property
    def posterior(self) -> Any:
        """The sbi posterior at the observed features (None before :meth:`build_posterior`)."""
        return None if self._result is None else self._result.estimate

    @property
    def x_scale(self) -> np.ndarray:
        """Per-feature scale applied before torch (see :mod:`~brian2modelfitting_sbi.scaling`),
        from the first round of simulations (fixed once training starts)."""
        require_fitted(self._history.rounds, "simulations", "simulate() (or infer())")
        return self._history.x_scale

    def x_to_torch(self, x: np.ndarray) -> torch.Tensor:
        """Features ``(n, k)`` in SI units → the float32 tensor the estimator sees."""
        return x_to_torch(np.atleast_2d(x), self.x_scale)

    @property
    def recording_noise(self) -> dict[str, Quantity]:
        """Measurement noise estimated from each observed trace output (Quantity per variable;
        see :func:`~brian2modelfitting_sbi.simulation.measurement.estimate_noise`)."""
        return recording_noise(self.problem)
