"""Posterior results: the :class:`Posterior` type and what is done with a posterior.

=====================  ================================================================
module                 job
=====================  ================================================================
``sampling``           draws, MAP search and log density of an sbi posterior, in SI units
``summary``            :class:`PosteriorSummary`: marginal statistics with units
``plots``              pairplots (zoom, prior box, legend)
``conditional_plots``  conditional slices and correlations on a density grid
``diagnostics``        SBC/TARP calibration on test pairs, out-of-distribution features
``predictive``         posterior predictive simulations and their plot
``batch``              sampling and MAP for many observations in one network pass
``recordings``         new recordings checked against the training protocol
``result``             :class:`Posterior`, the result type of an inference at one observation
``conditioning``       the posteriors of many recordings (:class:`AmortizedResults`)
=====================  ================================================================
"""

from .conditioning import AmortizedResults, TrainedEstimator, posteriors_from_features
from .diagnostics import CalibrationResult, FeatureOutlier
from .result import DEFAULT_DRAWS, Posterior
from .summary import PosteriorSummary

__all__ = [
    "DEFAULT_DRAWS",
    "AmortizedResults",
    "CalibrationResult",
    "FeatureOutlier",
    "Posterior",
    "PosteriorSummary",
    "TrainedEstimator",
    "posteriors_from_features",
]
