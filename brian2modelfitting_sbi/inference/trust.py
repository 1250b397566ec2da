"""The trust report of an inference: its checks wired to the simulator and the train path.

:func:`run_trust_report` gives :func:`~brian2modelfitting_sbi.posterior.trust.trust_report`
what it needs from an :class:`~brian2modelfitting_sbi.Inferencer`: posterior draws simulated
by the one chunk runner (:func:`~.simulate.simulate_round`, with its executors and store),
the trained estimator conditioned on new features
(:func:`~brian2modelfitting_sbi.posterior.posteriors_from_features`) and a second estimator
trained with another seed through :func:`~.fit.train_backend`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..backends.ensemble import member_kind
from ..errors import NotAmortizedError
from ..posterior import Posterior, TrainedEstimator, posteriors_from_features
from ..posterior.amortization import amortization_status
from ..posterior.sampling import draw
from ..posterior.trust import TrustBudget, TrustReport, trust_report
from ..threads import torch_threads
from .fit import train_backend
from .options import SamplingOptions, SimulationOptions, TrainingOptions
from .rounds import History
from .simulate import simulate_round

__all__ = ["TRUST_ROUND", "run_trust_report", "training_summary"]

#: Round index of the report's simulations in a store (apart from the training rounds).
TRUST_ROUND = 900


def training_summary(backend: Any) -> dict[str, Any] | None:
    """``epochs`` of the last training, its ``max_epochs`` and ``n_simulations`` (or None)."""
    trainer = getattr(backend, "trainer", None)
    summary = getattr(trainer, "summary", None) or {}
    epochs = summary.get("epochs_trained") or []
    if not epochs:
        return None
    limit = (getattr(backend, "last_training", None) or {}).get("max_num_epochs")
    return {"epochs": int(epochs[-1]), "max_epochs": limit,
            "n_simulations": getattr(backend, "num_simulations", None)}


def second_training(inferencer: Any, training: TrainingOptions | None, seed: int) -> Any:
    """A backend of the same kind and settings trained on the same rounds with ``seed``."""
    backend = inferencer.backend
    config = backend.config() if hasattr(backend, "config") else {}
    if training is None:
        training = TrainingOptions(
            estimator=config.get("estimator"), estimator_options=config.get("estimator_options"),
            settings=config.get("training") or None,
            ensemble=int((config.get("ensemble") or {}).get("size", 1)),
        )
    history = History(inferencer.space.dim, len(inferencer.feature_names))
    for r in inferencer.rounds:
        history = history.add(r)
    sampling = SamplingOptions(settings=config.get("sampling") or None)
    trained, _ = train_backend(
        member_kind(backend), None, 0, history, inferencer.space, inferencer.features,
        inferencer.feature_names, options=training, sampling=sampling, seed=seed,
        region=config.get("region"),  # a zoomed SNPE's box (also for a loaded one)
    )
    return trained


def run_trust_report(
    inferencer: Any,
    trained: TrainedEstimator,
    posterior: Posterior,
    *,
    budget: TrustBudget,
    seed: int,
    simulation: SimulationOptions,
    training: TrainingOptions | None = None,
    verbose: bool = True,
) -> TrustReport:
    """The trust report of ``posterior`` (the observed one or a ``condition()`` result).

    ``inferencer`` is read through its public state only (``problem``, ``features``,
    ``space``, ``target``, ``measurement``, ``x_o``, ``x``, ``rounds``, ``backend``,
    ``feature_names``, ``x_to_torch``). Its simulations get the inference's measurement noise,
    as the training simulations did.
    """
    space = inferencer.space
    skip: dict[str, str] = {}
    try:
        # a zoomed multi-round SNPE is amortized inside its box, where the posterior-predictive
        # test parameters lie
        amortized, _ = amortization_status(trained, within_region=True)
    except NotAmortizedError as exc:
        amortized = False
        skip["local calibration"] = f"not run: {exc}"
    label = f"trust report: posterior of {posterior.name}"

    def simulate(n: int, at: int) -> tuple[np.ndarray, np.ndarray]:
        return simulate_round(
            inferencer.problem, inferencer.features, space, n_simulations=n,
            proposal=posterior.estimate, proposal_label=label, round_index=TRUST_ROUND,
            x_o=inferencer.x_o, seed=at, target=inferencer.target, options=simulation,
            measurement=inferencer.measurement,
        )

    def condition(x: np.ndarray, n_draws: int, at: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # cost and flags: the report says
            results = posteriors_from_features(
                trained, x, [str(i) for i in range(len(x))], n_draws=n_draws, seed=at,
                batched=True, with_map=False, threads=simulation.threads, within_region=True,
            )
        return np.stack([r.sample_array for r in results])

    def retrain(at: int) -> np.ndarray:
        second = second_training(inferencer, training, at)
        with torch_threads(simulation.threads):
            estimate = second.build_posterior(inferencer.x_to_torch(posterior.x))
        return draw(estimate, space, budget.n_draws, at, simulation.threads)

    return trust_report(
        posterior, simulate, condition=condition, retrain=retrain,
        training_summary=training_summary(inferencer.backend), training_x=inferencer.x,
        amortized=amortized, n_training=int(inferencer.n_simulations), budget=budget,
        seed=seed, verbose=verbose, skip_reasons=skip,
    )
