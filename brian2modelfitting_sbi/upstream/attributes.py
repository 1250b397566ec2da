"""Upstream's attribute names and step methods, as a mixin of the Inferencer.

brian2modelfitting's Inferencer exposes its arguments as attributes (``param_names``,
``output_var``, ``input_traces``...) and runs inference step by step (``init_prior``,
``generate_training_data``, ``init_inference``, ``infer_step``...). :class:`UpstreamAttributes`
reads the former from the validated problem and delegates the latter to
:mod:`~brian2modelfitting_sbi.upstream.steps` and :mod:`~brian2modelfitting_sbi.upstream.fitting`;
the attributes upstream keeps as state (``params``, ``n_samples``, ``samples``,
``sbi_device``, ``inference``) are declared here and set by these methods.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, TimedArray, second
from brian2.units.fundamentalunits import get_dimensions

from ..backends import InferenceBackend
from ..problem import SPIKES
from ..simulation.measurement import bounded_parameters
from . import fitting, results, steps
from .arguments import device_name

__all__ = ["UpstreamAttributes"]


class UpstreamAttributes:
    """Upstream's attribute names, read from our problem (a mixin of the Inferencer)."""

    #: Upstream state: the bounds given to ``init_prior``/``infer``.
    params: dict[str, Any] | None = None
    #: Simulations per round of the last ``generate_training_data``/``infer``.
    n_samples: int | None = None
    #: The last array returned by ``sample(shape)`` (what upstream's ``pairplot`` plots).
    samples: np.ndarray | None = None
    #: Torch device of the last ``init_inference``/``infer(sbi_device=...)``.
    sbi_device: str = "cpu"
    #: The backend of the last ``init_inference`` (upstream: the sbi inference object).
    inference: Any = None

    @property
    def param_names(self) -> list[str]:
        """Names of the parameters to infer, sorted (the column order of theta arrays)."""
        return bounded_parameters(self.problem, self.measurement)

    @property
    def dt(self) -> Quantity:
        """The time step."""
        return self.problem.dt * second

    @property
    def sim_time(self) -> Quantity:
        """Simulated duration of each trace."""
        return self.problem.duration * second

    @property
    def n_traces(self) -> int:
        """Number of input traces."""
        return self.problem.n_traces

    @property
    def model(self) -> Any:
        """The model equations (``brian2.Equations``)."""
        return self.problem.equations

    @property
    def output_var(self) -> list[str]:
        """Names of the observed outputs."""
        return list(self.problem.outputs)

    @property
    def output(self) -> list[Any]:
        """The observed outputs with units (spike trains as lists), in ``output_var`` order."""
        out = []
        for name, value in self.problem.outputs.items():
            if name == SPIKES:
                out.append([Quantity(train, dim=second.dim) for train in value])
            else:
                out.append(Quantity(value, dim=get_dimensions(self.problem.output_units[name])))
        return out

    @property
    def output_dim(self) -> list[Any]:
        """Dimensions of the observed outputs."""
        return [get_dimensions(self.problem.output_units[name]) for name in self.problem.outputs]

    @property
    def input_traces(self) -> TimedArray:
        """The (single) input as a ``TimedArray`` ``(n_steps, n_traces)``, as upstream."""
        name, values = next(iter(self.problem.inputs.items()))
        unit = self.problem.input_units[name]
        return TimedArray(Quantity(values.T, dim=get_dimensions(unit)), dt=self.dt)

    @property
    def param_init(self) -> dict[str, Any]:
        """Initial values: quantities, or string expressions as given."""
        eqs = self.problem.equations
        return {
            k: v if isinstance(v, str) else Quantity(v, dim=eqs[k].dim)
            for k, v in self.problem.param_init.items()
        }

    @property
    def method(self) -> str | None:
        """Integration method."""
        return self.problem.method

    @property
    def threshold(self) -> str | None:
        """Spike condition."""
        return self.problem.threshold

    @property
    def reset(self) -> str | None:
        """Reset code."""
        return self.problem.reset

    @property
    def refractory(self) -> Any:
        """Refractoriness."""
        return self.problem.refractory

    # ------------------------------------------------------------------ the step API
    def init_prior(self, **bounds: Sequence[Quantity]) -> Any:
        """Set the prior box; return it as an sbi ``BoxUniform`` over SI floats (upstream)."""
        prior = steps.init_prior(self, bounds)
        self.params = dict(bounds)
        return prior

    def generate_training_data(self, n_samples: int, prior: Any) -> np.ndarray:
        """``n_samples`` parameter sets ``(n, d)`` (SI floats) drawn from ``prior``."""
        theta = steps.generate_training_data(self, n_samples, prior)
        self.n_samples = int(n_samples)
        return theta

    def extract_summary_statistics(self, theta: Any, level: int = 0) -> np.ndarray:
        """Simulate ``theta`` (``(n, d)`` SI floats) and return the features ``(n, k)``.

        ``level`` is accepted for upstream's scripts; the namespace was captured when the
        Inferencer was created.
        """
        return steps.simulate_theta(self, theta)

    def save_summary_statistics(
        self, f: str | os.PathLike, theta: Any = None, x: Any = None
    ) -> None:
        """Save ``theta`` and ``x`` (default: every round so far) to a compressed npz file."""
        steps.save_summary_statistics(self, f, theta, x)

    def load_summary_statistics(self, f: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, x)`` from a file of :meth:`save_summary_statistics` (no pickles)."""
        return steps.load_summary_statistics(f)

    def init_inference(
        self,
        inference_method: str,
        density_estimator_model: str,
        prior: Any,
        sbi_device: str = "cpu",
        **inference_kwargs: Any,
    ) -> InferenceBackend:
        """A fresh, untrained backend (upstream: the sbi inference object) on the prior box of
        :meth:`init_prior` (``prior`` is accepted for upstream's scripts)."""
        device, warning = device_name(sbi_device)
        if warning:
            warnings.warn(warning, RuntimeWarning, stacklevel=2)
        backend = steps.init_inference(
            self, inference_method, density_estimator_model, device, inference_kwargs
        )
        self.sbi_device, self.inference = device, backend
        return backend

    def infer_step(
        self,
        proposal: Any,
        inference: InferenceBackend,
        n_samples: int | None = None,
        theta: Any = None,
        x: Any = None,
        train_kwargs: Mapping[str, Any] | None = None,
        posterior_kwargs: Mapping[str, Any] | None = None,
        *args: Any,
    ) -> Any:
        """One round: simulate (unless ``theta`` and ``x`` are given), train, build the
        posterior at the observation; return the posterior."""
        return fitting.infer_step(
            self, proposal, inference, n_samples, theta, x, train_kwargs, posterior_kwargs, args
        )

    def save_posterior(self, f: str | os.PathLike) -> None:
        """Save the trained inference (our zip format, see :meth:`save`)."""
        self.save(f)

    def load_posterior(self, f: str | os.PathLike) -> Any:
        """Load a file of :meth:`save_posterior` into this Inferencer; return the posterior."""
        return fitting.load_posterior(self, f)

    def conditional_corrcoeff(
        self,
        condition: Any,
        density: Any = None,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        subset: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Upstream's spelling: the conditional correlation matrix, averaged over the rows of
        ``condition`` (an array ``(m, d)``, e.g. from ``sample((1,))``, or a dict)."""
        return results.conditional_corrcoeff(self, condition, density, limits, subset, kwargs)
