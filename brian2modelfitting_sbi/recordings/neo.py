"""Current-clamp sweeps from the formats Neo reads: Axon ABF, Igor, WinWCP, Spike2, MATLAB and
more (the ``[neo]`` extra).

Each ``Segment`` of the block is a sweep. Its analog signals are sorted by unit: the voltage
channel is the response, a current channel (the command or current monitor) the stimulus;
``channel=`` and ``stimulus_channel=`` choose by name when there are several.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity, amp, volt

from .._optional import require
from ._common import RecordingError, Recordings, Sweep, assemble, parse_unit

__all__ = ["load_neo"]


def _channels(segment: Any) -> list[tuple[str, np.ndarray, str, float]]:
    """``(name, values, unit string, sampling interval in s)`` of each channel of a segment."""
    out = []
    for signal in segment.analogsignals:
        unit = signal.units.dimensionality.string
        step = float(signal.sampling_period.rescale("s").magnitude)
        values = np.asarray(signal.magnitude, dtype=float).reshape(signal.shape[0], -1)
        for j in range(values.shape[1]):
            name = str(signal.name or f"signal {len(out)}")
            if values.shape[1] > 1:
                name = f"{name}[{j}]"
            out.append((name, values[:, j], unit, step))
    return out


def _pick(
    channels: list[tuple[str, np.ndarray, str, float]], wanted: str | None, kind: Quantity,
    where: str, what: str,
) -> tuple[str, np.ndarray, str, float] | None:
    if wanted is not None:
        named = [c for c in channels if c[0] == wanted]
        if not named:
            raise RecordingError(
                f"{where}: no channel named {wanted!r} for the {what} (channels: "
                f"{[c[0] for c in channels]})"
            )
        return named[0]
    matching = []
    for channel in channels:
        try:
            _, unit = parse_unit(channel[2], where)
        except RecordingError:
            continue
        if unit is kind:
            matching.append(channel)
    return matching[0] if matching else None


def load_neo(
    source: str | Path | Any,
    *,
    io: Any = None,
    block: int = 0,
    sweeps: Sequence[int] | None = None,
    channel: str | None = None,
    stimulus_channel: str | None = None,
    stimulus: Quantity | None = None,
    dt: Quantity | None = None,
    liquid_junction_potential: Quantity | None = None,
    t_start: Quantity | None = None,
    t_stop: Quantity | None = None,
    input_var: str = "I",
    output_var: str = "v",
) -> Recordings:
    """Load the current-clamp sweeps of a file that Neo reads (or of a ``neo.Block``).

    Parameters
    ----------
    source : str, Path or neo.Block
        The file (its format guessed from the suffix, e.g. ``.abf``) or a block already read.
    io : neo IO class, optional
        The reader, e.g. ``neo.io.AxonIO``, when the suffix does not tell.
    block : int
        Which block of the file.
    sweeps : sequence of int, optional
        Segment indices to load (default all).
    channel, stimulus_channel : str, optional
        Names of the voltage and current channels (default: the first of each kind of unit).
    stimulus : Quantity, optional
        The injected current, ``(n_steps,)`` for all sweeps or ``(n_sweeps, n_steps)``, at the
        output ``dt``; replaces the file's current channel (needed when the file has none,
        e.g. an ABF file that records only the membrane potential).
    dt, liquid_junction_potential, t_start, t_stop, input_var, output_var
        As for :func:`~brian2modelfitting_sbi.recordings.load_nwb`.

    Returns
    -------
    Recordings
        ``Inferencer(model=..., **rec.as_inferencer_kwargs(), ...)``.

    Raises
    ------
    RecordingError
        Naming the file and sweep: no current-clamp data, mixed sampling rates, missing
        stimulus, unknown units, sweeps of different lengths.
    """
    neo = require("neo", "load_neo")
    if isinstance(source, neo.Block):
        blocks, name = [source], str(source.name or "neo.Block")
    else:
        path = Path(source)
        if not path.exists():
            raise RecordingError(f"{path}: no such file")
        name = str(path)
        try:
            reader = io(str(path)) if io is not None else neo.io.get_io(str(path))
            blocks = reader.read(lazy=False)
        except Exception as exc:
            raise RecordingError(f"{path}: Neo cannot read it ({type(exc).__name__}: {exc})") \
                from exc
    if not 0 <= block < len(blocks):
        raise RecordingError(f"{name}: block {block} not found ({len(blocks)} block(s))")
    segments = list(blocks[block].segments)
    if not segments:
        raise RecordingError(f"{name}: no current-clamp data (block {block} has no segments)")
    wanted = range(len(segments)) if sweeps is None else [int(k) for k in sweeps]
    missing = [k for k in wanted if not 0 <= k < len(segments)]
    if missing:
        raise RecordingError(f"{name}: sweeps {missing} not found ({len(segments)} segments)")
    loaded = []
    for k in wanted:
        label = f"sweep {k}"
        where = f"{name}, {label}"
        channels = _channels(segments[k])
        if not channels:
            raise RecordingError(f"{where}: no current-clamp data (no analog signals)")
        response = _pick(channels, channel, volt, where, "membrane potential")
        if response is None:
            units = sorted({c[2] for c in channels})
            for unit in units:  # an unknown unit is the likelier mistake: say so
                parse_unit(unit, where)
            raise RecordingError(
                f"{where}: no current-clamp data: no channel records a voltage (units: "
                f"{units}; voltage-clamp sweeps record a current)"
            )
        current = None if stimulus is not None else _pick(
            channels, stimulus_channel, amp, where, "stimulus"
        )
        if current is not None and current[0] == response[0]:
            current = None
        loaded.append(
            Sweep(
                label=f"{label} ({response[0]})",
                response=response[1],
                response_unit=response[2],
                dt=response[3],
                stimulus=None if current is None else current[1],
                stimulus_unit=None if current is None else current[2],
            )
        )
    return assemble(
        loaded, name, stimulus=stimulus, dt=dt,
        liquid_junction_potential=liquid_junction_potential, t_start=t_start, t_stop=t_stop,
        input_var=input_var, output_var=output_var,
        metadata={"block": str(blocks[block].name or block)},
    )
