"""HH validation benchmark: calibration of SBI posteriors on ``hh4`` and ``hh8``.

Run from the repository root::

    python -m benchmarks.validation --problem hh4 --sizes 2000 10000 --backends snpe
    python -m benchmarks.validation --problem hh8 --sizes 10000 --n-jobs 2 --json hh8.json
    python -m benchmarks.validation --problem hh4 --from-json hh4.json --write-docs

For each budget one Inferencer simulates from the prior (timed), each backend is trained on
those simulations through the public ``train``/``build_posterior`` path (timed), and its
posterior is scored on ``--n-tests`` test simulations drawn from the prior and kept apart:
SBC (smallest KS p-value of rank uniformity over the parameters), TARP (area to curve, KS
p-value), the empirical coverage of the central 50% and 90% intervals per parameter, and the
posterior standard deviation relative to the prior's (in the estimator's unit coordinates).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sbi.diagnostics import check_sbc, check_tarp, run_sbc, run_tarp

from . import hh
from .calibration import DrawnSamples, draw_batched

BEGIN, END = ".. begin-hh-results", ".. end-hh-results"
LEVELS = (0.5, 0.9)


@dataclass
class HHRow:
    """One trained posterior, scored on the test simulations."""

    problem: str
    n: int
    backend: str
    simulate_s: float
    simulate_wall_s: float
    train_s: float
    epochs: int
    sample_ms: float  # per test observation, n_draws draws
    sampler: str
    n_tests: int
    sbc_min_p: float
    tarp_atc: float
    tarp_p: float
    coverage: dict = field(default_factory=dict)  # level -> {parameter: fraction}
    width: dict = field(default_factory=dict)  # parameter -> posterior std / prior std
    invalid: float = 0.0


def score(inferencer, theta: np.ndarray, x: np.ndarray, n_draws: int) -> dict:
    """SBC, TARP, coverage and width of the inferencer's posterior on test pairs."""
    space = inferencer.space
    thetas, xs = space.to_torch(theta), inferencer.x_to_torch(x)
    start = time.perf_counter()
    samples, sampler = draw_batched(inferencer.backend, inferencer.posterior, xs, n_draws)
    sample_ms = 1000 * (time.perf_counter() - start) / len(x)
    drawn = DrawnSamples(samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ranks, dap = run_sbc(thetas, xs, drawn, num_posterior_samples=n_draws,
                             show_progress_bar=False)
        checks = check_sbc(ranks, thetas, dap, num_posterior_samples=n_draws)
        ecp, alpha = run_tarp(thetas, xs, drawn, num_posterior_samples=n_draws,
                              show_progress_bar=False)
    atc, tarp_p = check_tarp(ecp, alpha)
    unit = samples.numpy()  # (n_draws, n_tests, d), unit box
    truth = thetas.numpy()
    coverage = {}
    for level in LEVELS:
        tail = 100 * (1 - level) / 2
        lo, hi = np.percentile(unit, [tail, 100 - tail], axis=0)
        inside = ((truth >= lo) & (truth <= hi)).mean(axis=0)
        coverage[str(level)] = dict(zip(space.names, map(float, inside), strict=True))
    prior = space.to_torch(space.sample_prior(4000, np.random.default_rng(0))).numpy()
    ratio = unit.std(axis=0).mean(axis=0) / prior.std(axis=0)
    return {
        "sample_ms": sample_ms, "sampler": sampler,
        "sbc_min_p": float(checks["ks_pvals"].min()), "tarp_atc": float(atc),
        "tarp_p": float(tarp_p), "coverage": coverage,
        "width": dict(zip(space.names, map(float, ratio), strict=True)),
    }


def format_table(rows: list[HHRow]) -> str:
    """An RST simple table: one line per (problem, budget, backend)."""
    header = ["problem", "sims", "backend", "sim s (wall)", "train s", "epochs",
              "sample ms/obs", "SBC p", "TARP atc", "90% coverage (min-max)",
              "50% coverage (min-max)", "width / prior (min-max)"]
    body = []
    for r in rows:
        c90, c50 = list(r.coverage["0.9"].values()), list(r.coverage["0.5"].values())
        ok90 = all(0.85 <= c <= 0.95 for c in c90)
        body.append([
            r.problem, f"{r.n:,}", r.backend, f"{r.simulate_s:.0f} ({r.simulate_wall_s:.0f})",
            f"{r.train_s:.0f}", str(r.epochs), f"{r.sample_ms:.1f}",
            f"{r.sbc_min_p:.2f}{'' if r.sbc_min_p > 0.05 / len(c90) else '!'}",
            f"{r.tarp_atc:+.3f}{'' if r.tarp_p > 0.05 else '!'}",
            f"{min(c90):.2f}-{max(c90):.2f}{'' if ok90 else '!'}",
            f"{min(c50):.2f}-{max(c50):.2f}",
            f"{min(r.width.values()):.2f}-{max(r.width.values()):.2f}",
        ])
    widths = [max(len(h), *(len(b[j]) for b in body)) for j, h in enumerate(header)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(header), rule, *(line(b) for b in body), rule])


