"""Is this posterior right? One report of the checks a user should run after inference.

:func:`trust_report` takes a :class:`~brian2modelfitting_sbi.posterior.Posterior` and what
the checks need from the inference (a simulator of posterior draws, the estimator to
condition on new features, a second training) and runs, in order:

1. **observation**: are the observed features inside the training simulations?
2. **predictive**: simulations at posterior draws, their features against the observed ones
   (z-scores and ranks), and the fraction of **valid simulations**;
3. **local calibration**: the posterior-predictive pairs ``(theta_i, x_i)`` become test
   observations; the estimator is conditioned on each ``x_i`` and the coverage of its 50% and
   90% intervals is counted (the frequentist coverage at parameters the posterior finds
   plausible: the nominal level for well-identified parameters away from the prior bounds);
4. **estimator agreement**: an estimator trained with another seed on the same simulations,
   its C2ST distance from the first at this observation;
5. **training** and **width**: did training converge, is the posterior narrower than the prior.

:meth:`Inferencer.trust_report <brian2modelfitting_sbi.Inferencer.trust_report>` wires these
to the inference (the chunk runner, its store and executors, the public train path).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ProblemError, check_count
from .trust_checks import (
    LEVELS,
    TrustCheck,
    agreement_check,
    coverage_check,
    mass_check,
    observation_check,
    predictive_check,
    prior_mass,
    skipped,
    training_check,
    validity_check,
    width_check,
)

__all__ = ["TrustBudget", "TrustCheck", "TrustReport", "trust_report"]

#: The checks that draw from the posterior.
DRAWING_CHECKS = ("valid simulations", "predictive", "local calibration", "estimator agreement",
                  "width")
#: What the report says for each worst verdict.
VERDICT_WORDS = {"pass": "trustworthy", "warn": "doubtful", "fail": "do not trust"}


@dataclass(frozen=True)
class TrustBudget:
    """How much a trust report may spend.

    Attributes
    ----------
    n_predictive : int
        Posterior draws simulated for the predictive check (and the calibration tests).
    n_local : int
        Posterior-predictive tests of the local calibration (amortized estimators).
    n_local_sampled : int
        The same for estimators that sample each posterior by MCMC or rejection (SNLE, SNRE).
    n_local_draws : int
        Posterior draws per calibration test.
    n_draws : int
        Draws of each estimator compared by the agreement check.
    agreement : bool
        Train a second estimator (one more training on every simulation).
    """

    n_predictive: int = 200
    n_local: int = 100
    n_local_sampled: int = 10
    n_local_draws: int = 200
    n_draws: int = 500
    agreement: bool = True

    def __post_init__(self) -> None:
        check_count("n_predictive", self.n_predictive, 2)
        check_count("n_local", self.n_local, 0)
        check_count("n_local_sampled", self.n_local_sampled, 0)
        check_count("n_local_draws", self.n_local_draws, 10)
        check_count("n_draws", self.n_draws, 20)
        if not isinstance(self.agreement, bool):
            raise ProblemError(f"agreement: expected True or False, got {self.agreement!r}")

    def n_tests(self, amortized: bool) -> int:
        """Calibration tests for an amortized estimator or a sampled one (at most the
        predictive simulations)."""
        return min(self.n_local if amortized else self.n_local_sampled, self.n_predictive)

    def describe(self, amortized: bool, n_training: int) -> str:
        """The report's cost, in words (printed before it runs)."""
        tests = self.n_tests(amortized)
        how = "one network pass each" if amortized else "a sampling run each"
        parts = [
            f"{self.n_predictive} simulations at posterior draws",
            f"{tests} posteriors for the local calibration ({how}, {self.n_local_draws} draws)",
        ]
        if self.agreement:
            parts.append(f"1 more training on the {n_training} training simulations")
        return "trust report: " + "; ".join(parts)


