"""New recordings checked against the training problem, and their features.

Recordings given to :meth:`Inferencer.condition_many
<brian2modelfitting_sbi.Inferencer.condition_many>` take the constructor's ``output`` /
``output_var`` forms; they must follow the training protocol (output variables, units, number
of traces and steps, dt, stimuli), and each mismatch is named before any feature is computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, second
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from ..arguments import as_spike_trains, as_trace_array, normalize_io
from ..errors import ProblemError
from ..problem import SPIKES, Problem
from ..simulation import SimulationResult


def check_protocol(
    problem: Problem,
    input: Any = None,  # noqa: A002 - the fitters' name
    input_var: str | Sequence[str] | None = None,
    dt: Quantity | None = None,
) -> None:
    """Refuse a stimulus protocol (``input``, ``dt``) other than the training problem's.

    ``None`` means "the training protocol" and is not checked.
    """
    if dt is not None:
        if not isinstance(dt, Quantity) or np.ndim(dt) != 0 or get_dimensions(dt) != second.dim:
            raise ProblemError(f"dt: expected a time (e.g. 0.1*ms), got {dt!r}")
        if not np.isclose(float(dt), problem.dt, rtol=1e-9, atol=0):
            raise ProblemError(
                f"dt: the recordings must have the training dt ({_q(problem.dt, second)}), "
                f"got {dt!r}; resample them, or train an inference for this dt"
            )
    if input is None:
        return
    given = normalize_io("input", input_var, input)
    if set(given) != set(problem.inputs):
        raise ProblemError(
            f"input: expected the training input variables {sorted(problem.inputs)}, "
            f"got {sorted(given)}"
        )
    for var, value in given.items():
        arr, unit = as_trace_array(f"input[{var!r}]", value)
        expected_unit = problem.input_units[var]
        if get_dimensions(unit) != get_dimensions(expected_unit):
            raise ProblemError(
                f"input[{var!r}]: expected units of {expected_unit!r} (the training stimulus), "
                f"got {_unit_text(unit)}"
            )
        train = problem.inputs[var]
        if arr.shape != train.shape:
            raise ProblemError(
                f"input[{var!r}]: expected shape {train.shape} (n_traces, n_steps) of the "
                f"training stimulus, got {arr.shape}"
            )
        scale = float(np.max(np.abs(train))) or 1.0
        diff = np.abs(arr - train)
        if np.max(diff) > 1e-6 * scale:
            k, s = np.unravel_index(int(np.argmax(diff)), diff.shape)
            raise ProblemError(
                f"input[{var!r}]: differs from the training stimulus (trace {k}, step {s}: "
                f"expected {_q(train[k, s], expected_unit)}, got {_q(arr[k, s], expected_unit)}); "
                f"the estimator only knows the training protocol, so train an inference with "
                f"this one"
            )


def normalize_recording(
    problem: Problem, output: Any, output_var: str | Sequence[str] | None, label: str
) -> dict[str, Any]:
    """One recording in the constructor's forms → ``{var: SI array or spike trains}``.

    Refuses output variables, units, shapes (``n_traces``, ``n_steps``) other than the
    training problem's, naming the recording (``label``), what was expected and what was given.
    """
    if output_var is None and not isinstance(output, Mapping):
        if len(problem.outputs) != 1:
            raise ProblemError(
                f"{label}: give output_var= or a dict, since the training problem observes "
                f"{sorted(problem.outputs)}"
            )
        output_var = next(iter(problem.outputs))
    try:
        given = normalize_io("output", output_var, output)
    except ProblemError as exc:
        raise ProblemError(f"{label}: {exc}") from None
    if set(given) != set(problem.outputs):
        raise ProblemError(
            f"{label}: expected the output variables of the training problem "
            f"{sorted(problem.outputs)}, got {sorted(given)}"
        )
    shape = (problem.n_traces, problem.n_steps)
    out: dict[str, Any] = {}
    for var, value in given.items():
        where = f"{label}[{var!r}]"
        if var == SPIKES:
            out[var] = as_spike_trains(where, value, problem.n_traces, problem.duration)
            continue
        arr, unit = as_trace_array(where, value)
        expected = problem.output_units[var]
        if get_dimensions(unit) != get_dimensions(expected):
            raise ProblemError(f"{where}: expected units of {expected!r}, got {_unit_text(unit)}")
        if arr.shape != shape:
            reason = (
                f"{problem.n_traces} traces, one per stimulus"
                if arr.shape[0] != shape[0]
                else f"{problem.n_steps} steps of dt={_q(problem.dt, second)}, "
                f"i.e. {_q(problem.duration, second)}"
            )
            raise ProblemError(
                f"{where}: expected shape {shape} (n_traces, n_steps) like the training "
                f"recordings ({reason}), got {arr.shape}; recordings must follow the training "
                f"protocol (same stimuli, dt and duration)"
            )
        out[var] = arr
    return out


def batch_result(problem: Problem, recordings: Sequence[Mapping[str, Any]]) -> SimulationResult:
    """Normalized recordings as one :class:`SimulationResult` (``n_samples`` = recordings)."""
    return SimulationResult.from_recordings(problem, recordings)




def _as_recording_list(outputs: Any) -> list[Any]:
    """A list of recordings; a 3-D array ``(n_recordings, n_traces, n_steps)`` is split."""
    if isinstance(outputs, Mapping):
        raise ProblemError(
            "outputs: expected a list of recordings (each an array or a dict like the "
            "constructor's output), got a single dict; use condition() for one recording"
        )
    if isinstance(outputs, np.ndarray | Quantity):
        if np.ndim(outputs) != 3:
            raise ProblemError(
                f"outputs: expected a list of recordings or an array (n_recordings, n_traces, "
                f"n_steps), got an array of shape {np.shape(outputs)}"
            )
        return [outputs[i] for i in range(len(outputs))]
    if not isinstance(outputs, Sequence) or isinstance(outputs, str) or len(outputs) == 0:
        raise ProblemError(
            f"outputs: expected a non-empty list of recordings, got {type(outputs).__name__}"
        )
    return list(outputs)




def _q(value: float, unit: Any) -> str:
    return str(Quantity(value, dim=get_dimensions(unit)))


def _unit_text(unit: Any) -> str:
    return "a unitless array" if get_dimensions(unit) is DIMENSIONLESS else repr(unit)


def recording_features(
    problem: Problem,
    features: Any,
    outputs: Any,
    output_var: str | Sequence[str] | None = None,
    *,
    input: Any = None,  # noqa: A002 - the fitters' name
    input_var: str | Sequence[str] | None = None,
    dt: Quantity | None = None,
    names: Sequence[Any] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Validate recordings and compute their features in one pass: ``(x (B, k), names)``.

    Refuses recordings of another protocol (see :func:`check_protocol`,
    :func:`normalize_recording`), duplicate names, and recordings whose features are not
    finite (no posterior can be conditioned on them).
    """
    outputs = _as_recording_list(outputs)
    if names is None:
        names = [str(i) for i in range(len(outputs))]
    names = [str(n) for n in names]
    if len(names) != len(outputs):
        raise ProblemError(
            f"names: expected one name per recording ({len(outputs)}), got {len(names)}"
        )
    if len(set(names)) != len(names):
        raise ProblemError("names: recording names must be unique")
    check_protocol(problem, input, input_var, dt)
    recordings = [
        normalize_recording(problem, out, output_var, f"outputs[{i}]")
        for i, out in enumerate(outputs)
    ]
    feature_names = list(features.names(problem.n_traces))
    x = np.asarray(features.compute(batch_result(problem, recordings)), dtype=float)
    if x.shape != (len(outputs), len(feature_names)):
        raise RuntimeError(
            f"features: expected an array {(len(outputs), len(feature_names))}, got {x.shape}"
        )
    bad = ~np.all(np.isfinite(x), axis=1)
    if bad.any():
        details = "; ".join(
            f"{names[i]}: {[n for n, v in zip(feature_names, x[i], strict=True) if not np.isfinite(v)]}"  # noqa: E501
            for i in np.flatnonzero(bad)[:5]
        )
        raise ProblemError(
            f"outputs: {int(bad.sum())} recording(s) give non-finite features ({details}); "
            f"no posterior can be conditioned on them: leave them out or choose features "
            f"defined for them"
        )
    return x, names