def per_parameter(rows: list[HHRow]) -> str:
    """Coverage of the 90% intervals per parameter, one line per row."""
    return "\n".join(
        f"{r.problem} {r.n:,} {r.backend}: " + ", ".join(
            f"{k} {v:.2f}" for k, v in r.coverage["0.9"].items())
        for r in rows
    )


def write_docs(path: Path, rows: list[HHRow], command: str, note: str = "") -> None:
    """Replace the HH results block of ``path`` (between the markers) with the table."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    lines = "\n".join(f"- {line}" for line in per_parameter(rows).splitlines())
    block = (
        f"{BEGIN}\n\nGenerated {time.strftime('%Y-%m-%d')} from ``{command}`` (one torch "
        f"thread, {os.cpu_count()} cores shared with other jobs). CPU seconds of the benchmark "
        f"process (simulation wall time in brackets: workers' CPU is not counted); ``!`` marks "
        f"a failed check (SBC p < 0.05/d, TARP KS p < 0.05, a 90% coverage outside 0.85-0.95)."
        f"{' ' + note if note else ''}\n\n{format_table(rows)}\n\n90% coverage per parameter:"
        f"\n\n{lines}\n\n{END}"
    )
    path.write_text(head + block + tail)


def run(args: argparse.Namespace) -> list[HHRow]:
    """Simulate, train and score every budget and backend of ``args``."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    problem = hh.PROBLEMS[args.problem]
    tests = problem.make_inferencer(target=args.target)
    tests.set_bounds(**problem.bounds)
    theta_t, x_t = tests.simulate(args.n_tests, seed=999, progress=False, n_jobs=args.n_jobs)
    keep = np.all(np.isfinite(x_t), axis=1)
    theta_t, x_t = theta_t[keep], x_t[keep]
    print(f"{args.problem}: {len(x_t)} valid test simulations", flush=True)
    rows = []
    for n in args.sizes:
        inf = problem.make_inferencer(target=args.target)
        inf.set_bounds(**problem.bounds)
        cpu, wall = time.process_time(), time.perf_counter()
        _, x = inf.simulate(n, seed=n, progress=False, n_jobs=args.n_jobs)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{n} simulations: {cpu:.0f} s CPU, {wall:.0f} s wall", flush=True)
        for backend in args.backends:
            start = time.process_time()
            inf.train(backend, seed=args.seed, training=args.training, ensemble=args.ensemble,
                      **({"estimator": args.estimator} if args.estimator else {}))
            inf.build_posterior()
            train = time.process_time() - start
            scored = score(inf, theta_t, x_t, args.n_draws)
            label = f"{backend} {args.label}".strip()
            row = HHRow(args.problem, n, label, cpu, wall, train,
                        int(inf.backend.trainer.summary["epochs_trained"][-1]),
                        n_tests=len(x_t), invalid=float(np.mean(~np.all(np.isfinite(x), 1))),
                        **scored)
            rows.append(row)
            print(f"  {label}: train {train:.0f} s ({row.epochs} ep), SBC p "
                  f"{row.sbc_min_p:.2f}, TARP {row.tarp_atc:+.3f}; 90%: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in row.coverage["0.9"].items()),
                  flush=True)
    return rows


def main(argv: list[str] | None = None) -> list[HHRow]:
    """Command-line entry point (``python -m benchmarks.validation --problem hh4``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(hh.PROBLEMS), required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--backends", nargs="+", default=["snpe"])
    parser.add_argument("--n-tests", type=int, default=200)
    parser.add_argument("--n-draws", type=int, default=200, help="posterior draws per test")
    parser.add_argument("--n-jobs", type=int, default=None, help="simulation processes")
    parser.add_argument("--target", default="cython", help="Brian 2 code generation target")
    parser.add_argument("--training", type=json.loads, default=None,
                        help='training settings as JSON, e.g. \'{"stop_after_epochs": 30}\'')
    parser.add_argument("--estimator", default=None, help="density estimator ('maf', 'nsf')")
    parser.add_argument("--label", default="", help="added to the backend column")
    parser.add_argument("--seed", type=int, default=1, help="training seed")
    parser.add_argument("--ensemble", type=int, default=1, help="estimators (ensemble=k)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--from-json", type=Path, nargs="+", help="tables of earlier runs")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.rst")
    parser.add_argument("--note", default="", help="text added to the docs block")
    args = parser.parse_args(argv)
    if args.from_json:
        rows = [HHRow(**r) for path in args.from_json for r in json.loads(path.read_text())]
        command = " ; ".join(json.loads(p.with_suffix(".cmd").read_text())
                             if p.with_suffix(".cmd").exists() else f"--from-json {p}"
                             for p in args.from_json)
    else:
        rows = run(args)
        command = "python -m benchmarks.validation " + " ".join(argv or [])
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in rows]))
            args.json.with_suffix(".cmd").write_text(json.dumps(command))
    print("\n" + format_table(rows) + "\n\n" + per_parameter(rows))
    if args.write_docs:
        write_docs(Path("docs/benchmarks.rst"), rows, command, args.note)
    return rows
