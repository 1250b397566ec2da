"""Compatibility path of :mod:`.posterior.predictive`."""

from .posterior.predictive import output_recording, plot_predictive, simulate_outputs  # noqa: F401

