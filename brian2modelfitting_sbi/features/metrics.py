"""brian2modelfitting metrics as feature providers (filled in by the features issue)."""

from __future__ import annotations

from typing import Any


def is_metric(obj: Any) -> bool:
    """Whether ``obj`` is a brian2modelfitting ``Metric`` instance."""
    try:
        from brian2modelfitting.metric import Metric
    except ImportError:  # pragma: no cover - brian2modelfitting is a dependency
        return False
    return isinstance(obj, Metric)


def metric_provider(metric: Any):  # noqa: ANN201
    """Wrap a brian2modelfitting metric as a feature provider."""
    raise NotImplementedError("metrics as features are not implemented yet")
