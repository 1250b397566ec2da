"""Current-clamp sweeps from Neurodata Without Borders files (the ``[nwb]`` extra, pynwb).

Each ``CurrentClampSeries`` in ``acquisition`` is a sweep; its stimulus is the
``CurrentClampStimulusSeries`` in ``stimulus`` with the same ``sweep_number`` (or, for files
without sweep numbers, the same position). Values are ``data * conversion + offset`` in the
series' ``unit``; the sampling interval is ``1 / rate`` (or the step of regular
``timestamps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity

from .._optional import require
from ._common import RecordingError, Recordings, Sweep, assemble

__all__ = ["load_nwb"]


def _values(series: Any) -> np.ndarray:
    data = np.asarray(series.data[:], dtype=float)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    return data * float(series.conversion) + offset


def _interval(series: Any, where: str) -> float:
    if series.rate is not None:
        return 1.0 / float(series.rate)
    stamps = np.asarray(series.timestamps[:], dtype=float)
    steps = np.diff(stamps)
    if steps.size == 0 or not np.allclose(steps, steps[0], rtol=1e-6):
        raise RecordingError(
            f"{where}: irregular timestamps (steps from {steps.min():g} to {steps.max():g} s); "
            f"only uniformly sampled sweeps can be loaded"
        )
    return float(steps[0])


def load_nwb(
    path: str | Path,
    *,
    sweeps: Sequence[int] | None = None,
    stimulus: Quantity | None = None,
    dt: Quantity | None = None,
    liquid_junction_potential: Quantity | None = None,
    t_start: Quantity | None = None,
    t_stop: Quantity | None = None,
    input_var: str = "I",
    output_var: str = "v",
) -> Recordings:
    """Load the current-clamp sweeps of an NWB file.

    Parameters
    ----------
    path : str or Path
        The ``.nwb`` file.
    sweeps : sequence of int, optional
        Sweep numbers to load (``sweep_number`` of the series; their position in the file for
        series without one); default all current-clamp sweeps.
    stimulus : Quantity, optional
        The injected current, ``(n_steps,)`` for all sweeps or ``(n_sweeps, n_steps)``, at the
        output ``dt``; replaces the file's stimulus (needed when the file has none).
    dt : Quantity, optional
        Resample every sweep (linearly) to this time step; needed for sweeps of mixed rates.
    liquid_junction_potential : Quantity, optional
        Subtracted from the recorded potential (``v = v_recorded - liquid_junction_potential``).
    t_start, t_stop : Quantity, optional
        Keep only this window of each sweep (times from the sweep's start).
    input_var, output_var : str
        The model's names for the current and the potential.

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
    pynwb = require("pynwb", "load_nwb")
    icephys = require("pynwb.icephys", "load_nwb")
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        acquired = list(nwbfile.acquisition.values())
        clamp = [s for s in acquired if isinstance(s, icephys.CurrentClampSeries)]
        if not clamp:
            found = sorted({type(s).__name__ for s in acquired}) or ["nothing"]
            raise RecordingError(
                f"{path}: no current-clamp data (no CurrentClampSeries in acquisition; found "
                f"{', '.join(found)})"
            )
        stimuli = [
            s for s in nwbfile.stimulus.values()
            if isinstance(s, icephys.CurrentClampStimulusSeries)
        ]
        numbered = all(s.sweep_number is not None for s in clamp)
        numbers = [int(s.sweep_number) if numbered else k for k, s in enumerate(clamp)]
        by_number = {
            (int(s.sweep_number) if numbered and s.sweep_number is not None else k): s
            for k, s in enumerate(stimuli)
        }
        wanted = numbers if sweeps is None else [int(n) for n in sweeps]
        missing = [n for n in wanted if n not in numbers]
        if missing:
            raise RecordingError(
                f"{path}: sweeps {missing} not found (current-clamp sweeps: {numbers})"
            )
        loaded = []
        for number in wanted:
            series = clamp[numbers.index(number)]
            label = f"sweep {number} ({series.name})"
            where = f"{path}, {label}"
            stim = by_number.get(number)
            loaded.append(
                Sweep(
                    label=label,
                    response=_values(series),
                    response_unit=series.unit,
                    dt=_interval(series, where),
                    stimulus=None if stim is None else _values(stim),
                    stimulus_unit=None if stim is None else stim.unit,
                )
            )
        electrode = clamp[0].electrode
        metadata: dict[str, Any] = {
            "session_description": nwbfile.session_description,
            "identifier": nwbfile.identifier,
            "electrode": getattr(electrode, "description", None),
            "cell": getattr(nwbfile.subject, "subject_id", None) if nwbfile.subject else None,
        }
    return assemble(
        loaded, path, stimulus=stimulus, dt=dt,
        liquid_junction_potential=liquid_junction_potential, t_start=t_start, t_stop=t_stop,
        input_var=input_var, output_var=output_var, metadata=metadata,
    )
