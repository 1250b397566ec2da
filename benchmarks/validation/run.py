"""Validation benchmark: C2ST against the exact posterior, calibration and time, per backend.

Run from the repository root::

    python -m benchmarks.validation                    # full grid, prints the table
    python -m benchmarks.validation --sizes 1000 --backends snpe --repeats 1   # quick look
    python -m benchmarks.validation --write-docs       # also updates docs/benchmarks.rst
    python -m benchmarks.validation --problem hh4      # the HH problems (see hh_run.py)

For each number of simulations, one :class:`~brian2modelfitting_sbi.Inferencer` simulates
once; every backend is then trained on those same simulations twice, with this package's
defaults ("ours") and with sbi 0.27's defaults ("sbi"), through the public
``Inferencer.train`` / ``build_posterior`` / ``sample_array`` path that users get. Times are
process CPU seconds (one torch thread, so they equal wall time on an idle core) with the wall
time next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sbi.utils.metrics import c2st

from brian2modelfitting_sbi import get_backend
from brian2modelfitting_sbi.backends.snre import VARIANTS
from brian2modelfitting_sbi.training import SBI_SAMPLING_DEFAULTS, SBI_TRAINING_DEFAULTS

from . import hh
from . import problem as P
from .calibration import calibrate
from .exact import gaussian_log_likelihood, grid_posterior
from .hh_run import main as hh_main
from .report import format_table, write_docs

#: Backends given by short name on the command line that are classes, not registered names.
RATIO_VARIANTS = {k: v for k, v in VARIANTS.items() if k != "snre"}
#: Samples per posterior compared by C2ST (the timed 1,000 plus 1,000 more).
N_C2ST = 2000
#: The 'before' column: sbi 0.27's training defaults and, for SNLE/SNRE, its MCMC settings.
SETTINGS = {
    "ours": lambda backend: {},
    "sbi": lambda backend: {
        "training": dict(SBI_TRAINING_DEFAULTS),
        # sbi's MCMC for the backends that sample per observation; the others sample directly
        # (SNPE from its flow, FMPE/NPSE by their ODE/SDE)
        "sampling": dict(SBI_SAMPLING_DEFAULTS)
        if get_backend(backend).sampling_defaults == "auto" else {},
    },
}


@dataclass
class Row:
    """One trained posterior."""

    n: int
    backend: str
    setting: str
    repeat: int
    simulate_s: float
    train_s: float
    train_wall_s: float
    epochs: int
    batch: int
    sample_s: float
    sample_wall_s: float
    sampler: str
    c2st: float
    calibration: dict = field(default_factory=dict)


class Clock:
    """CPU and wall time of a block."""

    def __enter__(self) -> Clock:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def _scaled(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> torch.Tensor:
    return torch.as_tensor((theta - lower) / (upper - lower), dtype=torch.float32)


#: Parameters made log-uniform by ``--prior log`` (EL is negative: it stays uniform).
LOG_PARAMETERS = ("C", "gL")


def bounds_for(prior: str) -> dict:
    """The benchmark's bounds, with :data:`LOG_PARAMETERS` log-uniform for ``prior='log'``."""
    if prior == "uniform":
        return dict(P.BOUNDS)
    return {k: [*v, "log"] if k in LOG_PARAMETERS else v for k, v in P.BOUNDS.items()}


def exact_reference(
    inferencer, n: int, seed: int, prior: str = "uniform"
) -> tuple[np.ndarray, dict]:
    """Exact posterior samples at the inferencer's observation, and grid diagnostics.

    With ``prior='log'`` the log-uniform prior's density (``1/theta`` for
    :data:`LOG_PARAMETERS`) multiplies the likelihood on the grid.
    """
    lower, upper = _box()
    gaussian = gaussian_log_likelihood(P.window_means, inferencer.x_o, P.NOISE_SD)
    log_cols = [P.NAMES.index(k) for k in LOG_PARAMETERS] if prior == "log" else []

    def log_likelihood(theta: np.ndarray) -> np.ndarray:
        out = gaussian(theta)
        for j in log_cols:
            out = out - np.log(theta[..., j])
        return out

    with Clock() as clock:
        grid = grid_posterior(log_likelihood, lower, upper)
    samples = grid.sample(n, np.random.default_rng(seed))
    info = {
        "grid_s": clock.wall,
        "cells": int(grid.weights.size),
        "boundary_mass": grid.boundary_mass(lower, upper),
        "cell_over_sd": float(np.max(grid.steps / samples.std(axis=0))),
        "mean": samples.mean(axis=0).tolist(),
        "sd": samples.std(axis=0).tolist(),
    }
    return samples, info


