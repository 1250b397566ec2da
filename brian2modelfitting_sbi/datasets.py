"""Bundled example data: a synthetic Hodgkin–Huxley recording from known conductances.

The recording is made by :func:`make_hh_recording` (run ``python -m
brian2modelfitting_sbi.datasets`` to regenerate it) and stored as package data in
``data/hh_recording.npz`` (plain arrays, no pickles) with its metadata in JSON.
:func:`load_hh_recording` returns it as the fitters' keyword arguments, with units.
:func:`make_hh4_recording` simulates the same model with four unknown parameters on the fly.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity, amp, cm, mS, ms, mV, nA, nS, pF, second, siemens, uF, um, uS, volt

from .problem import Problem
from .simulation import ChunkSimulator, Recording

#: Hodgkin–Huxley model (Traub & Miles kinetics) with two unknown conductances.
HH_EQUATIONS = """
dv/dt = (gl*(El - v) - g_na*(m*m*m)*h*(v - ENa) - g_kd*(n*n*n*n)*(v - EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*(13.*mV - v + VT)/(exp((13.*mV - v + VT)/(4.*mV)) - 1.)/ms*(1 - m) - 0.28*(mV**-1)*(v - VT - 40.*mV)/(exp((v - VT - 40.*mV)/(5.*mV)) - 1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV - v + VT)/(exp((15.*mV - v + VT)/(5.*mV)) - 1.)/ms*(1. - n) - .5*exp((10.*mV - v + VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV - v + VT)/(18.*mV))/ms*(1. - h) - 4./(1 + exp((40.*mV - v + VT)/(5.*mV)))/ms*h : 1
g_na : siemens (constant)
g_kd : siemens (constant)
"""  # noqa: E501 - rate equations read best on one line each

AREA = 20000 * um**2
#: Constants of the model (fixed, not inferred).
HH_NAMESPACE = {
    "Cm": 1 * uF * cm**-2 * AREA,
    "gl": 5e-5 * siemens * cm**-2 * AREA,
    "El": -65 * mV,
    "EK": -90 * mV,
    "ENa": 50 * mV,
    "VT": -63 * mV,
}
#: The conductances used to make the recording.
HH_TRUTH = {"g_na": 100 * mS * cm**-2 * AREA, "g_kd": 30 * mS * cm**-2 * AREA}
#: Prior bounds used in the tutorials.
HH_BOUNDS = {"g_na": [1 * uS, 50 * uS], "g_kd": [0.5 * uS, 15 * uS]}
HH_INIT = {"v": -65 * mV, "m": 0.05, "h": 0.6, "n": 0.32}

#: The HH model with the leak conductance and the capacitance as parameters too.
HH4_EQUATIONS = HH_EQUATIONS + "gl : siemens (constant)\nCm : farad (constant)\n"
#: The four parameters of :func:`make_hh4_recording` (gl and Cm as in :data:`HH_NAMESPACE`).
HH4_TRUTH = {**HH_TRUTH, "gl": HH_NAMESPACE["gl"], "Cm": HH_NAMESPACE["Cm"]}
#: Prior bounds of the four-parameter tutorial.
HH4_BOUNDS = {**HH_BOUNDS, "gl": [2 * nS, 50 * nS], "Cm": [50 * pF, 500 * pF]}

_FILE = "hh_recording.npz"
_DT = 0.05 * ms
_AMPLITUDES = (0.4, 0.8)  # nA
_STEPS = 2400  # 120 ms per stimulus
_NOISE = 0.5 * mV


def hh_inputs() -> Quantity:
    """Two current steps (0.4 and 0.8 nA) from 10 to 110 ms, 120 ms at 0.05 ms."""
    current = np.zeros((len(_AMPLITUDES), _STEPS))
    for k, amplitude in enumerate(_AMPLITUDES):
        current[k, 200:2200] = amplitude
    return current * nA


def _simulate_v(
    equations: str, namespace: dict[str, Any], params: dict[str, Quantity], seed: int
) -> np.ndarray:
    """``v`` (SI floats, ``(n_traces, n_steps)``) of the HH stimuli at ``params``, plus noise."""
    inputs = hh_inputs()
    placeholder = np.full(inputs.shape, -65.0) * mV
    problem = Problem.from_arguments(
        equations, input_var="I", input=inputs, output_var="v", output=placeholder,
        dt=_DT, method="exponential_euler", param_init=HH_INIT, namespace=namespace,
    )
    names = sorted(params)
    sim = ChunkSimulator(problem, names, 1, Recording(("v",)))
    v = sim.run(np.array([[float(params[name]) for name in names]])).traces["v"][0]
    return v + np.random.default_rng(seed).normal(0.0, float(_NOISE), v.shape)


def make_hh_recording(path: str | Path | None = None, seed: int = 2024) -> Path:
    """Simulate the HH model at :data:`HH_TRUTH`, add 0.5 mV noise and write the npz file."""
    inputs = hh_inputs()
    v = _simulate_v(HH_EQUATIONS, HH_NAMESPACE, HH_TRUTH, seed)
    path = Path(path) if path is not None else Path(__file__).parent / "data" / _FILE
    meta = {"dt": float(_DT), "seed": seed, "noise": float(_NOISE),
            "truth": {k: float(val) for k, val in HH_TRUTH.items()}}
    np.savez_compressed(path, I=np.asarray(inputs), v=v, meta=json.dumps(meta))
    return path


def make_hh4_recording(seed: int = 2024) -> dict[str, Any]:
    """HH with four unknown parameters (``g_na``, ``g_kd``, ``gl``, ``Cm``), recorded on the fly.

    The same model, stimuli and noise as the bundled recording, with the leak conductance
    and the capacitance turned into parameters (:data:`HH4_EQUATIONS`); the recording is
    simulated at :data:`HH4_TRUTH` (about a second, not bundled).

    Returns
    -------
    dict
        Like :func:`load_hh_recording`: fitter arguments, ``namespace``, ``truth`` and
        ``bounds`` (:data:`HH4_BOUNDS`).
    """
    namespace = {k: v for k, v in HH_NAMESPACE.items() if k not in HH4_TRUTH}
    v = _simulate_v(HH4_EQUATIONS, namespace, HH4_TRUTH, seed)
    return {
        "model": HH4_EQUATIONS,
        "input_var": "I",
        "input": hh_inputs(),
        "output_var": "v",
        "output": Quantity(v, dim=volt.dim),
        "dt": _DT,
        "method": "exponential_euler",
        "param_init": dict(HH_INIT),
        "namespace": namespace,
        "truth": dict(HH4_TRUTH),
        "bounds": dict(HH4_BOUNDS),
    }


def load_hh_recording() -> dict[str, Any]:
    """The bundled HH recording as fitter arguments, plus ``truth`` and ``bounds``.

    Returns
    -------
    dict
        ``model``, ``input_var``, ``input``, ``output_var``, ``output``, ``dt``, ``method``,
        ``param_init``, ``namespace`` (ready for ``Inferencer(**...)`` or ``TraceFitter``
        after removing ``truth``/``bounds``), ``truth`` and ``bounds`` (dicts of quantities).
    """
    with resources.files("brian2modelfitting_sbi").joinpath("data", _FILE).open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        current, v, meta = data["I"], data["v"], json.loads(str(data["meta"]))
    return {
        "model": HH_EQUATIONS,
        "input_var": "I",
        "input": Quantity(current, dim=amp.dim),
        "output_var": "v",
        "output": Quantity(v, dim=volt.dim),
        "dt": meta["dt"] * second,
        "method": "exponential_euler",
        "param_init": dict(HH_INIT),
        "namespace": dict(HH_NAMESPACE),
        "truth": dict(HH_TRUTH),
        "bounds": dict(HH_BOUNDS),
    }


if __name__ == "__main__":  # pragma: no cover - regenerates the bundled file
    print(make_hh_recording())
