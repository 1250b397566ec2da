"""Engine overhead: simulate + features for N HH samples against a plain Brian 2 run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_overhead.py [N ...] [--repeat R]

Same process, same target (cython), same N neurons, 1 s traces at dt = 0.05 ms. The plain run
is what a Brian 2 user writes: one NeuronGroup of N neurons with a StateMonitor on v, built and
run (its time without the monitor is shown too, as the pure simulation cost). The engine run
is ``simulate_features`` with the default chunk size: build (once), chunks, features. Each
figure is the best of R repetitions after a warm-up that fills Brian's compilation cache.
Goal: ratio <= 1.15 at N = 5000.

``--standalone`` adds the engine on the C++ standalone device; its one-time project build
(~10-30 s) is left out of the timing, as later rounds reuse it (CPU time includes the
binary's).
"""

from __future__ import annotations

import argparse

import cloudpickle
from bench_simulation_hh import (
    NAMES,
    HandfulOfFeatures,
    Timer,
    draw,
    library_features,
    plain_brian_run,
    problem,
    use_cython,
)

from brian2modelfitting_sbi.simulation import (
    ChunkTask,
    clear_cache,
    default_chunk_size,
    simulate_features,
)


def engine_run(theta, provider=None, device: str = "runtime") -> tuple[Timer, int]:
    """Time of simulate + features; the runtime network is built inside the timing."""
    if device == "runtime":
        clear_cache("runtime")
    with Timer() as timer:
        pb, provider = problem(), provider or HandfulOfFeatures()
        size = default_chunk_size(pb, provider.recording(), len(theta))
        task = ChunkTask(
            pb, NAMES, size, provider.recording(), None, cloudpickle.dumps(provider),
            device=device,
        )  # fmt: skip
        x = simulate_features(task, theta, seed=0, progress=False)
    assert x.shape == (len(theta), 5)
    return timer, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--standalone", action="store_true")
    args = parser.parse_args()
    use_cython()
    warm = draw(10)
    plain_brian_run(warm)
    plain_brian_run(warm, record=False)
    engine_run(warm)
    runs = {
        "plain Brian 2, StateMonitor(v)": lambda th: plain_brian_run(th),
        "plain Brian 2, no monitor": lambda th: plain_brian_run(th, record=False),
        "engine + handful features": lambda th: engine_run(th)[0],
        "engine + EphysFeatures (same 5)": lambda th: engine_run(th, library_features())[0],
    }
    if args.standalone:
        runs["engine, C++ standalone + handful"] = lambda th: engine_run(
            th, device="cpp_standalone"
        )[0]
    print(
        f"best of {args.repeat}; CPU s of this process (robust to other load), wall s; "
        f"ratio = CPU / CPU of the plain run with monitor"
    )
    print(f"{'N':>6} {'chunk':>6}  {'run':<32} {'CPU s':>7} {'wall s':>7} {'ratio':>6}")
    for n in args.n:
        theta = draw(n, seed=1)
        if args.standalone:
            engine_run(theta, device="cpp_standalone")  # compile the project once
        timers: dict[str, list[Timer]] = {name: [] for name in runs}
        for _ in range(args.repeat):  # interleaved, so that load changes hit all runs
            for name, run in runs.items():
                timers[name].append(run(theta))
        size = default_chunk_size(problem(), HandfulOfFeatures().recording(), n)
        base = min(t.cpu for t in timers["plain Brian 2, StateMonitor(v)"])
        for name, ts in timers.items():
            cpu, wall = min(t.cpu for t in ts), min(t.wall for t in ts)
            print(f"{n:>6} {size:>6}  {name:<32} {cpu:>7.2f} {wall:>7.2f} {cpu / base:>6.2f}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
