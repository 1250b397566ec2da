"""The checks of a trust report, one function each: numbers in, a :class:`TrustCheck` out.

Each check reads arrays that the report has produced (training features, posterior
predictive simulations, posterior draws) and says, with a verdict and a suggestion, whether
the posterior passes it. They simulate nothing and train nothing:
:mod:`~brian2modelfitting_sbi.posterior.trust` runs them.

Verdicts: ``'pass'``, ``'warn'`` (doubtful: look at it), ``'fail'`` (do not trust the
posterior as it is) and ``'skipped'`` (not run: the reason is in the suggestion).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..priors import ParameterSpace
from .diagnostics import Z_LIMIT, check_observation
from .sampling import is_direct, seeded

VERDICTS = ("pass", "warn", "fail", "skipped")
#: Predictive check: an observed feature this many predictive standard deviations from the
#: predictive mean is doubtful (warn) or not reproduced (fail).
PREDICTIVE_WARN_Z, PREDICTIVE_FAIL_Z = 3.0, 4.0
#: Fraction of posterior draws whose simulations must give finite features.
VALID_WARN, VALID_FAIL = 0.9, 0.5
#: Coverage: family-wise p-value (Bonferroni over parameters and levels) of too low coverage.
COVERAGE_FAIL_P, COVERAGE_WARN_P = 0.01, 0.05
#: Estimator agreement: C2ST accuracy between the two estimators' draws (0.5: the same).
C2ST_WARN, C2ST_FAIL = 0.6, 0.75
#: Prior mass: fraction of the estimator's raw draws inside the prior box. Below the fail level
#: sampling the posterior (which rejects the draws outside) would take too long to try.
MASS_WARN, MASS_FAIL = 0.5, 0.01
#: Width: a posterior wider than this fraction of the prior (std in the estimator's
#: coordinates) has learned little about that parameter.
WIDTH_WARN = 0.8
LEVELS = (0.5, 0.9)


@dataclass(frozen=True)
class TrustCheck:
    """One row of a trust report.

    Attributes
    ----------
    check : str
        Its name (``'observation'``, ``'predictive'``, ``'valid simulations'``,
        ``'local calibration'``, ``'estimator agreement'``, ``'training'``, ``'width'``).
    value : float
        The number the verdict is based on (see ``detail`` for what it is).
    verdict : str
        ``'pass'``, ``'warn'``, ``'fail'`` or ``'skipped'``.
    suggestion : str
        What to do about it (empty when it passes).
    detail : str
        What was measured, in words (the evidence).
    data : dict
        Arrays behind the value (per feature, per parameter), for plots and tables.
    """

    check: str
    value: float
    verdict: str
    suggestion: str
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: expected one of {VERDICTS}, got {self.verdict!r}")


def skipped(check: str, reason: str) -> TrustCheck:
    """A check that was not run, and why."""
    return TrustCheck(check, float("nan"), "skipped", reason)


def _grade(bad: bool, doubtful: bool) -> str:
    return "fail" if bad else "warn" if doubtful else "pass"


# ---------------------------------------------------------------------- features
def observation_check(
    training_x: np.ndarray, x: np.ndarray, names: Sequence[str], z_limit: float = Z_LIMIT
) -> TrustCheck:
    """Whether the observed features lie inside what the training simulations produced."""
    found = check_observation(training_x, x, names, z_limit)
    detail = (
        "every feature inside the training simulations" if not found
        else "outside the training simulations: " + "; ".join(str(f) for f in found[:4])
    )
    suggestion = "" if not found else (
        f"the model does not produce {', '.join(f.name for f in found[:4])} anywhere in the "
        f"prior box: widen the bounds of the parameters that drive them, or the model lacks a "
        f"mechanism of the recording (misspecification): fix the model, or drop the features "
        f"it cannot produce"
    )
    return TrustCheck("observation", float(len(found)), _grade(bool(found), False), suggestion,
                      detail, {"outliers": found})


def samples_estimator(estimate: Any) -> bool:
    """Whether ``estimate`` draws from a posterior estimator that may leak out of the prior
    box: a direct (SNPE) or a vector-field (FMPE, NPSE) posterior."""
    from sbi.inference import VectorFieldPosterior

    return is_direct(estimate) or isinstance(estimate, VectorFieldPosterior)


def prior_mass(estimate: Any, n: int = 2000, seed: int = 0) -> float | None:
    """Fraction of a posterior estimator's raw draws inside the prior box (None for the
    likelihood and ratio estimators, whose samplers stay in the box)."""
    if not samples_estimator(estimate):
        return None
    from sbi.utils import within_support

    with seeded(seed), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sbi's leakage warning: the check says
        raw = estimate.sample((int(n),), reject_outside_prior=False, show_progress_bars=False)
        inside = within_support(estimate.prior, raw)
    return float(inside.float().mean())


def mass_check(mass: float) -> TrustCheck:
    """Whether the estimator keeps its mass inside the prior box (no leakage)."""
    verdict = _grade(mass < MASS_FAIL, mass < MASS_WARN)
    detail = f"{mass:.1%} of the estimator's draws fall inside the prior box"
    suggestion = "" if verdict == "pass" else (
        "the estimator puts its mass outside the prior box at this observation: the "
        "observation is unlike every training simulation (see 'observation'; "
        "misspecification: the model lacks a mechanism of the data, or the bounds are too "
        "narrow), or the estimator is poorly trained there"
        + ("; the checks that draw from the posterior were not run" if verdict == "fail" else
           "; sampling (which rejects those draws) is slow")
    )
    return TrustCheck("prior mass", mass, verdict, suggestion, detail)


def validity_check(x_predictive: np.ndarray) -> TrustCheck:
    """The fraction of posterior draws whose simulations give finite features."""
    valid = np.all(np.isfinite(x_predictive), axis=1)
    fraction = float(valid.mean()) if len(valid) else 0.0
    verdict = _grade(fraction < VALID_FAIL, fraction < VALID_WARN)
    suggestion = "" if verdict == "pass" else (
        "the posterior puts mass where the model gives no valid features (e.g. no spikes): "
        "the estimator learned little there (simulate more, invalid='fill'), or the bounds "
        "include regimes the recording excludes: narrow them"
    )
    detail = f"{int(valid.sum())} of {len(valid)} posterior draws simulate to finite features"
    return TrustCheck("valid simulations", fraction, verdict, suggestion, detail)


def predictive_check(
    x_predictive: np.ndarray, x: np.ndarray, names: Sequence[str]
) -> TrustCheck:
    """The observed features against the posterior predictive ones: z-scores and ranks."""
    x = np.asarray(x, dtype=float).reshape(-1)
    pred = x_predictive[np.all(np.isfinite(x_predictive), axis=1)]
    if len(pred) < 2:
        return TrustCheck(
            "predictive", float("inf"), "fail",
            "no posterior draw simulates to valid features: see 'valid simulations'",
            "fewer than 2 valid predictive simulations",
        )
    mean, std = pred.mean(axis=0), pred.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)
        z = np.where((std == 0) & (x != mean), np.inf * np.sign(x - mean), z)
    rank = (pred < x).mean(axis=0) + 0.5 * (pred == x).mean(axis=0)
    worst = int(np.argmax(np.abs(z)))
    value = float(abs(z[worst]))
    verdict = _grade(value > PREDICTIVE_FAIL_Z, value > PREDICTIVE_WARN_Z)
    off = [names[k] for k in np.flatnonzero(np.abs(z) > PREDICTIVE_WARN_Z)]
    suggestion = "" if verdict == "pass" else (
        f"simulations at the posterior do not reproduce {', '.join(off[:4])}: if the "
        f"observation check passed, the model reaches these values only jointly with others "
        f"it cannot match (misspecification: a mechanism missing, a wrong initial condition, "
        f"no measurement noise in the simulations, spikes detected differently); or the "
        f"estimator is off (see the agreement and calibration rows)"
    )
    detail = (
        f"largest |z| {value:.2f} ({names[worst]}: observed {x[worst]:.4g}, predictive "
        f"{mean[worst]:.4g} ± {std[worst]:.4g}; {len(pred)} draws)"
    )
    data = {"names": list(names), "z": z, "rank": rank, "mean": mean, "std": std, "x": x}
    return TrustCheck("predictive", value, verdict, suggestion, detail, data)


# ---------------------------------------------------------------------- parameters
def _binom_tail(k: np.ndarray, n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import binom

    return binom.cdf(k, n, p), binom.sf(k - 1, n, p)


def coverage_check(
    theta: np.ndarray, draws: np.ndarray, space: ParameterSpace, levels: Sequence[float] = LEVELS
) -> TrustCheck:
    """Coverage of central intervals: how often each test parameter lies in its interval.

    Parameters
    ----------
    theta : numpy.ndarray
        Test parameters ``(n, d)`` (SI), drawn from the posterior at the observation.
    draws : numpy.ndarray
        Posterior draws ``(n, m, d)`` at each test parameter's simulated features.
    space : ParameterSpace
        Names of the columns.
    levels : sequence of float
        Probabilities of the central intervals.
    """
    n, d = theta.shape
    covered = {}
    for level in levels:
        tail = 100 * (1 - level) / 2
        lo, hi = np.percentile(draws, [tail, 100 - tail], axis=1)
        covered[level] = ((theta >= lo) & (theta <= hi)).mean(axis=0)
    tests = len(levels) * d
    low_p = min(float(_binom_tail(np.round(covered[lv] * n), n, lv)[0].min()) for lv in levels)
    high_p = min(float(_binom_tail(np.round(covered[lv] * n), n, lv)[1].min()) for lv in levels)
    low_p, high_p = min(1.0, low_p * tests), min(1.0, high_p * tests)
    # too wide intervals (conservative) pass, with a note: they are safe to use
    verdict = _grade(low_p < COVERAGE_FAIL_P, low_p < COVERAGE_WARN_P)
    top = max(levels)
    value = float(covered[top].min())
    worst = space.names[int(np.argmin(covered[top]))]
    parts = [
        f"{lv:.0%}: " + ", ".join(f"{nm} {c:.2f}" for nm, c in zip(space.names, covered[lv],
                                                                   strict=True))
        for lv in levels
    ]
    detail = f"coverage on {n} posterior-predictive tests; " + "; ".join(parts)
    if low_p < COVERAGE_WARN_P:
        suggestion = (
            f"the intervals are too narrow near the observation (lowest {top:.0%} coverage: "
            f"{worst} {value:.2f}): simulate more, train longer (training={{'stop_after_epochs': "
            f"30}}), try another estimator (estimator='nsf') or an ensemble (ensemble=5); an "
            f"under-trained or multi-round estimator is often overconfident"
        )
    elif high_p < COVERAGE_FAIL_P:
        suggestion = (
            "the intervals are wider than needed (conservative): safe to use; more "
            "simulations or longer training would sharpen them"
        )
    else:
        suggestion = ""
    data = {"levels": tuple(levels), "coverage": covered, "n": n, "names": list(space.names)}
    return TrustCheck("local calibration", value, verdict, suggestion, detail, data)


def _c2st(a: np.ndarray, b: np.ndarray, seed: int) -> float:
    from sbi.utils.metrics import c2st

    with torch.random.fork_rng():
        value = c2st(torch.as_tensor(a, dtype=torch.float32),
                     torch.as_tensor(b, dtype=torch.float32), seed=seed, n_folds=3)
    return float(value)


def agreement_check(
    draws_a: np.ndarray, draws_b: np.ndarray, space: ParameterSpace, seed: int = 0
) -> TrustCheck:
    """Distance between the draws of two estimators trained on the same simulations.

    The classifier two-sample test (C2ST, sbi's random forest): 0.5 when the two sets of
    draws cannot be told apart, 1 when they do not overlap; the shift of the medians in
    posterior standard deviations, per parameter, says which parameter differs.
    """
    ua = space.to_torch(draws_a).numpy()
    ub = space.to_torch(draws_b).numpy()
    value = _c2st(ua, ub, seed)
    spread = np.maximum(0.5 * (ua.std(axis=0) + ub.std(axis=0)), 1e-12)
    shift = np.abs(np.median(ua, axis=0) - np.median(ub, axis=0)) / spread
    verdict = _grade(value > C2ST_FAIL, value > C2ST_WARN)
    worst = space.names[int(np.argmax(shift))]
    detail = (
        f"C2ST {value:.2f} between two estimators (another training seed) on "
        f"{len(ua)} draws each; largest median shift {shift.max():.2f} posterior std ({worst})"
    )
    suggestion = "" if verdict == "pass" else (
        "the posterior depends on the training seed: the estimator has not converged to "
        "one answer. Simulate more (the benchmark's budgets), train longer "
        "(training={'stop_after_epochs': 30}), or mix an ensemble of seeds (ensemble=5)"
    )
    return TrustCheck("estimator agreement", value, verdict, suggestion, detail,
                      {"shift": shift, "names": list(space.names)})


def width_check(
    draws: np.ndarray, space: ParameterSpace, seed: int = 0, limit: float = WIDTH_WARN
) -> TrustCheck:
    """Posterior standard deviation relative to the prior's, per parameter."""
    prior = space.to_torch(space.sample_prior(4000, np.random.default_rng(seed))).numpy()
    ratio = space.to_torch(draws).numpy().std(axis=0) / np.maximum(prior.std(axis=0), 1e-12)
    wide = [nm for nm, r in zip(space.names, ratio, strict=True) if r > limit]
    detail = "posterior std / prior std: " + ", ".join(
        f"{nm} {r:.2f}" for nm, r in zip(space.names, ratio, strict=True)
    )
    suggestion = "" if not wide else (
        f"the posterior is nearly the prior for {', '.join(wide)}: the features do not inform "
        f"it, or the estimator has not learned yet (see 'training'); add features sensitive "
        f"to it, simulate more, or fix it if it does not matter"
    )
    return TrustCheck("width", float(ratio.max()), "warn" if wide else "pass", suggestion,
                      detail, {"ratio": ratio, "names": list(space.names)})


def training_check(summary: Mapping[str, Any] | None) -> TrustCheck:
    """Whether the estimator's training stopped on its own (validation loss converged).

    ``summary``: ``epochs`` trained and ``max_epochs`` allowed in the last training, and
    ``n_simulations``.
    """
    if not summary or summary.get("epochs") is None:
        return skipped("training", "the backend reports no training summary")
    epochs, limit = int(summary["epochs"]), summary.get("max_epochs")
    stopped = limit is None or epochs <= int(limit)  # sbi counts one past a limit it hit
    detail = (
        f"{epochs} epochs on {summary.get('n_simulations', '?')} simulations"
        + ("" if limit is None else f" (limit {int(limit)})")
        + ("; stopped when the validation loss no longer improved" if stopped
           else "; stopped at the epoch limit, still improving")
    )
    suggestion = "" if stopped else (
        "training hit the epoch limit before the validation loss converged: raise "
        "training={'max_num_epochs': ...} or leave it to the measured defaults, and simulate "
        "more if it still does not converge"
    )
    return TrustCheck("training", float(epochs), "pass" if stopped else "warn", suggestion,
                      detail)
