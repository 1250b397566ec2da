"""Compatibility path of :mod:`.posterior.sampling` and :mod:`.posterior.summary`."""

from .posterior.sampling import DEFAULT_MAP_OPTIONS, draw, log_prob, map_estimate, seeded  # noqa: F401
from .posterior.summary import PosteriorSummary, summarize  # noqa: F401

