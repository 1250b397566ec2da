"""Compatibility path of :mod:`.posterior.sampling` and :mod:`.posterior.summary`."""

from .posterior.sampling import (  # noqa: F401
    DEFAULT_MAP_OPTIONS,
    MAP_OPTION_NAMES,
    draw,
    log_prob,
    map_estimate,
    seeded,
)
from .posterior.summary import PosteriorSummary, summarize  # noqa: F401

