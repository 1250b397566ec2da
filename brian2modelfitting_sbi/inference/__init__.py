"""Inference orchestration: option groups, round records, simulating and training steps.

===============  ======================================================================
module           job
===============  ======================================================================
``options``      :class:`SimulationOptions`, :class:`TrainingOptions`,
                 :class:`SamplingOptions`: frozen, self-checking settings
``rounds``       :class:`Round` (one record per round) and :class:`History`
``simulate``     one round of simulations, and calibration tests, on the chunk runner
``fit``          training a backend on a history; restoring a saved one
``results``      the Inferencer's result methods, delegating to its Posterior
``state``        the Inferencer's read-only state properties
``persistence``  the Inferencer's save, load, adopt and from_fitter
===============  ======================================================================
"""

from .options import SamplingOptions, SimulationOptions, TrainingOptions
from .rounds import History, Round

__all__ = ["History", "Round", "SamplingOptions", "SimulationOptions", "TrainingOptions"]
