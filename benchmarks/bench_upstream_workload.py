"""brian2modelfitting's HH example workload, end to end: time per phase and peak memory.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_upstream_workload.py [--quick] [--n-jobs 2]
        [--n 10000] [--rounds 2] [--chunk-size K] [--data DIR] [--json out.json]

The workload of ``examples/hh_sbi_simple_interface.py`` in brian-team/brian2modelfitting,
written here from its description (our own code, none of upstream's): a Hodgkin–Huxley neuron
(Traub–Miles kinetics, 20,000 µm² of membrane) with four unknowns ``g_na``, ``g_kd``, ``gl``
and ``Cm``; four recorded traces of 1,497 steps at 0.01 ms (current steps from 5 to 10 ms);
seven per-trace Python callables as features; two rounds of 10,000 simulations; SNPE with a
mixture density network. The recordings are upstream's ``input_traces_hh.csv`` and
``output_traces_hh.csv`` (brian-team/brian2modelfitting, ``examples/``, CeCILL 2.1), rows 0, 1,
3 and 4 (the traces whose step starts at 5 ms), read from ``--data``, ``tests/data`` or the
workplace's ``shared/upstream-data`` folder — they are not copied into this repository.

Reported per round: simulation + features (wall), of which the features (summed over workers,
from the per-chunk timings), and training; then drawing 10,000 posterior samples; and the
peak resident set size of this process and of its largest worker (``ru_maxrss``). The issue's
upstream figures on an idle 2-core machine: infer 1,659 s, simulation + features 47.6 / 49.7 s,
peak RSS 1.23 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from brian2 import amp, cm, ms, msiemens, mV, prefs, siemens, ufarad, umetre

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brian2modelfitting_sbi import Inferencer  # noqa: E402

ROWS = [0, 1, 3, 4]
DT = 0.01 * ms
AREA = 20_000 * umetre**2
# Traub–Miles HH of Brian 2's examples; Cm inferred as well.
EQS = """
dv/dt = (gl*(El - v) - g_na*m**3*h*(v - ENa) - g_kd*n**4*(v - EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*4*mV/exprel((13.*mV - v + VT)/(4*mV))/ms*(1 - m) - 0.28*(mV**-1)*5*mV/exprel((v - VT - 40.*mV)/(5*mV))/ms*m : 1
dn/dt = 0.032*(mV**-1)*5*mV/exprel((15.*mV - v + VT)/(5*mV))/ms*(1. - n) - .5*exp((10.*mV - v + VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV - v + VT)/(18.*mV))/ms*(1. - h) - 4./(1 + exp((40.*mV - v + VT)/(5.*mV)))/ms*h : 1
g_na : siemens (constant)
g_kd : siemens (constant)
gl : siemens (constant)
Cm : farad (constant)
"""  # noqa: E501
NAMESPACE = {"El": -65 * mV, "EK": -90 * mV, "ENa": 50 * mV, "VT": -63 * mV}
#: Prior box, around the usual 20,000 µm² values (g_na 100 mS/cm², g_kd 30, gl 0.05, 1 µF/cm²).
BOUNDS = {
    "g_na": [1 * msiemens * cm**-2 * AREA, 200 * msiemens * cm**-2 * AREA],
    "g_kd": [0.5 * msiemens * cm**-2 * AREA, 60 * msiemens * cm**-2 * AREA],
    "gl": [1e-9 * siemens, 1e-6 * siemens],
    "Cm": [0.1 * ufarad * cm**-2 * AREA, 2 * ufarad * cm**-2 * AREA],
}
ON, OFF = 499, 998  # the current step, in steps


def _data_dir(given: str | None) -> Path:
    here = Path(__file__).resolve().parents[1]
    candidates = [Path(given)] if given else []
    candidates += [here / "tests" / "data"] + [p / "shared" / "upstream-data" for p in here.parents]
    for path in candidates:
        if (path / "input_traces_hh.csv").exists():
            return path
    raise SystemExit(f"no input_traces_hh.csv in {[str(p) for p in candidates]}; give --data")


def load(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """(input in amp, output in mV) of the four traces, ``(4, 1497)`` each."""
    inp = np.loadtxt(data / "input_traces_hh.csv", delimiter=",", skiprows=1)[ROWS, 1:]
    out = np.loadtxt(data / "output_traces_hh.csv", delimiter=",", skiprows=1)[ROWS, 1:]
    return inp, out


# Seven per-trace features, plain Python callables on one trace (volts), as a user writes them.
def spike_count(v):
    above = v > -0.02
    return float(np.count_nonzero(above[1:] & ~above[:-1]))


def ap_peak(v):
    return float(v[ON:OFF].max())


def resting(v):
    return float(v[ON // 2 : ON].mean())


def stim_mean(v):
    return float(v[ON:OFF].mean())


def stim_std(v):
    return float(v[ON:OFF].std())


def stim_kurtosis(v):
    d = v[ON:OFF] - v[ON:OFF].mean()
    var = (d**2).mean()
    return float((d**4).mean() / var**2) if var > 0 else 0.0


def after_mean(v):
    return float(v[OFF:].mean())


FEATURES = [spike_count, ap_peak, resting, stim_mean, stim_std, stim_kurtosis, after_mean]


def make_inferencer(target: str = "cython", data: str | None = None) -> Inferencer:
    """The workload's Inferencer, prior box set."""
    inp, out = load(_data_dir(data))
    inf = Inferencer(
        EQS, input_var="I", input=inp * amp, output_var="v", output=out * mV, dt=DT,
        method="exponential_euler", threshold="v > -20*mV", refractory="v > -20*mV",
        param_init={"v": -65 * mV, "m": 0.00973, "n": 0.0271, "h": 0.9976},  # rest at -65 mV
        features=FEATURES, namespace=NAMESPACE, target=target,
    )
    inf.set_bounds(**BOUNDS)
    return inf


def trace_quality(inf: Inferencer) -> dict:
    """How well the posterior reproduces the recording: RMS difference (mV) between the
    recorded traces and the traces simulated at the posterior mean and at 20 posterior draws
    (median), and the spikes they fire (all four traces) against the recording's."""
    _, out = load(_data_dir(None))  # mV
    samples = inf.sample_array(1000, seed=0)
    mean = inf.space.to_quantities(samples.mean(axis=0))
    at_mean = np.asarray(inf.predictive_traces(params=mean, seed=0)["v"] / mV)[0]
    draws = np.asarray(inf.predictive_traces(n_draws=20, seed=0)["v"] / mV)

    def rms(v: np.ndarray) -> float:
        return float(np.sqrt(np.mean((v - out) ** 2)))

    def spikes(v: np.ndarray) -> int:
        return int(sum(spike_count(trace / 1000) for trace in v))

    return {
        "rms_mean_mV": rms(at_mean),
        "rms_draws_mV": float(np.median([rms(v) for v in draws])),
        "spikes_mean": spikes(at_mean),
        "spikes_data": spikes(out),
        "posterior_mean": {k: float(v) for k, v in mean.items()},
    }


def rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds x 500, few epochs")
    parser.add_argument("--n", type=int, default=None, help="simulations per round (10,000)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--target", default="cython")
    parser.add_argument("--data", default=None)
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args()
    n = args.n or (500 if args.quick else 10_000)
    training = {"max_num_epochs": 30} if args.quick else None
    prefs.codegen.target = args.target
    began = time.perf_counter()
    inf = make_inferencer(args.target, args.data)
    rss_start = rss_mb(resource.RUSAGE_SELF)
    rows = []
    with inf:
        for r in range(args.rounds):
            t0 = time.perf_counter()
            inf.simulate(n, seed=1 + r, n_jobs=args.n_jobs, chunk_size=args.chunk_size,
                         progress=False)
            t1 = time.perf_counter()
            rss_sim = rss_mb(resource.RUSAGE_SELF)
            inf.train("snpe", seed=1 + r, estimator="mdn", training=training)
            inf.build_posterior()
            t2 = time.perf_counter()
            timings = inf.rounds[-1].timings
            rows.append({
                "round": r + 1, "simulate_s": t1 - t0, "train_s": t2 - t1,
                "features_cpu_s": sum(t.features_s for t in timings),
                "brian_cpu_s": sum(t.simulate_s for t in timings), "chunks": len(timings),
                "peak_rss_after_simulation_mb": rss_sim,
                "peak_rss_after_training_mb": rss_mb(resource.RUSAGE_SELF),
            })
            print(f"round {r + 1}: simulation+features {t1 - t0:7.1f} s (Brian "
                  f"{rows[-1]['brian_cpu_s']:.1f} s, features {rows[-1]['features_cpu_s']:.1f} s "
                  f"summed over {len(timings)} chunks), training {t2 - t1:7.1f} s; peak RSS after "
                  f"simulation {rss_sim:.0f} MB, after training "
                  f"{rows[-1]['peak_rss_after_training_mb']:.0f} MB", flush=True)
        t0 = time.perf_counter()
        inf.sample_array(10_000, seed=0)
        sampling = time.perf_counter() - t0
    total = time.perf_counter() - began
    print(f"peak RSS before simulating: {rss_start:.0f} MB (imports, Inferencer)")
    figures = {"peak_rss_start_mb": rss_start,
        "n": n, "rounds": rows, "sampling_s": sampling, "total_s": total,
        "peak_rss_mb": rss_mb(resource.RUSAGE_SELF),
        "peak_rss_workers_mb": rss_mb(resource.RUSAGE_CHILDREN), "n_jobs": args.n_jobs,
        "load_avg": os.getloadavg(),
    }
    with inf:  # not timed: simulations at posterior draws
        figures["quality"] = trace_quality(inf)
    print(f"quality (not timed): {figures['quality']}")
    print(f"sampling 10,000: {sampling:.1f} s; total {total:.1f} s; peak RSS "
          f"{figures['peak_rss_mb']:.0f} MB "
          f"(largest child process {figures['peak_rss_workers_mb']:.0f} MB)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