class TrustReport:
    """The checks of :func:`trust_report`: a table, a verdict, a figure.

    Attributes
    ----------
    checks : list of TrustCheck
        One row per check, in the order they ran.
    cost : str
        What the report spent (simulations, posteriors, trainings).
    seconds : dict
        Wall time of each stage.
    """

    COLUMNS = ("check", "value", "verdict", "suggestion", "detail")

    def __init__(self, checks: list[TrustCheck], cost: str, seconds: Mapping[str, float],
                 name: str = "observed") -> None:
        self.checks = list(checks)
        self.cost = cost
        self.seconds = dict(seconds)
        self.name = name

    def __getitem__(self, check: str) -> TrustCheck:
        for row in self.checks:
            if row.check == check:
                return row
        raise KeyError(f"no check {check!r}; checks: {[c.check for c in self.checks]}")

    @property
    def failed(self) -> list[TrustCheck]:
        """The checks that failed or warned."""
        return [c for c in self.checks if c.verdict in ("fail", "warn")]

    @property
    def passed(self) -> bool:
        """Whether every check that ran passed (no failure, no warning)."""
        return not self.failed

    @property
    def verdict(self) -> str:
        """``'trustworthy'``, ``'doubtful'`` (warnings only) or ``'do not trust'``."""
        verdicts = {c.verdict for c in self.checks}
        worst = "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "pass"
        return VERDICT_WORDS[worst]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per check (keys :attr:`COLUMNS`)."""
        return [{k: getattr(c, k) for k in self.COLUMNS} for c in self.checks]

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of :meth:`rows`."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(self.COLUMNS))

    def __str__(self) -> str:
        lines = [f"Trust report ({self.name}): {self.verdict.upper()}", f"  {self.cost}"]
        for c in self.checks:
            value = "" if np.isnan(c.value) else f" {c.value:.3g}"
            lines.append(f"  [{c.verdict.upper():>7}] {c.check}{value}: {c.detail}".rstrip(": "))
            if c.suggestion:
                lines.append(f"            -> {c.suggestion}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html(index=False)

    def figure(self) -> Any:
        """Predictive z-scores per feature and local coverage per parameter (a Figure)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.5, 3.4))
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        pred = self._data("predictive")
        if pred:
            z = np.clip(np.asarray(pred["z"], dtype=float), -10, 10)
            colors = ["C3" if abs(v) > 4 else "C1" if abs(v) > 3 else "C0" for v in z]
            left.bar(range(len(z)), z, color=colors)
            left.axhspan(-3, 3, color="0.9", lw=0, label="|z| ≤ 3")
            left.set_xticks(range(len(z)), pred["names"], rotation=60, ha="right",
                            fontsize="small")
            left.set_ylabel("observed − predictive [std]")
            left.legend(fontsize="small", frameon=False)
        left.set_title("posterior predictive check")
        cov = self._data("local calibration")
        if cov:
            names, width = cov["names"], 0.8 / len(cov["levels"])
            for i, level in enumerate(cov["levels"]):
                pos = np.arange(len(names)) + (i - (len(cov["levels"]) - 1) / 2) * width
                right.bar(pos, cov["coverage"][level], width, color=f"C{i}",
                          label=f"{level:.0%} interval")
                right.axhline(level, color=f"C{i}", ls="--", lw=1)
            right.set_xticks(range(len(names)), names)
            right.set_ylim(0, 1.05)
            right.set_ylabel(f"coverage ({cov['n']} tests)")
            right.legend(fontsize="small", frameon=False, loc="lower right")
        right.set_title("local calibration")
        fig.suptitle(f"{self.name}: {self.verdict}")
        fig.tight_layout()
        return fig

    def _data(self, check: str) -> Mapping[str, Any]:
        found = [c for c in self.checks if c.check == check]
        return found[0].data if found else {}


