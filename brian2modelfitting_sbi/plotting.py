"""Compatibility path of :mod:`.posterior.plots`."""

from .posterior.plots import (  # noqa: F401 - re-exported
    axis_label,
    conditional_corrcoef,
    conditional_pairplot,
    correlation_plot,
    pairplot,
)

