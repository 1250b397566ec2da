"""The parameter space of an inference, and the check that noisy recordings get noisy simulations.

The space bounds the model's parameters and the measurement-noise levels to infer (see
:mod:`~brian2modelfitting_sbi.simulation.measurement`); a user ``prior=`` replaces its
(log-)uniform box (see :meth:`~brian2modelfitting_sbi.priors.ParameterSpace.with_prior`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ..priors import ParameterSpace
from ..problem import Problem
from ..simulation.measurement import MeasurementPlan, noise_warning

__all__ = ["make_space", "warn_noise_free"]


def make_space(
    problem: Problem,
    measurement: MeasurementPlan | None,
    current: ParameterSpace | None,
    bounds: Mapping[str, Any],
    prior: Any = None,
) -> ParameterSpace:
    """The space of ``bounds`` (the ``current`` one, with ``prior`` if given, when none).

    Parameters
    ----------
    problem : Problem
        The model whose parameters are bounded.
    measurement : MeasurementPlan or None
        Measurement noise; its inferred levels need bounds like the model's parameters.
    current : ParameterSpace or None
        The space set before (kept when no bounds are given).
    bounds : dict
        ``name -> [lower, upper]``, ``[lower, upper, 'log']`` or a ``LogUniform``.
    prior : torch.distributions.Distribution, optional
        A prior over SI values replacing the box.
    """
    if not bounds and current is not None:
        return current if prior is None else current.with_prior(prior)
    extra = None if measurement is None else measurement.parameter_units
    return ParameterSpace.from_bounds(problem, bounds, prior=prior, extra=extra)


def warn_noise_free(
    problem: Problem, measurement: MeasurementPlan | None, stacklevel: int = 3
) -> None:
    """Warn when the recordings look noisy and their simulations get no measurement noise."""
    message = noise_warning(problem, measurement)
    if message:
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)
