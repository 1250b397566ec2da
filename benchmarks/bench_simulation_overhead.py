"""Engine overhead: simulate + features for N HH samples against a plain Brian 2 run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulation_overhead.py [N ...] [--repeat R]

Same process, same target (cython), same N neurons, 1 s traces at dt = 0.05 ms. The plain run
is what a Brian 2 user writes: one NeuronGroup of N neurons with a StateMonitor on v, built and
run (its time without the monitor is shown too, as the pure simulation cost). The engine run
is ``simulate_features`` with the default chunk size: build (once), chunks, features. Each
figure is the best of R repetitions after a warm-up that fills Brian's compilation cache.
Goal: ratio <= 1.15 at N = 5000.
"""

from __future__ import annotations

import argparse

import cloudpickle
from bench_simulation_hh import (
    NAMES,
    HandfulOfFeatures,
    Timer,
    draw,
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


def engine_run(theta, chunk_size: int | None = None) -> tuple[Timer, int]:
    """Time of simulate + features with a fresh network (built inside the timing)."""
    clear_cache()
    with Timer() as timer:
        pb, provider = problem(), HandfulOfFeatures()
        size = chunk_size or default_chunk_size(pb, provider.recording(), len(theta))
        task = ChunkTask(pb, NAMES, size, provider.recording(), None, cloudpickle.dumps(provider))
        x = simulate_features(task, theta, seed=0, progress=False)
    assert x.shape == (len(theta), 5)
    return timer, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    use_cython()
    warm = draw(10)
    plain_brian_run(warm)
    plain_brian_run(warm, record=False)
    engine_run(warm)
    print("CPU seconds of this process (wall seconds in brackets), best of", args.repeat)
    print(f"{'N':>6} {'chunk':>6} {'plain+monitor':>16} {'plain, no monitor':>18} "
          f"{'engine':>16} {'ratio CPU':>9} {'ratio wall':>10}")  # fmt: skip
    for n in args.n:
        theta = draw(n, seed=1)
        plain, bare, engine = [], [], []
        for _ in range(args.repeat):  # interleaved, so that load changes hit all three
            plain.append(plain_brian_run(theta))
            bare.append(plain_brian_run(theta, record=False))
            timer, size = engine_run(theta)
            engine.append(timer)

        def best(timers: list[Timer]) -> tuple[float, float]:
            return min(t.cpu for t in timers), min(t.wall for t in timers)

        (pc, pw), (bc, bw), (ec, ew) = best(plain), best(bare), best(engine)
        print(f"{n:>6} {size:>6} {pc:>7.2f} ({pw:>6.2f}) {bc:>8.2f} ({bw:>6.2f}) "
              f"{ec:>7.2f} ({ew:>6.2f}) {ec / pc:>9.2f} {ew / pw:>10.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
