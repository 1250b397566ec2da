"""A Brian 2 problem whose exact posterior is known: a passive membrane with noisy window means.

Model: ``dv/dt = (gL*(EL - v) + I)/C`` with three unknowns ``gL``, ``C`` and ``EL``, two step
currents, and ``v`` starting at :data:`V0`. The features are window means of ``v`` (per trace)
plus Gaussian noise of known standard deviation :data:`NOISE_SD`, so the likelihood of a
feature vector is Gaussian around means that have a closed form.

The closed form is exact for what Brian 2 records: the model is linear in ``v`` with an input
that is constant over each time step, so ``exponential_euler`` integrates it exactly and the
recorded samples are ``v[k+1] = v_inf(I[k]) + (v[k] - v_inf(I[k])) * exp(-dt*gL/C)``. Within a
stretch of constant input the window means are sums of geometric series
(:func:`window_means`). :func:`check_closed_form` compares them with Brian 2 simulations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import ms, mV, nA, nS, pF

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.features import FeatureProvider
from brian2modelfitting_sbi.simulation import Recording, SimulationResult

EQUATIONS = """
dv/dt = (gL*(EL - v) + I)/C : volt
gL : siemens (constant)
C : farad (constant)
EL : volt (constant)
"""
#: Time step and trace length (steps).
DT = 0.1 * ms
N_STEPS = 1500
#: Initial membrane potential (a fixed, known value; EL is inferred).
V0 = -70 * mV
#: Step currents: amplitude per trace, on from step ON to step OFF.
AMPLITUDES = np.array([0.05, 0.15])  # nA
ON, OFF = 200, 1000
#: Windows (start, stop) in steps over which v is averaged: rest, early rise, late plateau,
#: early decay.
WINDOWS = ((0, 200), (220, 400), (800, 1000), (1020, 1200))
#: Standard deviation of the Gaussian noise added to each feature (volts).
NOISE_SD = 2.0e-3
#: Prior box (uniform) and the ground truth of the observation.
BOUNDS = {"gL": [2 * nS, 30 * nS], "C": [50 * pF, 400 * pF], "EL": [-80 * mV, -60 * mV]}
TRUTH = {"gL": 10 * nS, "C": 150 * pF, "EL": -65 * mV}
#: Column order of theta arrays (the Inferencer sorts parameter names).
NAMES = ("C", "EL", "gL")


def currents() -> np.ndarray:
    """The step currents, a Quantity array ``(n_traces, N_STEPS)``."""
    out = np.zeros((len(AMPLITUDES), N_STEPS))
    out[:, ON:OFF] = AMPLITUDES[:, None]
    return out * nA


def _segments(current: np.ndarray) -> list[tuple[int, int, float]]:
    """``(start, stop, value)`` of the stretches where a 1-D input is constant."""
    edges = np.flatnonzero(np.diff(current)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(current)]])
    return [(int(a), int(b), float(current[a])) for a, b in zip(starts, stops, strict=True)]


def window_means(theta: np.ndarray, current: np.ndarray | None = None) -> np.ndarray:
    """Noiseless features (window means of v, feature-major) for ``theta`` ``(n, 3)``.

    Parameters
    ----------
    theta : numpy.ndarray
        Columns ``C, EL, gL`` (farad, volt, siemens), any leading shape.
    current : numpy.ndarray, optional
        Input in amperes ``(n_traces, n_steps)``; :func:`currents` if None.

    Returns
    -------
    numpy.ndarray
        ``(..., n_windows * n_traces)``: column ``w * n_traces + k`` is window ``w`` of trace
        ``k``, the layout of :class:`NoisyWindowMeans`.
    """
    theta = np.asarray(theta, dtype=float)
    cap, e_l, g_l = theta[..., 0], theta[..., 1], theta[..., 2]
    cur = np.asarray(currents() if current is None else current, dtype=float)
    decay = g_l * float(DT) / cap  # dt / tau
    r = np.exp(-decay)
    one_minus_r = -np.expm1(-decay)
    out = np.empty(theta.shape[:-1] + (len(WINDOWS), len(cur)))
    for k, trace in enumerate(cur):
        sums = np.zeros(theta.shape[:-1] + (len(WINDOWS),))
        v_start = np.full(theta.shape[:-1], float(V0))
        for seg_a, seg_b, value in _segments(trace):
            v_inf = e_l + value / g_l
            offset = v_start - v_inf
            for w, (a, b) in enumerate(WINDOWS):
                lo, hi = max(a, seg_a), min(b, seg_b)
                if hi <= lo:
                    continue
                n = hi - lo
                # sum_{j=lo}^{hi-1} v[j] with v[j] = v_inf + offset * r**(j - seg_a)
                geometric = r ** (lo - seg_a) * -np.expm1(n * np.log(r)) / one_minus_r
                sums[..., w] += n * v_inf + offset * geometric
            v_start = v_inf + offset * r ** (seg_b - seg_a)
        lengths = np.array([b - a for a, b in WINDOWS], dtype=float)
        out[..., :, k] = sums / lengths
    return out.reshape(theta.shape[:-1] + (-1,))


def row_noise(rows: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """Gaussian noise per row, a deterministic function of the row's bytes and ``seed``.

    Chunks of a simulation may be computed in other processes, each with a fresh copy of the
    provider, so a stateful generator would repeat the same noise in every chunk. Seeding each
    row from its own (noiseless) values gives independent-looking draws, reproducibly.
    """
    out = np.empty_like(rows)
    for i, row in enumerate(np.ascontiguousarray(rows)):
        entropy = np.frombuffer(row.tobytes(), dtype=np.uint32)
        rng = np.random.default_rng(np.random.SeedSequence([seed, *entropy.tolist()]))
        out[i] = rng.normal(0.0, sd, row.shape)
    return out


@dataclass
class NoisyWindowMeans(FeatureProvider):
    """Window means of ``v`` per trace plus N(0, ``sd``²) noise on every feature.

    Parameters
    ----------
    windows : tuple of (start, stop)
        Step ranges averaged over.
    sd : float
        Noise standard deviation in volts (0 for the noiseless means).
    seed : int
        Base seed of the noise.
    """

    windows: tuple[tuple[int, int], ...] = WINDOWS
    sd: float = NOISE_SD
    seed: int = 0

    def recording(self) -> Recording:  # noqa: D102
        return Recording(("v",), False)

    def names(self, n_traces: int) -> list[str]:  # noqa: D102
        return [f"v.mean[{a}:{b}][{k}]" for a, b in self.windows for k in range(n_traces)]

    def compute(self, result: SimulationResult) -> np.ndarray:  # noqa: D102
        v = result.traces["v"]  # (n_samples, n_traces, n_steps)
        means = np.stack([v[..., a:b].mean(axis=-1) for a, b in self.windows], axis=1)
        x = means.reshape(len(v), -1)  # feature-major: window, then trace
        if self.sd > 0:
            x = x + row_noise(x, self.sd, self.seed)
        return x


def truth_array() -> np.ndarray:
    """The ground truth as SI floats in :data:`NAMES` order."""
    return np.array([float(TRUTH[n]) for n in NAMES])


def observed_trace() -> np.ndarray:
    """Noiseless v (volts) of the ground truth, ``(n_traces, N_STEPS)``, from the recurrence."""
    cap, e_l, g_l = truth_array()
    cur = np.asarray(currents(), dtype=float)
    r = np.exp(-g_l * float(DT) / cap)
    v = np.empty(cur.shape)
    v[:, 0] = float(V0)
    for j in range(1, cur.shape[1]):
        v_inf = e_l + cur[:, j - 1] / g_l
        v[:, j] = v_inf + (v[:, j - 1] - v_inf) * r
    return v


def make_inferencer(seed: int = 0, target: str | None = None) -> Inferencer:
    """An :class:`Inferencer` for the validation problem (x_o includes its own noise draw)."""
    return Inferencer(
        model=EQUATIONS,
        input_var="I",
        input=currents(),
        output_var="v",
        output=observed_trace() * 1000 * mV,
        dt=DT,
        method="exponential_euler",
        param_init={"v": V0},
        features=NoisyWindowMeans(seed=seed),
        namespace={},
        target=target,
    )


def check_closed_form(inferencer: Inferencer, n: int = 20, seed: int = 1) -> float:
    """Largest |Brian 2 means - closed form| (volts) over ``n`` prior draws, noise off."""
    from brian2modelfitting_sbi.simulation import ChunkSimulator

    rng = np.random.default_rng(seed)
    lower = np.array([float(BOUNDS[k][0]) for k in NAMES])
    upper = np.array([float(BOUNDS[k][1]) for k in NAMES])
    theta = lower + (upper - lower) * rng.random((n, len(NAMES)))
    sim = ChunkSimulator(inferencer.problem, NAMES, n, Recording(("v",)), inferencer.target)
    simulated = NoisyWindowMeans(sd=0.0).compute(sim.run(theta))
    return float(np.max(np.abs(simulated - window_means(theta))))