def trust_report(
    posterior: Any,
    simulate: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
    *,
    condition: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
    retrain: Callable[[int], np.ndarray] | None = None,
    training_summary: Mapping[str, Any] | None = None,
    training_x: np.ndarray | None = None,
    amortized: bool = True,
    n_training: int = 0,
    budget: TrustBudget | None = None,
    seed: int = 0,
    verbose: bool = True,
    skip_reasons: Mapping[str, str] | None = None,
) -> TrustReport:
    """Run the checks on ``posterior`` (a :class:`~brian2modelfitting_sbi.posterior.Posterior`).

    Parameters
    ----------
    posterior : Posterior
        The posterior to check (its ``x``, ``feature_names``, ``space``, ``draw``).
    simulate : callable
        ``simulate(n, seed)`` → ``(theta, x)``: ``n`` draws of this posterior and their
        simulated features (SI units, NaN rows for invalid simulations).
    condition : callable, optional
        ``condition(x, n_draws, seed)`` → draws ``(len(x), n_draws, d)``: the estimator's
        posteriors at the rows of ``x``; without it the local calibration is skipped.
    retrain : callable, optional
        ``retrain(seed)`` → ``budget.n_draws`` draws at this observation from an estimator
        trained with another seed; without it the agreement check is skipped.
    training_summary : dict, optional
        ``epochs``, ``max_epochs``, ``n_simulations`` of the estimator's training.
    training_x : numpy.ndarray, optional
        Training features (for the observation check; the posterior's flags otherwise).
    amortized : bool
        Whether conditioning costs a network pass (else a sampling run: fewer tests).
    n_training : int
        Training simulations (for the printed cost).
    budget : TrustBudget, optional
        Sizes of the checks (defaults of :class:`TrustBudget`).
    seed : int
        Seed of the draws, simulations and second training.
    verbose : bool
        Print the cost before running.
    skip_reasons : dict, optional
        ``{check: reason}`` for checks the caller cannot run (shown as skipped).

    Returns
    -------
    TrustReport
    """
    budget = budget or TrustBudget()
    skip = dict(skip_reasons or {})
    cost = budget.describe(amortized, n_training)
    if verbose:
        print(cost, flush=True)
    names, space, x_o = posterior.feature_names, posterior.space, posterior.x
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    if training_x is not None:
        checks = [observation_check(training_x, x_o, names)]
    else:
        checks = [_flags_check(posterior)]
    mass = prior_mass(posterior.estimate, seed=seed)
    if mass is not None:
        checks.append(mass_check(mass))
        if checks[-1].verdict == "fail":
            reason = "not run: the posterior cannot be sampled (see 'prior mass')"
            checks += [skipped(c, reason) for c in DRAWING_CHECKS]
            checks.append(training_check(training_summary))
            return TrustReport(checks, cost, {}, posterior.name)
    theta, x = simulate(budget.n_predictive, seed)
    seconds["simulate"] = time.perf_counter() - start
    checks += [validity_check(x), predictive_check(x, x_o, names)]
    valid = np.all(np.isfinite(x), axis=1)
    n_tests = min(budget.n_tests(amortized), int(valid.sum()))
    start = time.perf_counter()
    if condition is None or "local calibration" in skip:
        checks.append(skipped("local calibration",
                              skip.get("local calibration", "no estimator to condition")))
    elif n_tests < 2:
        checks.append(skipped("local calibration",
                              f"{n_tests} valid predictive simulations (need 2): see above"))
    else:
        draws = condition(x[valid][:n_tests], budget.n_local_draws, seed + 1)
        checks.append(coverage_check(theta[valid][:n_tests], draws, space, LEVELS))
    seconds["calibration"] = time.perf_counter() - start
    start = time.perf_counter()
    first = posterior.draw(budget.n_draws, seed=seed + 2)
    if retrain is None or not budget.agreement or "estimator agreement" in skip:
        reason = skip.get("estimator agreement", "agreement=False" if not budget.agreement
                          else "no training path given")
        checks.append(skipped("estimator agreement", reason))
    else:
        checks.append(agreement_check(first, retrain(seed + 3), space, seed))
    seconds["agreement"] = time.perf_counter() - start
    checks += [training_check(training_summary), width_check(first, space, seed)]
    return TrustReport(checks, cost, seconds, posterior.name)


def _flags_check(posterior: Any) -> TrustCheck:
    found = list(posterior.flags)
    detail = ("every feature inside the training simulations" if not found else
              "outside the training simulations: " + "; ".join(str(f) for f in found[:4]))
    suggestion = "" if not found else (
        f"the model does not produce {', '.join(f.name for f in found[:4])} in the prior box: "
        f"widen the bounds, or fix the model (misspecification)"
    )
    return TrustCheck("observation", float(len(found)), "fail" if found else "pass",
                      suggestion, detail, {"outliers": found})
