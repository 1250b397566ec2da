"""Running a round of simulations: draw theta from the proposal, simulate, keep the features.

The same chunk runner (:func:`~brian2modelfitting_sbi.simulation.make_task`,
:func:`~brian2modelfitting_sbi.simulation.simulate_features`) serves the training rounds, the
calibration tests (:func:`simulate_prior_tests`) and the predictive simulations
(:func:`~brian2modelfitting_sbi.posterior.predictive.simulate_outputs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..posterior.sampling import draw
from ..priors import ParameterSpace
from ..problem import Problem
from ..simulation import (
    SimulationStore,
    chunk_executor,
    default_chunk_size,
    make_task,
    n_workers,
    resolve_device,
    resolve_seed,
    simulate_features,
    store_identity,
)
from ..simulation.measurement import MeasurementPlan
from .options import SimulationOptions
from .workers import report_timings

__all__ = ["draw_theta", "simulate_prior_tests", "simulate_round"]


def draw_theta(
    space: ParameterSpace, proposal: Any, n: int, seed: int | None, threads: int | None
) -> np.ndarray:
    """``n`` parameter sets (SI floats) from the prior box (``proposal`` None) or a posterior."""
    if proposal is None:
        return space.sample_prior(n, np.random.default_rng(seed))
    return draw(proposal, space, n, seed, threads)


def simulate_round(
    problem: Problem,
    features: Any,
    space: ParameterSpace,
    *,
    n_simulations: int,
    proposal: Any,
    proposal_label: str,
    round_index: int,
    x_o: np.ndarray,
    seed: int | None,
    target: str | None,
    options: SimulationOptions,
    measurement: MeasurementPlan | None = None,
    timings: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, x)`` of one round: drawn from ``proposal``, simulated in chunks.

    With ``options.store``, finished chunks are saved as they come and a run on the same
    store resumes (its theta and chunk size are those of the first run). ``measurement``:
    the noise added to the traces before the features (also part of the store's identity).
    ``timings`` is extended with the :class:`~brian2modelfitting_sbi.simulation.ChunkTiming`
    of each chunk run.
    """
    timings = [] if timings is None else timings
    entropy = resolve_seed(seed)
    device = resolve_device(options.standalone)
    recording = features.recording()
    names = features.names(problem.n_traces)
    with chunk_executor(options.n_jobs, options.executor) as pool:
        size = options.chunk_size or default_chunk_size(
            problem, recording, n_simulations, n_workers=n_workers(pool)
        )
        rnd = theta = None
        if options.store is not None:
            identity = store_identity(
                problem.fingerprint(), names, x_o, space.to_json(),
                measurement=None if measurement is None else measurement.to_json(),
            )
            rnd = SimulationStore(options.store, identity).round(
                round_index,
                n_samples=n_simulations,
                seed=seed,
                entropy=entropy,
                chunk_size=size,
                chunk_size_given=options.chunk_size is not None,
                proposal=proposal_label,
            )
            size, entropy, theta = rnd.chunk_size, rnd.entropy, rnd.load_theta()
        task = make_task(
            problem, space.names, features, n_simulations, chunk_size=int(size),
            target=target, device=device, recording=recording, measurement=measurement,
        )
        if theta is None:
            theta = draw_theta(space, proposal, n_simulations, seed, options.threads)
            if rnd is not None:
                rnd.save_theta(theta)
        x = simulate_features(
            task,
            theta,
            executor=pool,
            seed=entropy,
            progress=options.progress,
            on_chunk=None if rnd is None else rnd.save_chunk,
            skip=None if rnd is None else rnd.load_chunk,
            timings=timings,
        )
    report_timings(features, timings, problem.n_traces)
    return theta, x


def simulate_prior_tests(
    problem: Problem,
    features: Any,
    space: ParameterSpace,
    n_tests: int,
    *,
    seed: int | None,
    target: str | None,
    options: SimulationOptions,
    measurement: MeasurementPlan | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fresh ``(theta, x)`` from the prior, simulated like the training data but kept apart."""
    theta = space.sample_prior(n_tests, np.random.default_rng(seed))
    with chunk_executor(options.n_jobs, options.executor) as pool:
        task = make_task(
            problem, space.names, features, n_tests, chunk_size=options.chunk_size,
            executor=pool, target=target, device=resolve_device(options.standalone),
            measurement=measurement,
        )
        x = simulate_features(
            task, theta, executor=pool, seed=resolve_seed(seed), progress=options.progress
        )
    return theta, x
