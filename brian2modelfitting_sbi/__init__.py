"""Simulation-based inference for Brian 2 models, as a brian2modelfitting plugin.

The entry point is :class:`Inferencer`, which takes the same model/input/output arguments as
brian2modelfitting's fitters and returns a posterior over the model parameters.
"""

from ._version import __version__
from .backends import InferenceBackend, get_backend, list_backends, refresh_backends
from .errors import Brian2SbiError, NotAmortizedError, NotFittedError, ProblemError
from .features import FeatureProvider, vectorized
from .inference import SamplingOptions, SimulationOptions, TrainingOptions
from .inferencer import Inferencer
from .posterior import AmortizedResults, Posterior
from .priors import LogUniform, ParameterSpace
from .problem import Problem
from .simulation.measurement import MeasurementNoise

#: The result type of :meth:`Inferencer.condition`, now :class:`Posterior` (the same type as
#: :attr:`Inferencer.result`).
RecordingPosterior = Posterior

__all__ = [
    "__version__",
    "AmortizedResults",
    "Brian2SbiError",
    "FeatureProvider",
    "InferenceBackend",
    "Inferencer",
    "LogUniform",
    "MeasurementNoise",
    "NotAmortizedError",
    "NotFittedError",
    "ParameterSpace",
    "Posterior",
    "Problem",
    "ProblemError",
    "RecordingPosterior",
    "SamplingOptions",
    "SimulationOptions",
    "TrainingOptions",
    "get_backend",
    "list_backends",
    "refresh_backends",
    "vectorized",
]
