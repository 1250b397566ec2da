"""Training a backend on the rounds of a history, and restoring a saved one.

The backend is asked, never inspected: its class declares what it can learn from
(:mod:`~brian2modelfitting_sbi.backends.features`) and how to save and restore its state
(:meth:`~brian2modelfitting_sbi.backends.base.InferenceBackend.restore`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..backends import InferenceBackend, SavedRound, get_backend
from ..backends.ensemble import ensemble_size, make_backend, member_kind
from ..backends.features import (
    check_backend_features,
    check_discrete,
    discrete_columns,
    learned_features,
)
from ..errors import CapabilityError, ProblemError, SavedFileError
from ..priors import ParameterSpace
from ..scaling import x_to_torch
from ..simulation import apply_invalid
from ..threads import torch_threads
from .options import SamplingOptions, TrainingOptions
from .rounds import SAVED_POSTERIOR, History, Round

__all__ = [
    "backend_kind", "check_capabilities", "next_proposal", "restore_backend", "saved_history",
    "train_backend",
]


def check_capabilities(
    cls: type,
    features: Any,
    x_dim: int,
    fit: TrainingOptions,
    post: SamplingOptions,
    *,
    sequential: bool,
) -> None:
    """Refuse, before anything runs, what the backend class says it cannot do.

    Its features (:func:`~brian2modelfitting_sbi.backends.features.check_backend_features`),
    discrete columns (:func:`~brian2modelfitting_sbi.backends.features.check_discrete`),
    rounds drawn from a posterior (``multi_round``) and the chosen sampler (``samplers``).
    """
    check_backend_features(features, cls, x_dim, fit.embedding_net)
    check_discrete(cls, features, x_dim, fit.discrete_columns)
    check_rounds(cls, sequential)
    check_training = getattr(cls, "check_training", None)
    if check_training is not None:
        check_training(fit.settings)
    elif "multi_round" in (fit.settings or {}):
        raise CapabilityError(
            f"training['multi_round']: only the snpe backend has multi-round modes, not "
            f"{getattr(cls, '__name__', type(cls).__name__)}; leave it out"
        )
    samplers = set(getattr(cls, "samplers", ()) or ())
    if getattr(cls, "sampling_defaults", "direct") == "auto":
        samplers.add("auto")
    chosen = (post.settings or {}).get("sample_with")
    if samplers and chosen is not None and chosen not in samplers:
        raise CapabilityError(
            f"sampling['sample_with']: the {cls.__name__} backend supports "
            f"{sorted(samplers)}, got {chosen!r}"
        )


def check_rounds(cls: Any, sequential: bool) -> None:
    """Refuse rounds drawn from a posterior for a backend (class or object) without
    ``multi_round``."""
    if sequential and not getattr(cls, "multi_round", True):
        name = cls.__name__ if isinstance(cls, type) else type(cls).__name__
        raise CapabilityError(
            f"n_rounds: the {name} backend trains on prior draws only "
            f"(multi_round=False); use backend='snpe' (or 'snle', 'snre') for multi-round "
            f"inference, or n_rounds=1 (and restart=True to start over)"
        )


def next_proposal(backend: Any, posterior: Any) -> Any:
    """What the next round draws from: the prior (None) before any posterior, else what the
    backend makes of its posterior (SNPE: a truncated prior, see
    :class:`~brian2modelfitting_sbi.backends.snpe.SNPEBackend`), else the posterior."""
    make = getattr(backend, "proposal", None)
    if posterior is None or make is None:
        return posterior
    return make(posterior)


def saved_history(
    saved: Any, inferencer: Any, *, given_features: bool, given_namespace: bool
) -> History:
    """The rounds of a loaded file, checked against the rebuilt Inferencer.

    Given features must reproduce the saved observed features; a round drawn from a
    posterior gets :data:`~brian2modelfitting_sbi.inference.rounds.SAVED_POSTERIOR` as its
    proposal (files store that, not the posterior).
    """
    if given_features and (
        list(inferencer.feature_names) != saved.feature_names
        or not np.allclose(inferencer.x_o, saved.x_o, rtol=1e-6, atol=0, equal_nan=True)
    ):
        raise ProblemError(
            "features: the given features do not reproduce the saved observed features "
            f"(saved: {saved.feature_names}); pass the features the inference was run with"
        )
    if not given_namespace and inferencer.problem.fingerprint() != saved.fingerprint:
        warnings.warn(
            "load: the rebuilt problem differs from the saved one (fingerprint mismatch)",
            RuntimeWarning,
            stacklevel=3,
        )
    history = History(inferencer.space.dim, len(saved.feature_names))
    for k, r in enumerate(saved.rounds):
        proposal = None if r.from_prior else SAVED_POSTERIOR
        history = history.add(Round(k + 1, r.theta, r.x, proposal, r.n_invalid, r.invalid_ranges))
    return history


def backend_kind(backend: str | type | InferenceBackend) -> type | InferenceBackend:
    """A backend object as given, else its class (from a name or a class, see
    :func:`~brian2modelfitting_sbi.backends.get_backend`)."""
    return backend if isinstance(backend, InferenceBackend) else get_backend(backend)


def train_backend(
    cls: type | InferenceBackend,
    backend: Any,
    appended: int,
    history: History,
    space: ParameterSpace,
    features: Any,
    feature_names: Sequence[str],
    *,
    options: TrainingOptions,
    sampling: SamplingOptions,
    seed: int | None,
    region: dict[str, Any] | None = None,
) -> tuple[Any, int]:
    """Train ``backend`` (or a fresh ``cls``) on every round: ``(backend, rounds appended)``.

    ``region``: the box of a zoomed SNPE (its saved ``config()['region']``), given to a fresh
    backend so that it trains in that box even when the rounds' proposals are not at hand
    (a loaded inference).

    A backend of another kind, or one retrained without new rounds (other settings), starts
    afresh on every round; otherwise only the rounds it has not seen are appended. A backend
    object as ``cls`` (e.g. from ``init_inference``) is trained in place, on the rounds it has
    not seen, with ``options.settings`` and ``sampling.settings`` as overrides of its own.
    """
    if seed is not None:
        torch.manual_seed(seed)
    x_dim = len(feature_names)
    check_rounds(cls, history.sequential)
    with torch_threads(options.threads):
        if isinstance(cls, InferenceBackend):
            appended = appended if cls is backend else 0
            backend = cls
            try:
                backend.update_settings(options.settings, sampling.settings)
            except NotImplementedError as exc:
                raise CapabilityError(f"training, sampling: {exc}") from exc
        elif (backend is None or member_kind(backend) is not cls or appended == len(history)
              or ensemble_size(backend) != options.ensemble):
            embedding_net, estimator_options = learned_features(
                features, cls, x_dim, options.embedding_net, options.estimator_options
            )
            chosen = TrainingOptions.of(
                options, embedding_net=embedding_net, estimator_options=estimator_options
            )
            backend = make_backend(
                cls, space.prior(options.device), options.device,
                {"size": options.ensemble, "seed": seed},
                **chosen.backend_options(sampling),
                **_discrete_options(cls, features, feature_names, history, options),
                **({} if region is None else {"region": region}),
            )
            appended = 0
        for r in history.rounds[appended:]:
            theta, x = apply_invalid(
                r.theta, r.x, options.invalid, options.fill_value, list(feature_names),
                reference=history.x,
            )
            if len(theta) == 0:
                raise RuntimeError(
                    f"round {r.index}: all {r.n_simulations} simulations gave invalid "
                    f"(NaN/inf) features; check the bounds and the features"
                )
            backend.append_simulations(
                space.to_torch(theta), x_to_torch(x, history.x_scale), r.proposal
            )
        backend.train()
    return backend, len(history)


def _discrete_options(
    cls: type, features: Any, names: Sequence[str], history: History, options: TrainingOptions
) -> dict[str, Any]:
    """``discrete_columns`` and ``discrete_scale`` for a backend with ``discrete_features``."""
    if not getattr(cls, "discrete_features", False):
        return {}
    x = history.x[np.all(np.isfinite(history.x), axis=1)]
    columns = discrete_columns(features, names, x, options.discrete_columns)
    scale = history.x_scale[columns] if columns else np.ones(0)
    return {"discrete_columns": columns, "discrete_scale": [float(s) for s in scale]}


def restore_backend(
    saved_backend: dict[str, Any],
    state: dict[str, torch.Tensor],
    history: History,
    space: ParameterSpace,
    x_o: np.ndarray,
    *,
    features: Any,
    feature_code: bool,
    backend: Any = None,
    embedding_net: torch.nn.Module | None = None,
    device: str = "cpu",
) -> tuple[Any, Any]:
    """The saved backend rebuilt with its weights and rounds: ``(backend, posterior)``."""
    if backend is not None:
        cls = get_backend(backend)
    elif saved_backend.get("name") is None:
        raise ProblemError(
            f"backend: the saved backend {saved_backend.get('class')} is not a registered "
            f"backend; pass its class with load(path, backend=...)"
        )
    else:
        cls = get_backend(saved_backend["name"])
    if saved_backend.get("embedding_net") is not None and embedding_net is None:
        if not feature_code:
            raise ProblemError(
                f"embedding_net: the saved network has an embedding net "
                f"({saved_backend['embedding_net']}); pass features= (whose default embedding "
                f"it was) or embedding_net= (a fresh module of the same architecture)"
            )
        embedding_net, _ = learned_features(features, cls, len(x_o.reshape(-1)), None, None)
    config = {  # what config() saved, passed back to the constructor
        k: v for k, v in saved_backend.items()
        if k not in ("name", "class", "device", "embedding_net", "ensemble")
    }
    trained = make_backend(cls, space.prior(device), device, saved_backend.get("ensemble"),
                           embedding_net=embedding_net, **config)
    rounds = []
    for r in history.rounds:
        keep = np.all(np.isfinite(r.x), axis=1)
        rounds.append(
            SavedRound(
                space.to_torch(r.theta[keep]), x_to_torch(r.x[keep], history.x_scale),
                r.from_prior,
            )
        )
    x_o_t = x_to_torch(np.atleast_2d(x_o), history.x_scale)
    try:
        posterior = trained.restore(state, rounds, x_o_t)
    except NotImplementedError as exc:
        raise SavedFileError(f"backend: {exc}") from exc
    return trained, posterior
