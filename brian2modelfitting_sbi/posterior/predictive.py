"""Posterior predictive checks: simulate parameter sets and compare with the recordings.

:func:`simulate_outputs` runs parameter sets through the same chunked Brian 2 network as the
training simulations, recording every observed output (traces and spikes), and returns them
in the fitters' format. :func:`plot_predictive` overlays the observed data with the
predictive median and bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, get_unit, second
from brian2.units.fundamentalunits import get_dimensions

from ..errors import ProblemError
from ..problem import SPIKES, Problem
from ..simulation import Recording, SimulationResult, collect_chunks, make_task, resolve_seed
from ..simulation.measurement import MeasurementPlan


def output_recording(problem: Problem, variables: Sequence[str] | None = None) -> Recording:
    """What to record for ``variables`` (default: every observed output)."""
    if variables is None:
        variables = list(problem.outputs)
    elif isinstance(variables, str):
        variables = [variables]
    names = set(problem.equations.names)
    traces = []
    for var in variables:
        if var == SPIKES:
            if problem.threshold is None:
                raise ProblemError(
                    "variables: 'spikes' needs a threshold; the model has none (threshold=)"
                )
            continue
        if var not in names:
            raise ProblemError(
                f"variables: {var!r} is not a variable of the model; model variables are "
                f"{sorted(names)} (or 'spikes')"
            )
        traces.append(var)
    return Recording(tuple(dict.fromkeys(traces)), SPIKES in variables)


def simulate_outputs(
    problem: Problem,
    parameter_names: Sequence[str],
    theta: np.ndarray,
    *,
    variables: Sequence[str] | None = None,
    target: str | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    measurement: MeasurementPlan | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Simulate the parameter sets ``theta`` for every input and return their outputs.

    Parameters
    ----------
    problem : Problem
        Model, inputs and simulation settings.
    parameter_names : sequence of str
        Columns of ``theta``.
    theta : numpy.ndarray
        Parameter sets ``(n, d)`` in SI units.
    variables : sequence of str, optional
        Outputs to return (state variables and/or ``'spikes'``); the observed ones if None.
    target : str, optional
        Brian 2 code generation target.
    seed : int, optional
        Seed of the model's random numbers (noise).
    chunk_size : int, optional
        Parameter sets simulated at once.
    measurement : MeasurementPlan, optional
        Measurement noise added to the traces (as for the training simulations); its
        inferred levels are columns of ``theta``.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the chunks run (here, serially, if None).

    Returns
    -------
    dict
        ``{var: Quantity (n, n_traces, n_steps)}`` for state variables and
        ``{'spikes': [[Quantity spike times] * n_traces] * n}`` for spikes.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    recording = output_recording(problem, variables)
    collector = OutputCollector(recording)
    task = make_task(
        problem, parameter_names, collector, len(theta), chunk_size=chunk_size, target=target,
        measurement=measurement,
        executor=executor,
    )
    chunks = collect_chunks(task, theta, executor=executor, seed=resolve_seed(seed))
    out: dict[str, Any] = {
        var: Quantity(
            np.concatenate([c[var] for c in chunks]), dim=get_dimensions(chunks[0]["units"][var])
        )
        for var in recording.variables
    }
    if recording.spikes:
        out[SPIKES] = [
            [Quantity(train, dim=second.dim) for train in sample]
            for c in chunks
            for sample in c[SPIKES]
        ]
    return out


class OutputCollector:
    """The "features" of a predictive run: the recorded traces and spike trains themselves."""

    def __init__(self, recording: Recording) -> None:
        self._recording = recording

    def recording(self) -> Recording:
        """What to record."""
        return self._recording

    def compute(self, result: SimulationResult) -> dict[str, Any]:
        """A copy of the chunk's traces (their buffers are reused), units and spike trains."""
        out: dict[str, Any] = {
            var: np.array(result.traces[var]) for var in self._recording.variables
        }
        out["units"] = {var: result.units[var] for var in self._recording.variables}
        if self._recording.spikes:
            out[SPIKES] = result.spike_trains()
        return out


def _time_axis(problem: Problem, n_steps: int) -> np.ndarray:
    return np.arange(n_steps) * problem.duration / n_steps


def _trace_indices(traces: Any, problem: Problem) -> list[int]:
    """Valid input-trace indices, or a ProblemError naming ``traces``."""
    values = [traces] if isinstance(traces, int | np.integer) else traces
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ProblemError(f"traces: expected a list of trace indices, got {traces!r}")
    values = list(values)
    bad = [
        k for k in values
        if isinstance(k, bool) or not isinstance(k, int | np.integer)
        or not 0 <= k < problem.n_traces
    ]
    if bad or not values:
        raise ProblemError(
            f"traces: expected indices in 0..{problem.n_traces - 1} (one per input trace), "
            f"got {traces!r}"
        )
    return [int(k) for k in values]


