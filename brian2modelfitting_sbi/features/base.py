"""The feature-provider protocol and composition of providers.

A provider turns a :class:`~brian2modelfitting_sbi.simulation.SimulationResult` into an array
``(n_samples, n_features)``. Per-trace features are laid out feature-major: column
``f * n_traces + k`` holds feature ``f`` of stimulus ``k``; :meth:`FeatureProvider.names`
spells that order out (``"v.mean[0]"``, ``"v.mean[1]"``, ...).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import Brian2SbiError, ProblemError, UserCallableError
from ..simulation.network import Recording
from ..simulation.result import SimulationResult


class FeatureProvider(ABC):
    """Maps simulation results to summary features.

    Subclasses implement :meth:`recording`, :meth:`names` and :meth:`compute`. Providers must
    be picklable with cloudpickle, since they travel to the worker that ran the simulation.
    """

    @abstractmethod
    def recording(self) -> Recording:
        """What the simulation must record for these features."""

    @abstractmethod
    def names(self, n_traces: int) -> list[str]:
        """Feature names in column order, for ``n_traces`` stimuli."""

    @abstractmethod
    def compute(self, result: SimulationResult) -> np.ndarray:
        """Features of every sample: float array ``(result.n_samples, n_features)``."""

    def default_embedding_net(self, n_features: int):  # noqa: ANN201 - torch is imported lazily
        """An embedding net that learns from these features, or None (features used as is)."""
        return None

    def default_estimator_options(self) -> dict:
        """Estimator options these features need (e.g. ``z_score_x``); the user's override."""
        return {}

    def discrete_columns(self, n_traces: int) -> list[bool | None] | None:
        """Which columns are discrete (integer-valued, e.g. spike counts), in :meth:`names`
        order: True, False, or None where the provider does not know; None for all.

        Backends that model discrete features (``'mnle'``) use it; where it says None, the
        integer-valued columns of the simulated features count as discrete (the user's
        ``discrete_columns=`` overrides both).
        """
        return None

    def bind(self, problem) -> FeatureProvider:  # noqa: ANN001 - avoid an import cycle
        """Check the provider against a problem before anything runs; return it bound.

        A provider that keeps something of the problem (a chosen variable, a scale) returns a
        bound copy and leaves itself unchanged, so one provider can serve several
        Inferencers. Subclasses raise :class:`~brian2modelfitting_sbi.errors.ProblemError`
        for features that ask for variables the problem does not observe.
        """
        rec = self.recording()
        for var in rec.variables:
            if var not in problem.outputs:
                raise ProblemError(
                    f"features: {type(self).__name__} needs the variable {var!r}, but the observed "
                    f"outputs are {sorted(problem.outputs)}"
                )
        if rec.spikes and not problem.has_spikes and problem.threshold is None:
            raise ProblemError(
                f"features: {type(self).__name__} needs spikes; give threshold= (and reset=) "
                f"so that the model spikes"
            )
        return self

    def __add__(self, other: FeatureProvider) -> FeatureProvider:
        return CombinedFeatures([self, other])


def observed_features(provider: FeatureProvider, problem: Any) -> np.ndarray:
    """The provider's features of ``problem``'s observed data, checked: ``(1, k)`` floats.

    Computed before any simulation, so that a feature function that fails or returns
    something else than numbers is reported at once, with the feature and the trace.

    Raises
    ------
    UserCallableError
        The provider (or a user function in it) failed or returned the wrong type or shape.
    ProblemError
        The observed data give non-finite features.
    """
    names = provider.names(problem.n_traces)
    label = type(provider).__name__
    try:
        values = provider.compute(SimulationResult.from_observed(problem))
    except UserCallableError as exc:
        raise UserCallableError(f"on the observed data: {exc}") from exc
    except Brian2SbiError:
        raise
    except Exception as exc:
        raise UserCallableError(
            f"features: {label}.compute failed on the observed data: {type(exc).__name__}: {exc}"
        ) from exc
    arr = None
    if not isinstance(values, str | bytes) and values is not None:
        arr = np.asarray(values)
    if arr is None or arr.dtype.kind not in "biuf":
        raise UserCallableError(
            f"features: {label}.compute returned {type(values).__name__} on the observed data, "
            f"expected a float array of shape (1, {len(names)})"
        )
    if arr.shape != (1, len(names)):
        raise UserCallableError(
            f"features: {label}.compute returned shape {arr.shape} on the observed data, "
            f"expected (1, {len(names)}) (one row, one column per feature name)"
        )
    x_o = arr.astype(float)
    if not np.all(np.isfinite(x_o)):
        bad = [n for n, v in zip(names, x_o.reshape(-1), strict=True) if not np.isfinite(v)]
        raise ProblemError(
            f"features: the observed data give non-finite values for {bad}; choose features "
            f"defined for the recordings (e.g. no spike-based feature without spikes)"
        )
    return x_o


def feature_major(values: np.ndarray) -> np.ndarray:
    """``(n_samples, n_traces, n_features)`` → ``(n_samples, n_features * n_traces)``."""
    n, k, f = values.shape
    return values.transpose(0, 2, 1).reshape(n, f * k)


def per_trace_names(prefix: str, feature_names: Sequence[str], n_traces: int) -> list[str]:
    """Names in feature-major order: ``prefix.feature[trace]``."""
    return [f"{prefix}.{f}[{k}]" for f in feature_names for k in range(n_traces)]


class CombinedFeatures(FeatureProvider):
    """Several providers side by side; columns are concatenated in the given order."""

    def __init__(self, providers: Sequence[FeatureProvider]) -> None:
        flat: list[FeatureProvider] = []
        for p in providers:
            flat.extend(p.providers if isinstance(p, CombinedFeatures) else [p])
        self.providers = flat

    def recording(self) -> Recording:
        return Recording.merge(p.recording() for p in self.providers)

    def names(self, n_traces: int) -> list[str]:
        return [n for p in self.providers for n in p.names(n_traces)]

    def compute(self, result: SimulationResult) -> np.ndarray:
        return np.concatenate([p.compute(result) for p in self.providers], axis=1)

    def discrete_columns(self, n_traces: int) -> list[bool | None] | None:
        out: list[bool | None] = []
        for p in self.providers:
            declared = p.discrete_columns(n_traces)
            width = len(p.names(n_traces))
            out.extend([None] * width if declared is None else declared)
        return None if all(d is None for d in out) else out

    def bind(self, problem) -> FeatureProvider:  # noqa: ANN001
        bound = copy.copy(self)  # the providers given by the user are not changed
        bound.providers = [p.bind(problem) for p in self.providers]
        return bound
