"""Where an epoch's time goes: fixed cost per gradient step vs per-sample computation.

Run from the repository root (one torch thread, as the Inferencer trains)::

    python -m benchmarks.validation.profile_training [--n 10000] [--x-dims 8 100 1000]

For each backend's default network and several batch sizes it trains a few epochs on
``n`` simulations of the validation problem (closed-form features with noise; the wider x are
padded with extra noisy columns) and reports CPU milliseconds per step, per sample and per
epoch, plus the time the DataLoader alone takes. A straight-line fit of step time against batch
size splits the fixed per-step cost from the per-sample cost; these figures are the basis of
:func:`brian2modelfitting_sbi.training.default_batch_size`.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from . import problem as P

BUILDERS = {
    "snpe": ("NPE_C", "posterior_nn", "density_estimator", "maf"),
    "snle": ("NLE_A", "likelihood_nn", "density_estimator", "maf"),
    "snre": ("NRE_B", "classifier_nn", "classifier", "resnet"),
}


def _data(n: int, x_dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, object]:
    from sbi.utils import BoxUniform

    rng = np.random.default_rng(seed)
    lower = np.array([float(P.BOUNDS[k][0]) for k in P.NAMES])
    upper = np.array([float(P.BOUNDS[k][1]) for k in P.NAMES])
    theta = lower + (upper - lower) * rng.random((n, len(lower)))
    x = P.window_means(theta) + rng.normal(0, P.NOISE_SD, (n, 2 * len(P.WINDOWS)))
    if x_dim > x.shape[1]:
        x = np.concatenate([x, rng.normal(0, P.NOISE_SD, (n, x_dim - x.shape[1]))], axis=1)
    prior = BoxUniform(torch.tensor(lower), torch.tensor(upper))
    f32 = torch.float32
    return torch.tensor(theta, dtype=f32), torch.tensor(x[:, :x_dim], dtype=f32), prior


def profile(backend: str, n: int, x_dim: int, batch: int, epochs: int = 3) -> dict:
    """CPU time per step / sample / epoch of ``epochs`` epochs (after two warm-up epochs)."""
    import sbi.inference as inference
    import sbi.neural_nets as nets

    from brian2modelfitting_sbi.backends._sbi import NullTracker

    trainer_name, builder, argument, model = BUILDERS[backend]
    theta, x, prior = _data(n, x_dim)
    torch.manual_seed(0)
    trainer = getattr(inference, trainer_name)(
        prior=prior,
        show_progress_bars=False,
        tracker=NullTracker(),
        **{argument: getattr(nets, builder)(model=model)},
    )
    trainer.append_simulations(theta, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # two warm-up epochs (they build the network), then `epochs` timed ones
        trainer.train(training_batch_size=batch, max_num_epochs=1, stop_after_epochs=10**6)
        start = time.process_time()
        trainer.train(
            training_batch_size=batch, max_num_epochs=1 + epochs, stop_after_epochs=10**6,
            resume_training=True,
        )
        cpu = time.process_time() - start
    train_loader, val_loader = trainer.get_dataloaders(0, batch, 0.1)
    start = time.process_time()
    for _ in range(epochs):
        for _batch in train_loader:
            pass
        for _batch in val_loader:
            pass
    loader = (time.process_time() - start) / epochs
    steps = len(train_loader) + len(val_loader)
    per_epoch = cpu / epochs
    return {
        "ms_per_step": 1e3 * per_epoch / steps,
        "us_per_sample": 1e6 * per_epoch / n,
        "s_per_epoch": per_epoch,
        "loader_share": loader / per_epoch,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the profile table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--x-dims", type=int, nargs="+", default=[8, 100, 1000])
    parser.add_argument("--batches", type=int, nargs="+", default=[50, 200, 500, 1000, 2000])
    parser.add_argument("--backends", nargs="+", default=["snpe", "snle", "snre"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"{args.n} simulations, 1 torch thread, CPU time")
    print("backend  x_dim  batch  ms/step  us/sample  s/epoch  loader share")
    for backend in args.backends:
        for x_dim in args.x_dims:
            fits = []
            for batch in args.batches:
                r = profile(backend, args.n, x_dim, batch)
                fits.append((batch, r["ms_per_step"]))
                print(
                    f"{backend:7s} {x_dim:6d} {batch:6d} {r['ms_per_step']:8.2f} "
                    f"{r['us_per_sample']:10.1f} {r['s_per_epoch']:8.3f} "
                    f"{r['loader_share']:9.0%}",
                    flush=True,
                )
            slope, fixed = np.polyfit(*np.array(fits).T, 1)
            print(
                f"  -> fixed {fixed:.2f} ms per step + {1e3 * slope:.1f} us per sample "
                f"(fixed share at batch 200: {fixed / (fixed + 200 * slope):.0%})"
            )


if __name__ == "__main__":
    main()
