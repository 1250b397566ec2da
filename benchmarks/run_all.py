"""Run every benchmark at a quick size (``make bench``), or at its documented size (``--full``).

Each benchmark runs in its own process, as its docstring says to run it, from the repository
root with one torch/OpenMP thread; its output streams through, and a table of exit codes and
wall times closes the run. Quick sizes check that the scripts work and give rough figures in a
few minutes on two cores; the figures in ``docs/benchmarks.rst`` come from the full sizes.
Benchmarks that need an optional extra (``bench_amortized``: ``[fitters]``) are reported as
not run when it cannot be imported. The validation benchmark has its own entry point
(``python -m benchmarks.validation``).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/run_all.py [--full] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> (command after the interpreter, quick arguments, optional module it needs)
BENCHMARKS: dict[str, tuple[list[str], list[str], str | None]] = {
    "features": (["benchmarks/bench_features.py"], ["--traces", "300"], None),
    "simulation_overhead": (["benchmarks/bench_simulation_overhead.py"],
                            ["300", "--repeat", "1"], None),
    "simulation_memory": (["benchmarks/bench_simulation_memory.py"], ["500"], None),
    "simulation_parallel": (["benchmarks/bench_simulation_parallel.py"],
                            ["400", "--repeat", "1"], None),
    "chunk_budget": (["benchmarks/bench_chunk_budget.py"],
                     ["--n", "1000", "--sizes", "250", "1000"], None),
    "upstream_workload": (["benchmarks/bench_upstream_workload.py"], ["--quick"], None),
    "import_floor": (["benchmarks/bench_import_floor.py"], [], None),
    "workflow_rounds": (["benchmarks/bench_workflow_rounds.py"],
                        ["--sims", "200", "--rounds", "2", "--backends", "snpe"], None),
    "amortized": (["-m", "benchmarks.bench_amortized"],
                  ["--n-cells", "5", "--n-train", "200", "--n-fits", "1", "--per-round", "20"],
                  "brian2modelfitting"),
}


def importable(name: str) -> bool:
    """Whether ``name`` imports here (brian2modelfitting fails on numpy >= 1.24)."""
    try:
        importlib.import_module(name)
    except Exception:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the documented sizes (long)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    rows = []
    for name in args.only or list(BENCHMARKS):
        command, quick, needs = BENCHMARKS[name]
        if needs is not None and not importable(needs):
            rows.append((name, "not run", f"needs {needs} (the [fitters] extra)"))
            continue
        full = [sys.executable, *command, *([] if args.full else quick)]
        print(f"\n==== {name}: {' '.join(full[1:])}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(full, cwd=ROOT, env=env)
        rows.append((name, "ok" if code == 0 else f"exit {code}",
                     f"{time.perf_counter() - t0:.0f} s"))
    print("\n==== summary")
    for name, status, note in rows:
        print(f"  {name:22s} {status:8s} {note}")
    return 0 if all(status in ("ok", "not run") for _, status, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
