"""Calibration (SBC, TARP) on fresh simulations, and a check of the observation's features.

:func:`calibrate` draws test parameters from the prior, simulates them with the Inferencer's
own simulation machinery (the test pairs are *not* added to the training data), and runs
sbi's simulation-based calibration (``run_sbc``/``check_sbc``) or TARP coverage
(``run_tarp``/``check_tarp``). :func:`check_observation` compares the observed features with
the training features and names those far outside them, a sign of model misspecification.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import numpy as np

from .problem import ProblemError
from .simulation import (
    ChunkTask,
    chunk_executor,
    default_chunk_size,
    n_workers,
    resolve_device,
    resolve_seed,
    simulate_features,
)
from .training import torch_threads

METHODS = ("sbc", "tarp")
#: A feature is flagged when the observation is this many training standard deviations away
#: from the training mean, or outside the training range.
Z_LIMIT = 4.0


# ---------------------------------------------------------------------- misspecification
@dataclass(frozen=True)
class FeatureOutlier:
    """An observed feature that lies outside the training distribution."""

    name: str
    value: float
    z: float
    low: float
    high: float

    def __str__(self) -> str:
        return (
            f"{self.name}={self.value:.4g} (z={self.z:+.1f}; training range "
            f"[{self.low:.4g}, {self.high:.4g}])"
        )


def check_observation(
    x: np.ndarray, x_o: np.ndarray, names: Sequence[str], z_limit: float = Z_LIMIT
) -> list[FeatureOutlier]:
    """Observed features outside the training features (per-feature z-score or range).

    Parameters
    ----------
    x : numpy.ndarray
        Training features ``(n, k)`` (non-finite rows are ignored).
    x_o : numpy.ndarray
        Observed features ``(k,)`` or ``(1, k)``.
    names : sequence of str
        Feature names.
    z_limit : float
        Flag a feature whose observed value is more than ``z_limit`` training standard
        deviations from the training mean.

    Returns
    -------
    list of FeatureOutlier
        The flagged features, most extreme first (empty when the observation looks typical).
    """
    x = np.asarray(x, dtype=float)
    x_o = np.asarray(x_o, dtype=float).reshape(-1)
    finite = x[np.all(np.isfinite(x), axis=1)]
    if len(finite) < 2:
        return []
    mean, std = finite.mean(axis=0), finite.std(axis=0)
    low, high = finite.min(axis=0), finite.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, (x_o - mean) / np.where(std > 0, std, 1), 0.0)
    z = np.where((std == 0) & (x_o != mean), np.inf * np.sign(x_o - mean), z)
    outside = (x_o < low) | (x_o > high) | (np.abs(z) > z_limit)
    found = [
        FeatureOutlier(str(names[k]), float(x_o[k]), float(z[k]), float(low[k]), float(high[k]))
        for k in np.flatnonzero(outside)
    ]
    return sorted(found, key=lambda f: -abs(f.z))


def warn_if_outside(
    x: np.ndarray, x_o: np.ndarray, names: Sequence[str], z_limit: float = Z_LIMIT
) -> list[FeatureOutlier]:
    """Warn (``RuntimeWarning``) when :func:`check_observation` flags features."""
    found = check_observation(x, x_o, names, z_limit)
    if found:
        shown = "; ".join(str(f) for f in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        warnings.warn(
            f"the observed data lie outside the training simulations for {len(found)} "
            f"feature(s): {shown}{more}. The posterior extrapolates there; the model may not be "
            f"able to produce the recordings (misspecification), or the prior bounds are too "
            f"narrow",
            RuntimeWarning,
            stacklevel=3,
        )
    return found


# ---------------------------------------------------------------------- calibration
@dataclass
class CalibrationResult:
    """Outcome of :func:`calibrate`.

    Attributes
    ----------
    method : str
        ``'sbc'`` or ``'tarp'``.
    summary : dict
        SBC: ``ks_pvals`` per parameter (uniformity of the ranks), ``c2st_ranks`` and
        ``c2st_dap`` (0.5 is ideal). TARP: ``atc`` (area to curve, 0 is ideal) and ``ks_pval``.
    figure : matplotlib.figure.Figure
        Rank histograms (SBC) or the expected coverage curve (TARP).
    n_tests : int
        Test simulations used (valid ones).
    details : dict
        Raw arrays: ``ranks`` (SBC) or ``ecp``/``alpha`` (TARP), and the test ``theta``.
    """

    method: str
    summary: dict[str, Any]
    figure: Any
    n_tests: int
    details: dict[str, np.ndarray] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.method.upper()} calibration on {self.n_tests} test simulations"]
        for key, value in self.summary.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k}={v:.3g}" for k, v in value.items())
                lines.append(f"  {key}: {inner}")
            else:
                lines.append(f"  {key}: {value:.3g}")
        return "\n".join(lines)


def simulate_tests(
    inferencer: Any,
    n_tests: int,
    *,
    seed: int | None = None,
    n_jobs: int | None = None,
    executor: Any = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fresh ``(theta, x)`` from the prior, simulated like the training data but kept apart."""
    space = inferencer.space
    theta = space.sample_prior(n_tests, np.random.default_rng(seed))
    recording = inferencer.features.recording()
    with chunk_executor(n_jobs, executor) as pool:
        size = default_chunk_size(inferencer.problem, recording, n_tests, n_workers=n_workers(pool))
        task = ChunkTask(
            inferencer.problem,
            tuple(space.names),
            int(size),
            recording,
            inferencer.target,
            cloudpickle.dumps(inferencer.features),
            device=resolve_device(None),
            measurement=getattr(inferencer, "measurement", None),
        )
        x = simulate_features(
            task, theta, executor=pool, seed=resolve_seed(seed), progress=progress
        )
    return theta, x


