"""Gradient-free fitting and simulation-based inference on the same problem and budget.

:func:`compare_fit_and_inference` fits a trace recording with brian2modelfitting's
``TraceFitter`` (``NevergradOptimizer`` differential evolution on ``MSEMetric``) and infers it
with an :class:`~brian2modelfitting_sbi.Inferencer` (SNPE by default) on the same number of
simulations, and returns one table row per method: the estimate, its error to the true values,
the trace MSE of the estimate's simulation against the recording, the wall time and the
simulations used. Both estimates are simulated by the same code (the Inferencer's predictive
simulation), so their trace MSEs are comparable. Tutorial 02 is built on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Equations, Quantity, mV

from ._optional import require
from .inferencer import Inferencer
from .problem import ProblemError

__all__ = ["Comparison", "compare_fit_and_inference", "split_budget", "trace_mse"]

#: Table row of the fitter.
FITTER_ROW = "TraceFitter + DE (MSEMetric)"
#: Table row of an Inferencer (``{backend}`` and ``{rounds}`` are filled in).
INFERENCER_ROW = "Inferencer + {backend}, {rounds} (MAP)"

_FITTER_KEYS = ("model", "input_var", "input", "output_var", "output", "dt", "method",
                "param_init")


@dataclass
class Comparison:
    """What :func:`compare_fit_and_inference` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method (:data:`FITTER_ROW`, :data:`INFERENCER_ROW`), columns: each
        parameter's estimate ``'<name> [<unit>]'`` and relative error to the truth
        ``'<name> error [%]'``, ``'<name> 90% interval'`` (posterior only), ``'trace MSE
        [mV^2]'``, ``'wall time [s]'`` (the Inferencer's includes its MAP search) and
        ``'simulations'``.
    fitter : brian2modelfitting.TraceFitter
        The fitted fitter.
    inferencers : dict
        Row name → Inferencer with its posterior.
    estimates : dict
        Method (row name) → parameter dict (Quantity values).
    traces : dict
        Method (row name) → simulated traces of its estimate, Quantity ``(n_traces, n_steps)``.
    truth : dict
        The true parameters.
    """

    table: Any
    fitter: Any
    inferencers: dict[str, Inferencer]
    estimates: dict[str, dict[str, Quantity]]
    traces: dict[str, Quantity]
    truth: dict[str, Quantity]

    @property
    def inferencer(self) -> Inferencer:
        """The (last) Inferencer."""
        return list(self.inferencers.values())[-1]

    def plot_traces(self, trace: int = 0, figsize: tuple[float, float] = (8.0, 3.0)) -> Any:
        """Recording of stimulus ``trace`` with the simulated trace of each estimate.

        Returns a matplotlib Figure (not shown).
        """
        from matplotlib.figure import Figure

        problem = self.inferencer.problem
        var = problem.trace_outputs[0]
        observed = np.asarray(problem.outputs[var])[trace] / float(mV)
        t = np.arange(observed.shape[-1]) * problem.dt * 1e3
        fig = Figure(figsize=figsize)
        ax = fig.add_subplot()
        ax.plot(t, observed, color="0.6", lw=2, label="recording")
        for (name, traces), style in zip(self.traces.items(), ("-", "--", ":", "-."), strict=False):
            ax.plot(t, np.asarray(traces[trace]) / float(mV), style, lw=1, label=name)
        ax.set_xlabel("time [ms]")
        ax.set_ylabel(f"{var} [mV]")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        return fig


def split_budget(n_simulations: int, popsize: int | None = None) -> tuple[int, int]:
    """Population size and rounds of the fitter for a budget of ``n_simulations``.

    Default: 20 rounds (at least 40 parameter sets per round). The budget actually used is
    ``popsize * n_rounds`` (at most ``n_simulations``).
    """
    if isinstance(n_simulations, bool) or not isinstance(n_simulations, int | np.integer):
        raise ProblemError(f"n_simulations: expected an integer, got {n_simulations!r}")
    if popsize is None:
        popsize = max(40, n_simulations // 20)
    if isinstance(popsize, bool) or not isinstance(popsize, int | np.integer) or popsize < 2:
        raise ProblemError(f"popsize: expected an integer >= 2, got {popsize!r}")
    if n_simulations < popsize:
        raise ProblemError(
            f"n_simulations: expected at least popsize={popsize} simulations, got {n_simulations}"
        )
    return int(popsize), int(n_simulations // popsize)


def trace_mse(simulated: Quantity, observed: Quantity) -> float:
    """Mean squared difference over traces and time steps, in mV²."""
    diff = (np.asarray(simulated, dtype=float) - np.asarray(observed, dtype=float)) / float(mV)
    return float(np.mean(diff**2))


def compare_fit_and_inference(
    data: Mapping[str, Any],
    n_simulations: int,
    features: Any,
    *,
    popsize: int | None = None,
    backend: str = "snpe",
    n_rounds: int | Sequence[int] = 1,
    seed: int = 1,
    level: float = 0.9,
    training: dict[str, Any] | None = None,
    progress: bool = False,
) -> Comparison:
    """Fit and infer the same trace recording on the same simulation budget.

    Parameters
    ----------
    data : dict
        Fitter keyword arguments (``model``, ``input_var``, ``input``, ``output_var``,
        ``output``, ``dt``, ``method``, ``param_init``), the model's constants as
        ``namespace``, the prior box as ``bounds`` and the true parameters as ``truth``, as
        :func:`~brian2modelfitting_sbi.datasets.load_hh_recording` returns them.
    n_simulations : int
        Simulation budget of each method. The fitter runs ``n_simulations // popsize`` rounds
        of ``popsize`` parameter sets (see :func:`split_budget`); the Inferencer simulates as
        many.
    features
        The Inferencer's ``features=`` (the fitter uses ``MSEMetric`` on the raw traces).
    popsize : int, optional
        Parameter sets per fitter round (default: the budget over 20 rounds, at least 40).
    backend : str
        Inference backend.
    n_rounds : int or sequence of int
        Rounds of the inference (the budget is split evenly between them); a sequence gives
        one Inferencer (and table row) per entry, e.g. ``(1, 2)``.
    seed : int
        Seeds the optimizer (numpy's global generator, restored afterwards) and the inference.
    level : float
        Probability of the posterior's central credible interval in the table.
    training : dict, optional
        Training settings of the backend (e.g. a small ``max_num_epochs`` for tests).
    progress : bool
        Show the Inferencer's progress bar.

    Returns
    -------
    Comparison
        The table, the fitted fitter, the Inferencers and the estimates' traces.
    """
    bmf = require("brian2modelfitting", "compare_fit_and_inference")
    require("nevergrad", "compare_fit_and_inference (NevergradOptimizer)")
    MSEMetric, NevergradOptimizer, TraceFitter = (
        bmf.MSEMetric, bmf.NevergradOptimizer, bmf.TraceFitter
    )

    missing = sorted({*_FITTER_KEYS, "namespace", "bounds", "truth"} - set(data))
    if missing:
        raise ProblemError(f"data: missing keys {missing} (see datasets.load_hh_recording)")
    popsize, fit_rounds = split_budget(n_simulations, popsize)
    budget = popsize * fit_rounds
    rounds = [n_rounds] if isinstance(n_rounds, int | np.integer) else list(n_rounds)
    if not rounds or len(set(rounds)) != len(rounds) or any(
        isinstance(r, bool) or not isinstance(r, int | np.integer) or not 1 <= r <= budget
        for r in rounds
    ):
        raise ProblemError(
            f"n_rounds: expected distinct integers in [1, {budget}], got {n_rounds!r}"
        )
    namespace, bounds, truth = dict(data["namespace"]), data["bounds"], data["truth"]
    fitter_args = {key: data[key] for key in _FITTER_KEYS}
    model = data["model"]
    # built first, so that a mistake in the problem or the features stops before any fit
    pending = {
        INFERENCER_ROW.format(
            backend=str(backend).upper(), rounds=f"{r} round" + ("s" if r > 1 else "")
        ): (int(r), Inferencer(**fitter_args, namespace=namespace, features=features))
        for r in rounds
    }

    # The fitter reads the model's constants from its caller's frame; substituting them into
    # the equations gives it the very model the Inferencer simulates.
    fitter_args["model"] = Equations(model, **namespace) if isinstance(model, str) else model
    state = np.random.get_state()  # noqa: NPY002 - nevergrad seeds itself from it
    np.random.seed(seed)  # noqa: NPY002
    try:
        t0 = time.perf_counter()
        fitter = TraceFitter(**fitter_args, n_samples=popsize)
        fit_params, _ = fitter.fit(
            optimizer=NevergradOptimizer(method="DE"),
            metric=MSEMetric(),
            n_rounds=fit_rounds,
            callback=None,
            **bounds,
        )
        fit_time = time.perf_counter() - t0
    finally:
        np.random.set_state(state)  # noqa: NPY002

    estimates = {FITTER_ROW: dict(fit_params)}
    timings = {FITTER_ROW: fit_time}
    for row, (r, inferencer) in pending.items():
        t0 = time.perf_counter()
        inferencer.infer(budget // r, n_rounds=r, backend=backend, seed=seed,
                         progress=progress, training=training, **bounds)
        estimates[row] = inferencer.best_params
        timings[row] = time.perf_counter() - t0
    inferencers = {row: inferencer for row, (_, inferencer) in pending.items()}

    space = inferencer.space
    outputs = inferencer.generate_traces(
        params={name: Quantity([estimates[row][name] for row in estimates])
                for name in space.names}
    )
    var = inferencer.problem.trace_outputs[0]
    observed = inferencer.problem.outputs[var]
    traces = {row: outputs[var][k] for k, row in enumerate(estimates)}
    units = [space.display_unit(j) for j in range(space.dim)]
    rows = {}
    for row, params in estimates.items():
        entry: dict[str, Any] = {}
        summary = inferencers[row].summary(level=level, seed=seed) if row in inferencers else None
        for j, name in enumerate(space.names):
            unit = units[j]
            entry[f"{name} [{unit}]"] = float(params[name] / unit)
            entry[f"{name} error [%]"] = 100 * abs(float(params[name] / truth[name]) - 1)
            interval = "n/a"
            if summary is not None:
                lo, hi = summary.lower[j] / float(unit), summary.upper[j] / float(unit)
                interval = f"[{lo:.3g}, {hi:.3g}]"
            entry[f"{name} {level:.0%} interval"] = interval
        entry["trace MSE [mV^2]"] = trace_mse(traces[row], observed)
        entry["wall time [s]"] = timings[row]
        entry["simulations"] = (
            inferencers[row].n_simulations if row in inferencers else budget
        )
        rows[row] = entry
    import pandas as pd

    table = pd.DataFrame.from_dict(rows, orient="index")
    return Comparison(
        table=table,
        fitter=fitter,
        inferencers=inferencers,
        estimates=estimates,
        traces=traces,
        truth=dict(truth),
    )
