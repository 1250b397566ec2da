"""Compatibility path of :mod:`.posterior.diagnostics`; :func:`calibrate` of an Inferencer."""

from typing import Any

from .posterior.diagnostics import (  # noqa: F401 - re-exported
    METHODS,
    Z_LIMIT,
    CalibrationResult,
    FeatureOutlier,
    check_observation,
    coverage_plot,
    rank_plot,
    run_calibration,
    warn_if_outside,
)


def calibrate(inferencer: Any, n_tests: int = 200, method: str = "sbc", **options: Any) -> Any:
    """SBC or TARP of an Inferencer's posterior: :meth:`Inferencer.calibrate
    <brian2modelfitting_sbi.Inferencer.calibrate>` (kept for the old call form)."""
    return inferencer.calibrate(n_tests, method, **options)