def _box() -> tuple[np.ndarray, np.ndarray]:
    lower = np.array([float(P.BOUNDS[k][0]) for k in P.NAMES])
    upper = np.array([float(P.BOUNDS[k][1]) for k in P.NAMES])
    return lower, upper


def run_one(
    inferencer, backend: str, setting: str, repeat: int, reference, calib, sampler: str = "mcmc"
) -> Row:
    """Train, build, sample and score one posterior on the inferencer's simulations."""
    seed = 100 * repeat + 7
    options = SETTINGS[setting](backend)
    # train() starts a fresh estimator for every setting and repeat: no round is new
    with Clock() as train:
        # the ratio-estimator variants (nre_b, bnre, nre_c) are backend classes, not names
        inferencer.train(RATIO_VARIANTS.get(backend, backend), seed=seed, **options)
        inferencer.build_posterior()
    with Clock() as sample:
        first = inferencer.sample_array(N_C2ST // 2, seed=seed)
    more = inferencer.sample_array(N_C2ST - len(first), seed=seed + 1)
    lower, upper = _box()
    score = float(
        c2st(
            _scaled(reference, lower, upper),
            _scaled(np.concatenate([first, more]), lower, upper),
        )
    )
    trained = inferencer.backend
    row = Row(
        n=int(inferencer.n_simulations),
        backend=backend,
        setting=setting,
        repeat=repeat,
        simulate_s=float("nan"),
        train_s=train.cpu,
        train_wall_s=train.wall,
        epochs=int(trained.trainer.summary["epochs_trained"][-1]),
        batch=int(trained.last_training["training_batch_size"]),
        sample_s=sample.cpu,
        sample_wall_s=sample.wall,
        sampler=_sampler_name(trained),
        c2st=score,
    )
    if calib is not None:
        theta_cal, x_cal = calib
        torch.manual_seed(seed)
        thetas = inferencer.space.to_torch(theta_cal)
        xs = inferencer.x_to_torch(x_cal)
        row.calibration = asdict(
            calibrate(trained, inferencer.posterior, thetas, xs, sampler=sampler)
        )
    return row


def _sampler_name(backend) -> str:
    options = backend.last_sampling
    name = options.get("sample_with") or "direct"
    if name == "mcmc":
        params = options.get("mcmc_parameters") or {}
        chains = params.get("num_chains", 20)
        warmup = params.get("warmup_steps", 200)
        name = f"mcmc {chains}ch/{warmup}w"
    if "estimated_acceptance" in options:
        name += f" (acc {options['estimated_acceptance']:.1%})"
    return name


def main(argv: list[str] | None = None) -> list[Row]:
    """Command-line entry point; ``--problem hh4|hh8`` runs :mod:`.hh_run` instead."""
    argv = sys.argv[1:] if argv is None else list(argv)
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--problem", default="passive", choices=["passive", *hh.PROBLEMS])
    chosen, argv = first.parse_known_args(argv)
    if chosen.problem != "passive":
        return hh_main(["--problem", chosen.problem, *argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument(
        "--backends", nargs="+", default=["snpe", "snle", "snre"],
        help=f"registered backends and the ratio variants {sorted(RATIO_VARIANTS)}",
    )
    parser.add_argument(
        "--settings", nargs="+", default=["ours", "sbi"], choices=[*SETTINGS, "try"],
        help="'try': this package's defaults updated with --try-training",
    )
    parser.add_argument(
        "--try-training", type=json.loads, default={},
        help='training overrides of the "try" setting, as JSON, e.g. \'{"stop_after_epochs": 15}\'',
    )
    parser.add_argument("--repeats", type=int, default=1, help="training seeds per setting")
    parser.add_argument(
        "--calibrate", choices=["ours", "all", "none"], default="ours",
        help="which settings get SBC/TARP (MCMC calibration is slow)",
    )
    parser.add_argument("--n-calibration", type=int, default=200)
    parser.add_argument(
        "--calibration-sampler", choices=["mcmc", "sir"], default="mcmc",
        help="SNLE/SNRE test posteriors: batched MCMC (4 chains, 30 warmup) or "
        "importance resampling of prior draws (the posterior rejection sampling draws from)",
    )
    parser.add_argument(
        "--prior", choices=["uniform", "log"], default="uniform",
        help=f"'log': {', '.join(LOG_PARAMETERS)} log-uniform (rows labelled backend+log)",
    )
    parser.add_argument("--target", default="numpy", help="Brian 2 code generation target")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.rst")
    parser.add_argument(
        "--from-json", type=Path, help="print (and --write-docs) the table of an earlier run"
    )
    args = parser.parse_args(argv)
    SETTINGS["try"] = lambda backend: {"training": dict(args.try_training)}
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        rows = [Row(**r) for r in saved["rows"]]
        table = format_table(rows)
        print(table)
        if args.write_docs:
            settings = saved["meta"].get("args") or {  # runs saved before "args" was stored
                "sizes": sorted({r.n for r in rows}),
                "repeats": 1 + max(r.repeat for r in rows),
                "calibrate": "all" if all(r.calibration for r in rows if r.repeat == 0) else "ours",
                "target": saved["meta"]["target"],
            }
            note = saved["meta"].get("note", "")
            write_docs(Path("docs/benchmarks.rst"), table, settings, note)
        return rows

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    inferencer = P.make_inferencer(seed=0, target=args.target)
    deviation = P.check_closed_form(inferencer)
    print(f"closed form vs Brian 2 ({args.target}): max |difference| = {deviation:.2e} V")
    bounds = bounds_for(args.prior)
    inferencer.set_bounds(**bounds)
    reference, info = exact_reference(inferencer, N_C2ST, seed=1, prior=args.prior)
    print(
        f"exact posterior: {info['cells']} grid cells in {info['grid_s']:.1f} s, cell <= "
        f"{info['cell_over_sd']:.3f} sd, mass at open grid edges {info['boundary_mass']:.1e}"
    )
    calib = None
    if args.calibrate != "none":
        cal = P.make_inferencer(seed=12345, target=args.target)
        cal.set_bounds(**bounds)
        calib = cal.simulate(args.n_calibration, seed=999, progress=False)

    rows: list[Row] = []
    for n in args.sizes:
        inf = P.make_inferencer(seed=0, target=args.target)
        inf.set_bounds(**bounds)
        with Clock() as sim:
            inf.simulate(n, seed=n, progress=False)
        print(f"\n{n} simulations: {sim.cpu:.1f} s CPU ({sim.wall:.1f} s wall)", flush=True)
        for backend in args.backends:
            for setting in args.settings:
                for repeat in range(args.repeats):
                    wants = args.calibrate == "all" or (
                        args.calibrate == "ours" and setting == "ours"
                    )
                    row = run_one(
                        inf, backend, setting, repeat, reference,
                        calib if wants and repeat == 0 else None,
                        sampler=args.calibration_sampler,
                    )
                    row.simulate_s = sim.cpu
                    if args.prior != "uniform":
                        row.backend = f"{backend}+{args.prior}"
                    rows.append(row)
                    cal_text = ""
                    if row.calibration:
                        c = row.calibration
                        cal_text = (
                            f" SBC p={c['sbc_ks_pvalue']:.2f} TARP atc={c['tarp_atc']:+.3f}"
                        )
                    print(
                        f"  {backend} {setting:4s} #{repeat}: train {row.train_s:6.1f} s "
                        f"({row.epochs} ep, batch {row.batch}), 1000 samples "
                        f"{row.sample_s:5.2f} s [{row.sampler}], C2ST {row.c2st:.3f}{cal_text}",
                        flush=True,
                    )
    table = format_table(rows)
    print("\n" + table)
    meta = {
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "target": args.target,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "exact": info,
    }
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}))
    if args.write_docs:
        write_docs(Path("docs/benchmarks.rst"), table, meta["args"])
    return rows


if __name__ == "__main__":
    main()
