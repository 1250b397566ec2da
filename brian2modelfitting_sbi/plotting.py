"""Compatibility path of :mod:`.posterior.plots` and :mod:`.posterior.conditional_plots`."""

from .posterior.conditional_plots import (  # noqa: F401 - re-exported
    conditional_corrcoef,
    conditional_pairplot,
    correlation_plot,
)
from .posterior.plots import axis_label, pairplot  # noqa: F401 - re-exported

