"""Summary features: providers that map simulation results to ``(n_samples, n_features)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..problem import SPIKES, Problem, ProblemError
from .base import CombinedFeatures, FeatureProvider, feature_major, per_trace_names
from .callables import CallableFeatures, vectorized
from .catalogue import FEATURES
from .embedding import trace_embedding
from .metrics import (
    EfelFeatures,
    SpikeMetricFeatures,
    TraceMetricFeatures,
    is_metric,
    metric_provider,
)
from .raw import RawTraces

__all__ = [
    "FEATURES",
    "CallableFeatures",
    "CombinedFeatures",
    "EfelFeatures",
    "EphysFeatures",
    "FeatureProvider",
    "RawTraces",
    "SpikeMetricFeatures",
    "TraceMetricFeatures",
    "as_provider",
    "metric_provider",
    "trace_embedding",
    "feature_major",
    "per_trace_names",
    "vectorized",
]


#: Exported names whose module is imported on first use: the feature library's kernels are
#: compiled with numba, whose import takes about 50 MB and 0.3 s that a script bringing its
#: own features never needs. (The architecture tests read this table as imports.)
_LAZY = {"EphysFeatures": "library"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _default_variable(problem: Problem) -> str:
    traces = problem.trace_outputs
    if len(traces) == 1:
        return traces[0]
    if not traces and problem.has_spikes:
        return SPIKES
    raise ProblemError(
        f"features: with several outputs {sorted(problem.outputs)}, give a dict "
        f"{{output_var: [functions]}} so that each function knows which output it reads"
    )


def as_provider(features: Any, problem: Problem) -> FeatureProvider:
    """Turn what the user passed as ``features=`` into a provider bound to ``problem``.

    Accepted: a :class:`FeatureProvider`; a list of callables (applied to the single observed
    output); a dict ``{output_var: [callables or providers]}``; a list mixing providers and
    callables; a brian2modelfitting ``Metric``.
    """
    provider = _convert(features, problem)
    return provider.bind(problem)


def _convert(features: Any, problem: Problem) -> FeatureProvider:
    if isinstance(features, FeatureProvider):
        return features
    if is_metric(features):
        return metric_provider(features)
    if features is None:
        return RawTraces()
    if isinstance(features, Mapping):
        parts = []
        for var, funcs in features.items():
            if var not in problem.outputs:
                raise ProblemError(
                    f"features: {var!r} is not an observed output; outputs are "
                    f"{sorted(problem.outputs)}"
                )
            funcs = [funcs] if callable(funcs) or is_metric(funcs) else list(funcs)
            calls = [f for f in funcs if not is_metric(f)]
            if calls:
                parts.append(CallableFeatures(var, calls))
            parts.extend(metric_provider(f, var) for f in funcs if is_metric(f))
        if not parts:
            raise ProblemError("features: the dict is empty")
        return parts[0] if len(parts) == 1 else CombinedFeatures(parts)
    if callable(features):
        features = [features]
    if isinstance(features, Sequence) and not isinstance(features, str):
        providers: list[FeatureProvider] = []
        funcs: list[Callable] = []
        for k, item in enumerate(features):
            if isinstance(item, FeatureProvider):
                providers.append(item)
            elif is_metric(item):
                providers.append(metric_provider(item))
            elif callable(item):
                funcs.append(item)
            else:
                raise ProblemError(
                    f"features[{k}]: expected a callable, a FeatureProvider or a Metric, "
                    f"got {item!r}"
                )
        if not providers and not funcs:
            raise ProblemError("features: the list is empty")
        if funcs:
            providers.insert(0, CallableFeatures(_default_variable(problem), funcs))
        return providers[0] if len(providers) == 1 else CombinedFeatures(providers)
    raise ProblemError(
        f"features: expected a list of callables, a dict {{output_var: [callables]}}, a "
        f"FeatureProvider, a brian2modelfitting Metric or None, got {features!r}"
    )
