"""The stand-in for the features of a loaded inference (names and observed values only)."""

from __future__ import annotations

import copy

import numpy as np

from ..features.base import FeatureProvider
from ..problem import Problem
from ..simulation import Recording, SimulationResult


class SavedFeatures(FeatureProvider):
    """Stands in for the features of a loaded inference: names and observed values only.

    Simulated data cannot be summarized without the feature code; :meth:`compute` explains
    how to pass it (``Inferencer.load(path, features=...)``).
    """

    def __init__(self, names: list[str], recording: Recording, x_o: np.ndarray) -> None:
        self._names = list(names)
        self._recording = recording
        self._x_o = np.asarray(x_o, dtype=float).reshape(1, -1)
        self._problem: Problem | None = None

    def recording(self) -> Recording:
        return self._recording

    def names(self, n_traces: int) -> list[str]:
        return list(self._names)

    def bind(self, problem: Problem) -> FeatureProvider:
        bound = copy.copy(self)
        bound._problem = problem
        return bound

    def _is_observed(self, result: SimulationResult) -> bool:
        problem = self._problem
        if problem is None or result.n_samples != 1:
            return False
        for var in problem.trace_outputs:
            if var in result.traces and not np.array_equal(
                result.traces[var][0], problem.outputs[var]
            ):
                return False
        return True

    def compute(self, result: SimulationResult) -> np.ndarray:
        if self._is_observed(result):
            return self._x_o.copy()
        raise RuntimeError(
            "features: this Inferencer was loaded from a file, which holds the feature names "
            "and values but not the feature code; load it with "
            "Inferencer.load(path, features=...) to simulate more"
        )