def _check_outputs(problem: Problem, outputs: Any) -> list[str]:
    """The rows to plot (traces first, spikes last), or a ProblemError naming ``outputs``."""
    if not isinstance(outputs, Mapping):
        raise ProblemError(
            f"outputs: expected the dict that generate_traces() returns, got {type(outputs)}"
        )
    rows = [var for var in outputs if var != SPIKES] + ([SPIKES] if SPIKES in outputs else [])
    if not rows:
        raise ProblemError("outputs: nothing to plot")
    for var in rows:
        if var != SPIKES and (
            np.ndim(outputs[var]) != 3 or np.shape(outputs[var])[1] != problem.n_traces
        ):
            raise ProblemError(
                f"outputs[{var!r}]: expected traces of shape (n_samples, {problem.n_traces}, "
                f"n_steps), as generate_traces() returns; got shape {np.shape(outputs[var])}"
            )
    return rows


def plot_predictive(
    problem: Problem,
    outputs: dict[str, Any],
    *,
    level: float = 0.9,
    traces: Sequence[int] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Observed data overlaid with the predictive median and central ``level`` band.

    One row per output variable, one column per input trace. Spikes are shown as a raster:
    predictive samples in grey, the observed spikes in black on the top row.

    Parameters
    ----------
    problem : Problem
        Holds the observed outputs.
    outputs : dict
        What :func:`simulate_outputs` returned.
    level : float
        Probability mass of the shaded band.
    traces : sequence of int, optional
        Which input traces to show (all if None).
    figsize : tuple, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if not 0 < level < 1:
        raise ProblemError(f"level: expected a probability in (0, 1), got {level!r}")
    columns = list(range(problem.n_traces)) if traces is None else _trace_indices(traces, problem)
    rows = _check_outputs(problem, outputs)
    fig = Figure(figsize=figsize or (3.2 * len(columns) + 1, 2.4 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), len(columns), squeeze=False, sharex=True)
    t_unit = Quantity(problem.duration, dim=second.dim).get_best_unit()
    tail = 100 * (1 - level) / 2
    for r, var in enumerate(rows):
        for c, k in enumerate(columns):
            ax = axes[r, c]
            if var == SPIKES:
                _raster(ax, problem, outputs[SPIKES], k, float(t_unit))
                ax.set_ylabel("spikes" if c == 0 else "")
            else:
                values = np.asarray(outputs[var])[:, k, :]
                unit = _display_unit(outputs[var])
                scale = float(unit)
                t = _time_axis(problem, values.shape[-1]) / float(t_unit)
                lo, med, hi = np.percentile(values, [tail, 50, 100 - tail], axis=0)
                ax.fill_between(
                    t,
                    lo / scale,
                    hi / scale,
                    color="C0",
                    alpha=0.3,
                    lw=0,
                    label=f"predictive {level:.0%}",
                )
                ax.plot(t, med / scale, color="C0", lw=1.2, label="predictive median")
                if var in problem.outputs:
                    obs = problem.outputs[var][k]
                    t_obs = _time_axis(problem, len(obs)) / float(t_unit)
                    ax.plot(t_obs, obs / scale, color="k", lw=0.8, label="observed")
                ax.set_ylabel(f"{var} [{unit}]" if c == 0 else "")
            if r == 0:
                ax.set_title(f"trace {k}")
            if r == len(rows) - 1:
                ax.set_xlabel(f"t [{t_unit}]")
    axes[0, 0].legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def _display_unit(values: Quantity) -> Any:
    arr = np.asarray(values)
    ref = Quantity(np.max(np.abs(arr)) if arr.size else 0.0, dim=get_dimensions(values))
    return get_unit(ref.dim) if float(ref) == 0 else ref.get_best_unit()


def _raster(ax: Any, problem: Problem, samples: list, k: int, t_scale: float) -> None:
    for s, sample in enumerate(samples):
        times = np.asarray(sample[k]) / t_scale
        ax.plot(times, np.full(len(times), s), "|", color="0.5", ms=3)
    if problem.has_spikes:
        observed = np.asarray(problem.outputs[SPIKES][k]) / t_scale
        ax.plot(
            observed,
            np.full(len(observed), len(samples) + 1),
            "|",
            color="k",
            ms=6,
            label="observed spikes",
        )
    ax.set_xlim(0, problem.duration / t_scale)
    ax.set_yticks([])
