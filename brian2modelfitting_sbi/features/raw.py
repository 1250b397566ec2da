"""Raw (optionally downsampled) traces as features, for a learned embedding.

With ``features=None`` the Inferencer hands the traces themselves to the backend, whose
density estimator learns its own features through an embedding net (by default a 1-D CNN
over time, see :mod:`~brian2modelfitting_sbi.features.embedding`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, second
from brian2.units.fundamentalunits import get_dimensions

from ..problem import Problem, ProblemError
from ..simulation.network import Recording
from ..simulation.result import SimulationResult
from .base import FeatureProvider
from .embedding import trace_embedding

__all__ = ["RawTraces"]


class RawTraces(FeatureProvider):
    """The recorded traces, downsampled by averaging, as the feature vector.

    Columns are laid out trace-major, unlike summary features: variable, then stimulus, then
    time (``x.reshape(n, n_variables * n_traces, n_bins)`` gives one channel per variable and
    stimulus). Each variable is standardized with the mean and standard deviation of its
    observed recordings, so that all values are of order 1 whatever their units.

    Parameters
    ----------
    variables : str or sequence of str, optional
        Observed trace variables to use (default: all of them).
    downsample : int or Quantity
        Average over bins of this many steps, or give the bin duration (e.g. ``0.5*ms``,
        a multiple of dt). A last, shorter bin averages the remaining steps. 1 keeps all.
    """

    def __init__(self, variables: str | Sequence[str] | None = None, downsample: Any = 1) -> None:
        if isinstance(variables, str):
            variables = [variables]
        self.variables = None if variables is None else list(variables)
        if isinstance(downsample, Quantity):
            if get_dimensions(downsample) != second.dim or np.ndim(downsample) or downsample <= 0:
                raise ProblemError(
                    f"downsample: expected a positive number of steps or a duration (e.g. "
                    f"0.5*ms), got {downsample!r}"
                )
        elif isinstance(downsample, bool) or not isinstance(downsample, int | np.integer) or (
            downsample < 1
        ):
            raise ProblemError(
                f"downsample: expected an integer >= 1 or a duration (e.g. 0.5*ms), got "
                f"{downsample!r}"
            )
        self.downsample = downsample
        self._factor = downsample if isinstance(downsample, int | np.integer) else None
        self._scale: dict[str, tuple[float, float]] = {}
        self._n_steps: int | None = None

    def __repr__(self) -> str:
        return f"RawTraces(variables={self.variables!r}, downsample={self.downsample!r})"

    # ------------------------------------------------------------------ protocol
    def recording(self) -> Recording:
        if self.variables is None:
            raise RuntimeError("RawTraces: bind(problem) first, or give variables=")
        return Recording(tuple(self.variables), False)

    def bind(self, problem: Problem) -> RawTraces:
        """Choose the variables, the downsampling factor and the scaling of each variable."""
        bound = copy.copy(self)  # the provider given by the user is not changed
        bound._scale = dict(self._scale)
        traces = problem.trace_outputs
        if not traces:
            raise ProblemError(
                "features: raw traces need an observed state variable (e.g. 'v'); with spike "
                "times only, use summary features such as EphysFeatures(['spike_count', ...])"
            )
        variables = self.variables or traces
        missing = [v for v in variables if v not in traces]
        if missing:
            raise ProblemError(
                f"features: RawTraces variables {missing} are not observed traces ({traces})"
            )
        bound.variables = list(variables)
        if isinstance(self.downsample, Quantity):
            ratio = float(self.downsample) / problem.dt
            factor = int(round(ratio))
            if factor < 1 or abs(ratio - factor) > 1e-6 * ratio:
                raise ProblemError(
                    f"downsample: {self.downsample} is not a multiple of dt "
                    f"({problem.dt * 1000:g} ms)"
                )
            bound._factor = factor
        if bound._factor > problem.n_steps:
            raise ProblemError(
                f"downsample: {bound._factor} steps per bin, but the recordings have only "
                f"{problem.n_steps} steps"
            )
        bound._n_steps = problem.n_steps
        for var in bound.variables:
            data = problem.outputs[var]
            std = float(np.std(data))
            bound._scale[var] = (float(np.mean(data)), std if std > 0 else 1.0)
        return bound

    @property
    def scales(self) -> dict[str, tuple[float, float]]:
        """Variable → (mean, std) of the observed traces, by which they are standardized."""
        return dict(self._scale)

    @property
    def n_bins(self) -> int:
        """Values per trace after downsampling."""
        if self._n_steps is None:
            raise RuntimeError("RawTraces: bind(problem) first")
        return -(-self._n_steps // self._factor)

    def names(self, n_traces: int) -> list[str]:
        return [
            f"{var}[{k}]#{b}" for var in self.variables for k in range(n_traces)
            for b in range(self.n_bins)
        ]

    def compute(self, result: SimulationResult) -> np.ndarray:
        if not self._scale:
            raise RuntimeError("RawTraces: bind(problem) first")
        parts = []
        for var in self.variables:
            values = result.traces[var]
            n_steps = values.shape[-1]
            if self._factor > 1:
                starts = np.arange(0, n_steps, self._factor)
                sizes = np.diff(np.append(starts, n_steps))
                values = np.add.reduceat(values, starts, axis=-1) / sizes
            mean, std = self._scale[var]
            parts.append(((values - mean) / std).reshape(result.n_samples, -1))
        return np.concatenate(parts, axis=1)

    # ------------------------------------------------------------------ learned features
    def default_embedding_net(self, n_features: int):  # noqa: ANN201 - a torch module
        """A 1-D CNN over time with one input channel per variable and stimulus."""
        length = self.n_bins
        if n_features % length:
            raise ValueError(f"{n_features} features are not whole traces of {length} values")
        return trace_embedding(n_features // length, length)

    def discrete_columns(self, n_traces: int) -> list[bool]:
        """Raw trace values are continuous."""
        return [False] * len(self.names(n_traces))

    def default_estimator_options(self) -> dict[str, Any]:
        """Z-score x as one structured block (per-time-step z-scoring breaks on flat parts)."""
        return {"z_score_x": "structured"}
