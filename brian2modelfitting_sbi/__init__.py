"""Simulation-based inference for Brian 2 models, as a brian2modelfitting plugin.

The entry point is :class:`Inferencer`, which takes the same model/input/output arguments as
brian2modelfitting's fitters and returns a posterior over the model parameters.
"""

from .amortized import AmortizedResults, NotAmortizedError, RecordingPosterior
from .backends import InferenceBackend, get_backend, list_backends, refresh_backends
from .features import FeatureProvider, vectorized
from .inferencer import Inferencer
from .priors import LogUniform, ParameterSpace
from .problem import Problem, ProblemError
from .simulation.measurement import MeasurementNoise

__version__ = "0.1.0"

__all__ = [
    "AmortizedResults",
    "NotAmortizedError",
    "RecordingPosterior",
    "FeatureProvider",
    "InferenceBackend",
    "Inferencer",
    "LogUniform",
    "MeasurementNoise",
    "ParameterSpace",
    "Problem",
    "ProblemError",
    "get_backend",
    "list_backends",
    "refresh_backends",
    "vectorized",
]
