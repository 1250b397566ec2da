"""What every loader shares: sweeps in, :class:`Recordings` (Brian 2 quantities) out.

A format module reads each current-clamp sweep into a :class:`Sweep` (plain floats with the
file's unit names, the sampling interval, the stimulus if the file has one); :func:`assemble`
checks them, converts the units, applies the time window, the liquid-junction-potential
correction and the resampling, and stacks them into ``(n_sweeps, n_steps)`` arrays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity, amp, second, volt
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

__all__ = ["RecordingError", "Recordings", "Sweep", "assemble", "condition_many_kwargs"]


class RecordingError(ValueError):
    """A recording file cannot be turned into traces; the message names file, sweep and why."""


#: SI prefixes that unit strings of recording files use.
_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "n": 1e-9,
             "p": 1e-12, "f": 1e-15}
_PREFIX_WORDS = {"": 1.0, "kilo": 1e3, "milli": 1e-3, "micro": 1e-6, "nano": 1e-9,
                 "pico": 1e-12, "femto": 1e-15}
_BASES = {"v": volt, "volt": volt, "volts": volt, "a": amp, "amp": amp, "amps": amp,
          "ampere": amp, "amperes": amp}


def parse_unit(text: str, where: str) -> tuple[float, Quantity]:
    """``(scale to SI, Brian base unit)`` of a unit string such as ``'mV'``, ``'pA'``,
    ``'volts'`` or ``'nanoamperes'``.

    Raises
    ------
    RecordingError
        For any other unit (``where`` says which file and sweep).
    """
    raw = str(text).strip()
    word = raw.lower()
    match = re.fullmatch(r"(kilo|milli|micro|nano|pico|femto)?(volts?|amperes?|amps?)", word)
    if match:
        return _PREFIX_WORDS[match.group(1) or ""], _BASES[match.group(2)]
    match = re.fullmatch(r"([kmuµμnpf]?)([vV]|A)", raw)
    if match:
        return _PREFIXES[match.group(1)], _BASES[match.group(2).lower()]
    raise RecordingError(
        f"{where}: unknown unit {raw!r}; expected a voltage (V, mV, uV, volts) or a current "
        f"(A, nA, pA, amperes)"
    )


@dataclass
class Sweep:
    """One sweep as read from a file, before units and options are applied.

    ``response``/``stimulus`` are float arrays in the units named by ``response_unit`` and
    ``stimulus_unit``; ``dt`` is the sampling interval in seconds; ``label`` names the sweep in
    messages (e.g. ``'sweep 3'`` or the series' name).
    """

    label: str
    response: np.ndarray
    response_unit: str
    dt: float
    stimulus: np.ndarray | None = None
    stimulus_unit: str | None = None


@dataclass
class Recordings:
    """Current-clamp sweeps as Brian 2 quantities, ready for the Inferencer.

    Attributes
    ----------
    input : Quantity
        The injected current, ``(n_sweeps, n_steps)``, in amperes.
    output : Quantity
        The membrane potential, ``(n_sweeps, n_steps)``, in volts (after the liquid-junction
        potential correction, if one was given).
    dt : Quantity
        The sampling interval (the file's, or the one it was resampled to).
    input_var, output_var : str
        The model's variable names for ``input`` and ``output`` (default ``'I'`` and ``'v'``).
    source : str
        The file the sweeps come from.
    sweeps : list of str
        The sweeps' labels, in the order of the rows.
    metadata : dict
        Anything else the loader found (e.g. the cell or electrode description).
    """

    input: Quantity  # noqa: A003 - the fitters' name
    output: Quantity
    dt: Quantity
    input_var: str = "I"
    output_var: str = "v"
    source: str = ""
    sweeps: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_sweeps(self) -> int:
        """Number of sweeps (traces)."""
        return int(np.shape(self.output)[0])

    @property
    def duration(self) -> Quantity:
        """Length of each sweep."""
        return np.shape(self.output)[1] * self.dt

    def as_inferencer_kwargs(self) -> dict[str, Any]:
        """``input_var``, ``input``, ``output_var``, ``output`` and ``dt`` for the Inferencer:
        ``Inferencer(model=..., **rec.as_inferencer_kwargs(), features=...)``.
        """
        return {
            "input_var": self.input_var,
            "input": self.input,
            "output_var": self.output_var,
            "output": self.output,
            "dt": self.dt,
        }

    def __repr__(self) -> str:
        return (
            f"Recordings({self.n_sweeps} sweeps x {np.shape(self.output)[1]} steps, "
            f"dt={self.dt}, source={self.source!r})"
        )


def _as_seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, Quantity) or get_dimensions(value) is not second.dim:
        raise RecordingError(f"{name}: expected a time with units (e.g. 10*ms), got {value!r}")
    return float(value)


def _check_stimulus_argument(stimulus: Any, n_sweeps: int) -> np.ndarray | None:
    """The ``stimulus=`` argument as SI floats ``(n_sweeps, n_steps)`` (or None)."""
    if stimulus is None:
        return None
    if not isinstance(stimulus, Quantity) or get_dimensions(stimulus) is not amp.dim:
        raise RecordingError(
            f"stimulus: expected a current with units (e.g. an array * nA), got "
            f"{type(stimulus).__name__} with dimensions "
            f"{getattr(stimulus, 'dim', DIMENSIONLESS)}"
        )
    arr = np.asarray(stimulus, dtype=float)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (n_sweeps, arr.size))
    if arr.ndim != 2 or arr.shape[0] != n_sweeps:
        raise RecordingError(
            f"stimulus: expected one trace (n_steps,) for all sweeps or one per sweep "
            f"({n_sweeps}, n_steps), got shape {np.shape(stimulus)}"
        )
    return arr


def _resample(values: np.ndarray, dt_from: float, dt_to: float) -> np.ndarray:
    """Linear interpolation of a uniformly sampled trace onto a grid of step ``dt_to``."""
    duration = values.size * dt_from
    n_new = int(np.floor(duration / dt_to + 1e-9))
    return np.interp(np.arange(n_new) * dt_to, np.arange(values.size) * dt_from, values)


def assemble(
    sweeps: Sequence[Sweep],
    source: str | Path,
    *,
    stimulus: Quantity | None = None,
    dt: Quantity | None = None,
    liquid_junction_potential: Quantity | None = None,
    t_start: Quantity | None = None,
    t_stop: Quantity | None = None,
    input_var: str = "I",
    output_var: str = "v",
    metadata: Mapping[str, Any] | None = None,
) -> Recordings:
    """Check, convert and stack sweeps into :class:`Recordings` (see the loaders' options)."""
    source = str(source)
    if not sweeps:
        raise RecordingError(f"{source}: no current-clamp sweeps to load")
    lower, upper = _as_seconds(t_start, "t_start"), _as_seconds(t_stop, "t_stop")
    if lower is not None and upper is not None and upper <= lower:
        raise RecordingError(f"t_stop: must be after t_start, got {t_start} and {t_stop}")
    target_dt = _as_seconds(dt, "dt")
    if target_dt is not None and target_dt <= 0:
        raise RecordingError(f"dt: must be positive, got {dt}")
    ljp = 0.0
    if liquid_junction_potential is not None:
        if (not isinstance(liquid_junction_potential, Quantity)
                or get_dimensions(liquid_junction_potential) is not volt.dim):
            raise RecordingError(
                f"liquid_junction_potential: expected a voltage (e.g. 14*mV), got "
                f"{liquid_junction_potential!r}"
            )
        ljp = float(liquid_junction_potential)
    given = _check_stimulus_argument(stimulus, len(sweeps))

    rates = {sweep.label: sweep.dt for sweep in sweeps}
    if target_dt is None and not np.allclose(list(rates.values()), sweeps[0].dt, rtol=1e-6):
        listed = ", ".join(f"{label}: {1 / d:g} Hz" for label, d in rates.items())
        raise RecordingError(
            f"{source}: mixed sampling rates ({listed}); give dt= to resample all sweeps to "
            f"one time step, or choose sweeps of one rate with sweeps="
        )

    outputs, inputs = [], []
    for k, sweep in enumerate(sweeps):
        where = f"{source}, {sweep.label}"
        scale, unit = parse_unit(sweep.response_unit, where)
        if unit is not volt:
            raise RecordingError(
                f"{where}: the response is in {sweep.response_unit!r}, not a voltage: this is "
                f"not current-clamp data (voltage-clamp sweeps record a current)"
            )
        response = np.asarray(sweep.response, dtype=float).reshape(-1) * scale - ljp
        current = None
        if given is None:
            if sweep.stimulus is None:
                raise RecordingError(
                    f"{where}: missing stimulus (the file holds no current for this sweep); "
                    f"give it with stimulus= (an array * nA, one trace for all sweeps or one "
                    f"per sweep)"
                )
            s_scale, s_unit = parse_unit(sweep.stimulus_unit or "", f"{where} (stimulus)")
            if s_unit is not amp:
                raise RecordingError(
                    f"{where}: the stimulus is in {sweep.stimulus_unit!r}, not a current"
                )
            current = np.asarray(sweep.stimulus, dtype=float).reshape(-1) * s_scale
            if current.size != response.size:
                raise RecordingError(
                    f"{where}: the stimulus has {current.size} samples, the response "
                    f"{response.size}"
                )
        step = sweep.dt
        if target_dt is not None and not np.isclose(step, target_dt, rtol=1e-9):
            response = _resample(response, step, target_dt)
            current = None if current is None else _resample(current, step, target_dt)
            step = target_dt
        if given is not None:  # the whole sweep, at the output time step
            current = given[k]
            if current.size != response.size:
                raise RecordingError(
                    f"{where}: the given stimulus has {current.size} steps, the sweep "
                    f"{response.size} (at dt = {step:g} s, before the time window)"
                )
        first = 0 if lower is None else int(round(lower / step))
        last = response.size if upper is None else int(round(upper / step))
        if first >= response.size or last > response.size:
            raise RecordingError(
                f"{where}: the time window [{t_start}, {t_stop}] ends after the sweep "
                f"({response.size * step:g} s)"
            )
        outputs.append(response[first:last])
        inputs.append(current[first:last])

    lengths = {sweep.label: out.size for sweep, out in zip(sweeps, outputs, strict=True)}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{label}: {n}" for label, n in lengths.items())
        raise RecordingError(
            f"{source}: the sweeps have different lengths (samples {listed}); cut them to a "
            f"common window with t_start=/t_stop="
        )
    step = target_dt if target_dt is not None else sweeps[0].dt
    return Recordings(
        input=Quantity(np.asarray(inputs), dim=amp.dim),
        output=Quantity(np.asarray(outputs), dim=volt.dim),
        dt=step * second,
        input_var=input_var,
        output_var=output_var,
        source=source,
        sweeps=[sweep.label for sweep in sweeps],
        metadata=dict(metadata or {}),
    )


def condition_many_kwargs(
    cells: Sequence[Recordings], names: Sequence[Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments of :meth:`Inferencer.condition_many` for many cells' recordings.

    ``inferencer.condition_many(**condition_many_kwargs([rec1, rec2, ...]))``: the cells must
    share the protocol (stimulus, dt and number of sweeps), which ``condition_many`` also
    compares with the training one. ``names`` default to the files' names.
    """
    cells = list(cells)
    if not cells:
        raise RecordingError("cells: expected at least one Recordings, got none")
    first = cells[0]
    for cell in cells[1:]:
        if cell.dt != first.dt:
            raise RecordingError(
                f"{cell.source}: dt {cell.dt} differs from {first.source}'s {first.dt}; load "
                f"both with the same dt="
            )
        same = np.shape(cell.input) == np.shape(first.input) and np.allclose(
            np.asarray(cell.input), np.asarray(first.input), rtol=1e-6, atol=1e-15
        )
        if not same:
            raise RecordingError(
                f"{cell.source}: its stimulus differs from {first.source}'s; condition_many "
                f"needs recordings made with one protocol"
            )
    return {
        "outputs": [cell.output for cell in cells],
        "output_var": first.output_var,
        "input": first.input,
        "input_var": first.input_var,
        "dt": first.dt,
        "names": list(names) if names is not None else [Path(c.source).name for c in cells],
    }
