"""Hodgkin–Huxley validation problems: ``hh4`` (brian2modelfitting's example) and ``hh8``
(Gonçalves et al. 2020).

``hh4``
    The HH model of brian2modelfitting's ``examples/hh_sbi_simple_interface.py`` (Traub–Miles
    kinetics, 20,000 µm², VT = -63 mV) with its four unknowns ``g_na``, ``g_kd``, ``gl`` and
    ``Cm`` and its prior box; the four current steps of its ``input_traces_hh.csv`` (10, 2, 50
    and 0.2 nA from step 499 to 997 of 1,497, rebuilt here: the file is not shipped) at its
    dt = 0.01 ms, ``v`` starting at -65 mV. Measurement noise (:data:`HH4_RECORDING_NOISE`,
    Gaussian, independent per sample) is added to every simulated trace before the features
    are computed, as a recording has it.
``hh4n``
    ``hh4`` with the package's measurement-noise model instead: the simulations get white
    noise of ``v`` at a fifth unknown level ``sigma_v`` (``measurement_noise={'v':
    'sigma_v'}``, uniform prior 0.2-2 mV), the observation 1 mV of it.
``hh8``
    The model of Gonçalves et al. 2020 (eLife 9:e56261, after Pospischil et al. 2008): HH with
    an M-current and membrane noise, eight unknowns ``gNa``, ``gK``, ``gleak``, ``gM``,
    ``tau_max``, ``VT``, ``sigma`` (current noise) and ``Eleak`` with their uniform priors
    (per cm² there, times the area of a 70 µm soma here), one 60 ms step of 0.5 nA in an 80 ms
    trace at dt = 0.02 ms. The gating variables start at fixed values and relax during the
    10 ms before the step (theirs start at steady state).

Both use the 7 features of Gonçalves et al. per trace (:class:`GoncalvesFeatures`): spike
count (upward crossings of -10 mV), mean and standard deviation of the resting potential
(second half of the time before the stimulus), mean, standard deviation, skewness and
kurtosis of ``v`` during the stimulus.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from brian2 import Quantity, cm, mS, ms, mV, nA, siemens, uA, uF, um, volt

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import FeatureProvider
from brian2modelfitting_sbi.problem import Problem
from brian2modelfitting_sbi.simulation import ChunkSimulator, Recording, SimulationResult

TRAUB = """
dm/dt = 0.32*(4*mV)/exprel((13*mV - v + VT)/(4*mV))/ms/mV*(1 - m) - 0.28*(5*mV)/exprel((v - VT - 40*mV)/(5*mV))/ms/mV*m : 1
dn/dt = 0.032*(5*mV)/exprel((15*mV - v + VT)/(5*mV))/ms/mV*(1 - n) - 0.5*exp((10*mV - v + VT)/(40*mV))/ms*n : 1
dh/dt = 0.128*exp((17*mV - v + VT)/(18*mV))/ms*(1 - h) - 4/(1 + exp((40*mV - v + VT)/(5*mV)))/ms*h : 1
"""  # noqa: E501 - one rate equation per line

# ---------------------------------------------------------------------- hh4
HH4_AREA = 20000 * um**2
HH4_EQUATIONS = (
    "dv/dt = (gl*(El - v) - g_na*m**3*h*(v - ENa) - g_kd*n**4*(v - EK) + I)/Cm : volt\n"
    + TRAUB
    + "g_na : siemens (constant)\ng_kd : siemens (constant)\ngl : siemens (constant)\n"
    "Cm : farad (constant)\n"
)
HH4_NAMESPACE = {"El": -65 * mV, "EK": -90 * mV, "ENa": 50 * mV, "VT": -63 * mV}
#: The prior box of brian2modelfitting's example.
HH4_BOUNDS = {
    "g_na": [2e-6 * siemens, 2e-4 * siemens],
    "g_kd": [6e-7 * siemens, 6e-5 * siemens],
    "gl": [1e-9 * siemens, 1e-7 * siemens],
    "Cm": [0.1 * uF * cm**-2 * HH4_AREA, 2 * uF * cm**-2 * HH4_AREA],
}
HH4_TRUTH = {
    "g_na": 100 * mS * cm**-2 * HH4_AREA,
    "g_kd": 30 * mS * cm**-2 * HH4_AREA,
    "gl": 5e-5 * siemens * cm**-2 * HH4_AREA,
    "Cm": 1 * uF * cm**-2 * HH4_AREA,
}
HH4_DT = 0.01 * ms
HH4_STEPS, HH4_ON, HH4_OFF = 1497, 499, 998
HH4_AMPLITUDES = (10.0, 2.0, 50.0, 0.2)  # nA, rows 0, 1, 3, 4 of input_traces_hh.csv
#: Standard deviation of the recording noise added to simulated hh4 traces (volts); 0 turns
#: it off. (``hh4n`` uses the Inferencer's measurement-noise model instead, with the level
#: inferred.)
HH4_RECORDING_NOISE = 1e-3
#: ``hh4n``: the noise level is a fifth unknown, ``sigma_v`` (white measurement noise of
#: ``v`` added by ``measurement_noise={'v': 'sigma_v'}`` before the features).
HH4N_NOISE_BOUNDS = [0.2 * mV, 2 * mV]
HH4N_NOISE_TRUTH = 1 * mV
HH4_INIT = {"v": -65 * mV, "m": 0.05, "h": 0.6, "n": 0.32}

# ---------------------------------------------------------------------- hh8
HH8_AREA = np.pi * (70 * um) ** 2
HH8_EQUATIONS = (
    "dv/dt = (gleak*(Eleak - v) + gNa*m**3*h*(ENa - v) + gK*n**4*(EK - v) + gM*p*(EK - v)"
    " + I + sigma*sqrt(ms)*xi)/C : volt\n"
    + TRAUB
    + "dp/dt = (1/(1 + exp(-(v + 35*mV)/(10*mV))) - p)/(tau_max/(3.3*exp((v + 35*mV)/(20*mV))"
    " + exp(-(v + 35*mV)/(20*mV)))) : 1\n"
    "gNa : siemens (constant)\ngK : siemens (constant)\ngleak : siemens (constant)\n"
    "gM : siemens (constant)\ntau_max : second (constant)\nVT : volt (constant)\n"
    "sigma : amp (constant)\nEleak : volt (constant)\n"
)
HH8_NAMESPACE = {"ENa": 53 * mV, "EK": -107 * mV, "C": 1 * uF * cm**-2 * HH8_AREA}
_PER_CM2 = mS * cm**-2 * HH8_AREA
#: Gonçalves et al.'s uniform priors (conductances in mS/cm², sigma in µA/cm², times the area).
HH8_BOUNDS = {
    "gNa": [0.5 * _PER_CM2, 80 * _PER_CM2],
    "gK": [1e-4 * _PER_CM2, 15 * _PER_CM2],
    "gleak": [1e-4 * _PER_CM2, 0.6 * _PER_CM2],
    "gM": [1e-4 * _PER_CM2, 0.6 * _PER_CM2],
    "tau_max": [50 * ms, 3000 * ms],
    "VT": [-90 * mV, -40 * mV],
    "sigma": [1e-4 * uA * cm**-2 * HH8_AREA, 0.15 * uA * cm**-2 * HH8_AREA],
    "Eleak": [-100 * mV, -35 * mV],
}
HH8_TRUTH = {
    "gNa": 4 * _PER_CM2, "gK": 1.5 * _PER_CM2, "gleak": 0.1 * _PER_CM2, "gM": 0.07 * _PER_CM2,
    "tau_max": 600 * ms, "VT": -60 * mV, "sigma": 0.1 * uA * cm**-2 * HH8_AREA,
    "Eleak": -70 * mV,
}
HH8_DT = 0.02 * ms
HH8_STEPS, HH8_ON, HH8_OFF = 4000, 500, 3500
HH8_CURRENT = 0.5 * nA
HH8_INIT = {"v": -70 * mV, "m": 0.05, "h": 0.6, "n": 0.32, "p": 0.029}


def _row_seed(row: np.ndarray, seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") ^ seed


@dataclass
class GoncalvesFeatures(FeatureProvider):
    """Spike count, resting mean and std, and the moments of ``v`` during the stimulus.

    Parameters
    ----------
    on, off : int
        First and last-plus-one step of the stimulus.
    noise : float
        Standard deviation (volts) of Gaussian recording noise added to each simulated trace
        (per sample, from a hash of the noiseless trace: reproducible in any chunking).
    seed : int
        Base seed of that noise.
    """

    on: int
    off: int
    noise: float = 0.0
    seed: int = 0

    def recording(self) -> Recording:  # noqa: D102
        return Recording(("v",), False)

    NAMES = ("spikes", "rest_mean", "rest_std", "mean", "std", "skewness", "kurtosis")

    def names(self, n_traces: int) -> list[str]:  # noqa: D102
        return [f"{name}[{k}]" for name in self.NAMES for k in range(n_traces)]

    def compute(self, result: SimulationResult) -> np.ndarray:  # noqa: D102
        v = np.array(result.traces["v"], dtype=float)  # (n, traces, steps), volts
        if self.noise > 0:  # the observation's noise comes from here too
            for i in range(len(v)):
                rng = np.random.default_rng(_row_seed(v[i], self.seed))
                v[i] += rng.normal(0.0, self.noise, v[i].shape)
        return goncalves_features(v, self.on, self.off)


def goncalves_features(v: np.ndarray, on: int, off: int) -> np.ndarray:
    """The 7 features per trace of ``v`` ``(n, traces, steps)``, feature-major ``(n, 7*traces)``."""
    above = v > -0.010  # a spike: an upward crossing of -10 mV (robust to recording noise,
    spikes = (above[..., 1:] & ~above[..., :-1]).sum(axis=-1)  # unlike counting local maxima)
    rest = v[..., on // 2 : on]
    stim = v[..., on:off]
    mean, std = stim.mean(axis=-1), stim.std(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (stim - mean[..., None]) / std[..., None]
        skew, kurt = (z**3).mean(axis=-1), (z**4).mean(axis=-1)
    out = np.stack([spikes, rest.mean(-1), rest.std(-1), mean, std, skew, kurt], axis=1)
    return out.reshape(len(v), -1)


@dataclass(frozen=True)
class HHProblem:
    """One HH validation problem: how to build its Inferencer, its prior and truth."""

    name: str
    bounds: dict
    truth: dict

    def make_inferencer(self, target: str | None = "numpy", seed: int = 0) -> Inferencer:
        """An Inferencer whose observation is simulated at :attr:`truth`."""
        return make_inferencer(self.name, target=target, seed=seed)


def _steps(amplitudes: tuple[float, ...], n: int, on: int, off: int) -> Quantity:
    current = np.zeros((len(amplitudes), n))
    for k, amplitude in enumerate(amplitudes):
        current[k, on:off] = amplitude
    return current * nA


def arguments(name: str) -> dict:
    """The Inferencer arguments of problem ``name`` (model, input, dt, features...)."""
    if name == "hh4":
        return {
            "model": HH4_EQUATIONS, "input_var": "I",
            "input": _steps(HH4_AMPLITUDES, HH4_STEPS, HH4_ON, HH4_OFF), "dt": HH4_DT,
            "param_init": HH4_INIT, "namespace": HH4_NAMESPACE, "method": "exponential_euler",
            "features": GoncalvesFeatures(HH4_ON, HH4_OFF, HH4_RECORDING_NOISE),
        }
    if name == "hh4n":
        args = arguments("hh4")
        args["features"] = GoncalvesFeatures(HH4_ON, HH4_OFF, 0.0)
        args["measurement_noise"] = {"v": "sigma_v"}
        return args
    if name == "hh8":
        return {
            "model": HH8_EQUATIONS, "input_var": "I",
            "input": _steps((float(HH8_CURRENT / nA),), HH8_STEPS, HH8_ON, HH8_OFF),
            "dt": HH8_DT, "param_init": HH8_INIT, "namespace": HH8_NAMESPACE,
            "method": "euler",  # Euler-Maruyama: exponential Euler takes no noise term
            "features": GoncalvesFeatures(HH8_ON, HH8_OFF, 0.0),
        }
    raise ValueError(f"problem: expected 'hh4', 'hh4n' or 'hh8', got {name!r}")


def make_inferencer(name: str, target: str | None = "numpy", seed: int = 0) -> Inferencer:
    """The Inferencer of ``name`` with an observation simulated at its truth (the features
    add the recording noise)."""
    args = arguments(name)
    features = args.pop("features")
    measurement = args.pop("measurement_noise", None)
    truth = dict(PROBLEMS[name].truth)
    level = truth.pop("sigma_v", None)
    placeholder = np.full(np.shape(args["input"]), -65.0) * mV
    problem = Problem.from_arguments(output_var="v", output=placeholder, **args)
    names = sorted(truth)
    sim = ChunkSimulator(problem, names, 1, Recording(("v",)), target)
    v = sim.run(np.array([[float(truth[n]) for n in names]]), seed=seed).traces["v"][0]
    if level is not None:  # the recording's own measurement noise
        v = v + np.random.default_rng(seed + 1).normal(0.0, float(level), v.shape)
    if measurement is not None:
        args["measurement_noise"] = measurement
    return Inferencer(output_var="v", output=Quantity(v, dim=volt.dim), features=features,
                      target=target, **args)


PROBLEMS = {
    "hh4": HHProblem("hh4", HH4_BOUNDS, HH4_TRUTH),
    "hh4n": HHProblem("hh4n", {**HH4_BOUNDS, "sigma_v": HH4N_NOISE_BOUNDS},
                      {**HH4_TRUTH, "sigma_v": HH4N_NOISE_TRUTH}),
    "hh8": HHProblem("hh8", HH8_BOUNDS, HH8_TRUTH),
}