def calibrate(
    inferencer: Any,
    n_tests: int = 200,
    method: str = "sbc",
    *,
    n_posterior_samples: int = 200,
    seed: int | None = None,
    n_jobs: int | None = None,
    executor: Any = None,
    progress: bool = False,
    threads: int | None = 1,
) -> CalibrationResult:
    """Check the posterior's calibration on simulations from the prior.

    Parameters
    ----------
    inferencer : Inferencer
        With a trained posterior.
    n_tests : int
        Test simulations (a few hundred for reliable results).
    method : {'sbc', 'tarp'}
        Simulation-based calibration (per-parameter ranks) or TARP expected coverage.
    n_posterior_samples : int
        Posterior samples per test simulation.
    seed : int, optional
        Seed of the test draws, their simulation and the posterior sampling.
    n_jobs, executor, progress
        Simulation settings, as for :meth:`Inferencer.simulate`.
    threads : int or None
        Torch threads while sampling.

    Returns
    -------
    CalibrationResult
    """
    from sbi.diagnostics import check_sbc, check_tarp, run_sbc, run_tarp

    from .results import seeded

    if method not in METHODS:
        raise ProblemError(f"method: expected one of {METHODS}, got {method!r}")
    for name, value in (("n_tests", n_tests), ("n_posterior_samples", n_posterior_samples)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
            raise ProblemError(f"{name}: expected an integer >= 2, got {value!r}")
    if inferencer.posterior is None:
        raise RuntimeError("no posterior yet: call infer() first")
    if len(inferencer.rounds) > 1:
        warnings.warn(
            "calibrate: the posterior comes from several (sequential) rounds and is trained "
            "for the observed data; on test data drawn from the prior it is expected to be "
            "miscalibrated",
            RuntimeWarning,
            stacklevel=3,
        )
    space = inferencer.space
    theta, x = simulate_tests(
        inferencer, int(n_tests), seed=seed, n_jobs=n_jobs, executor=executor, progress=progress
    )
    keep = np.all(np.isfinite(x), axis=1)
    if keep.sum() < 2:
        raise RuntimeError(
            f"calibrate: only {int(keep.sum())} of {n_tests} test simulations gave finite features"
        )
    theta, x = theta[keep], x[keep]

    thetas = space.to_torch(theta)
    xs = inferencer.x_to_torch(x)
    posterior = inferencer.posterior
    with seeded(seed), torch_threads(threads):
        if method == "sbc":
            ranks, dap = run_sbc(
                thetas,
                xs,
                posterior,
                num_posterior_samples=int(n_posterior_samples),
                show_progress_bar=progress,
            )
            prior_draws = space.to_torch(
                space.sample_prior(len(theta), np.random.default_rng(seed))
            )
            checks = check_sbc(ranks, prior_draws, dap, int(n_posterior_samples))
            ks = checks["ks_pvals"].detach().cpu().numpy()
            summary = {
                "ks_pvals": dict(zip(space.names, map(float, ks), strict=True)),
                "c2st_ranks": dict(zip(space.names, map(float, checks["c2st_ranks"]), strict=True)),
                "c2st_dap": dict(zip(space.names, map(float, checks["c2st_dap"]), strict=True)),
            }
            ranks_np = ranks.detach().cpu().numpy()
            figure = rank_plot(space, ranks_np, int(n_posterior_samples))
            details = {"ranks": ranks_np, "theta": theta}
        else:
            ecp, alpha = run_tarp(
                thetas,
                xs,
                posterior,
                num_posterior_samples=int(n_posterior_samples),
                show_progress_bar=progress,
            )
            atc, ks_pval = check_tarp(ecp, alpha)
            summary = {"atc": float(atc), "ks_pval": float(ks_pval)}
            ecp_np, alpha_np = ecp.detach().cpu().numpy(), alpha.detach().cpu().numpy()
            figure = coverage_plot(ecp_np, alpha_np)
            details = {"ecp": ecp_np, "alpha": alpha_np, "theta": theta}
    return CalibrationResult(method, summary, figure, len(theta), details)


def rank_plot(space: Any, ranks: np.ndarray, n_posterior_samples: int, bins: int | None = None):  # noqa: ANN201
    """Histograms of SBC ranks per parameter, with the 99% band expected under uniformity."""
    from matplotlib.figure import Figure
    from scipy.stats import binom

    from .plotting import axis_label

    n = len(ranks)
    bins = bins or int(np.clip(n // 10, 4, 20))
    fig = Figure(figsize=(3.0 * space.dim + 0.5, 2.8))
    axes = fig.subplots(1, space.dim, squeeze=False, sharey=True)[0]
    lo, hi = binom(n, 1 / bins).ppf([0.005, 0.995])
    edges = np.linspace(0, n_posterior_samples, bins + 1)
    for j, ax in enumerate(axes):
        ax.axhspan(lo, hi, color="0.85", lw=0, label="99% if uniform")
        ax.hist(ranks[:, j], bins=edges, color="C0", alpha=0.8)
        ax.set_xlabel(f"rank of {axis_label(space, j)}")
    axes[0].set_ylabel("count")
    axes[0].legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def coverage_plot(ecp: np.ndarray, alpha: np.ndarray):  # noqa: ANN201
    """TARP expected coverage against credibility level, with the ideal diagonal."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6, 3.4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="ideal")
    ax.plot(alpha, ecp, color="C0", lw=1.5, label="posterior")
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return fig
