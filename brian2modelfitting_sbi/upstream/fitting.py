"""brian2modelfitting's training calls: ``infer`` with its options, ``train(inference, theta,
x)``, ``build_posterior(inference)``, ``infer_step`` and the saved posterior.

Each function translates upstream's arguments and then calls the Inferencer's public methods
(``set_bounds``, ``add_round``, ``train``, ``build_posterior``, ``infer``, ``load``,
``adopt``): the rounds, the trained backend and the posterior stay the Inferencer's own.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from typing import Any

from ..errors import CapabilityError, NotFittedError, ProblemError
from ..simulation.measurement import bounded_parameters
from .arguments import backend_name, device_name, estimator_arguments
from .steps import check_backend, generate_training_data, is_posterior, simulate_theta

__all__ = ["build_posterior", "infer", "infer_step", "load_posterior", "train"]


def train(inferencer: Any, inference: Any, args: tuple, train_kwargs: Mapping[str, Any]) -> Any:
    """Upstream's ``train(inference, theta, x, proposal=None, **train_kwargs)``: ``theta`` and
    ``x`` become the next round; ``inference`` (from ``init_inference``) is trained in place on
    every round it has not seen, with sbi's ``train_kwargs``."""
    backend = check_backend(inference)
    if len(args) < 2:
        raise TypeError("train: expected train(inference, theta, x[, proposal], **train_kwargs)")
    if len(args) > 3:
        raise TypeError(f"train: expected at most one argument after theta, x (a proposal), "
                        f"got {len(args) - 2}")
    theta, x, *rest = args
    proposal = rest[0] if rest and is_posterior(inferencer, rest[0]) else None
    record = inferencer.add_round(theta, x, proposal)
    inferencer.n_samples = record.n_simulations
    return inferencer.train(backend, training=dict(train_kwargs))


def build_posterior(
    inferencer: Any, inference: Any, posterior_kwargs: Mapping[str, Any]
) -> tuple[Any, Any]:
    """Upstream's ``build_posterior(inference, **posterior_kwargs)`` → ``(inference,
    posterior)``; the posterior's default x is the observation."""
    backend = check_backend(inference)
    if backend is not inferencer.backend:
        raise NotFittedError(
            "build_posterior: this inference object was not trained here; call "
            "train(inference, theta, x) first"
        )
    try:
        backend.update_settings(sampling=dict(posterior_kwargs))
    except NotImplementedError as exc:
        raise CapabilityError(f"posterior_kwargs: {exc}") from exc
    return backend, inferencer.build_posterior()


def infer_step(
    inferencer: Any,
    proposal: Any,
    inference: Any,
    n_samples: int | None,
    theta: Any,
    x: Any,
    train_kwargs: Mapping[str, Any] | None,
    posterior_kwargs: Mapping[str, Any] | None,
    args: tuple,
) -> Any:
    """One upstream round: data (given, or simulated from ``proposal``), training, posterior."""
    check_backend(inference)
    if theta is None or x is None:
        if n_samples is None:
            raise ProblemError("infer_step: give n_samples, or theta and x")
    if theta is None:
        theta = generate_training_data(inferencer, n_samples, proposal)
    if x is None:
        x = simulate_theta(inferencer, theta)
    train(inferencer, inference, (theta, x, *(args or (proposal,))), dict(train_kwargs or {}))
    return build_posterior(inferencer, inference, dict(posterior_kwargs or {}))[1]


def _merged(group: Any, extra: Mapping[str, Any]) -> Any:
    """A ``training=``/``sampling=`` group (None, a dict or an options object) with ``extra``
    settings added."""
    if group is None or isinstance(group, Mapping):
        return {**(group or {}), **extra}
    return dataclasses.replace(group, settings={**(group.settings or {}), **extra})


def infer(
    inferencer: Any, n_samples: int | None, backend: Any, legacy: dict, ours: dict
) -> Any:
    """``infer`` with upstream's options (``legacy``) or without ``n_samples``, onto ours.

    ``ours``: ``n_rounds``, ``seed``, ``restart``, ``simulation``, ``training``, ``sampling``
    and the other keywords given (bounds and our options).
    """
    legacy, ours = dict(legacy), dict(ours)
    theta, x = legacy.pop("theta", None), legacy.pop("x", None)
    names = bounded_parameters(inferencer.problem, inferencer.measurement)
    bounds = {k: v for k, v in ours.items() if k in names}
    if "inference_method" in legacy:
        backend = backend_name(legacy.pop("inference_method"))
    elif inferencer.backend is not None and not ours["restart"] and not bounds:
        backend = type(inferencer.backend)  # infer() after the step API continues it
    if "density_estimator_model" in legacy:
        ours["estimator"] = legacy.pop("density_estimator_model")
    if "inference_kwargs" in legacy:
        options, embedding = estimator_arguments(backend, legacy.pop("inference_kwargs"))
        ours["estimator_options"] = {**(ours.get("estimator_options") or {}), **options}
        if embedding is not None:
            ours["embedding_net"] = embedding
    if "train_kwargs" in legacy:
        ours["training"] = _merged(ours["training"], legacy.pop("train_kwargs"))
    if "posterior_kwargs" in legacy:
        ours["sampling"] = _merged(ours["sampling"], legacy.pop("posterior_kwargs"))
    if "sbi_device" in legacy:
        device, warning = device_name(legacy.pop("sbi_device"))
        if warning:
            warnings.warn(warning, RuntimeWarning, stacklevel=3)
        inferencer.sbi_device = ours["device"] = device
    if bounds:
        inferencer.params = dict(bounds)
    continuing = inferencer.posterior is not None and not ours["restart"]
    if theta is not None or x is not None:
        if theta is None or x is None:
            raise ProblemError("theta, x: give both (the parameters and their features)")
        if continuing:
            warnings.warn(
                "theta, x: ignored, since a posterior exists and the next round draws from it "
                "(as upstream does); pass restart=True to train on them from the prior",
                UserWarning,
                stacklevel=3,
            )
        else:  # upstream: given data train the first round; later rounds simulate as many
            inferencer.set_bounds(restart=ours["restart"] or bool(bounds), **bounds)
            record = inferencer.add_round(theta, x, None)
            skip = {*bounds, "restart", "simulation", "n_rounds"}
            inferencer.train(backend, **{k: v for k, v in ours.items() if k not in skip})
            inferencer.build_posterior(threads=ours.get("threads", 1))
            n_samples = n_samples or record.n_simulations
            ours = {k: v for k, v in ours.items() if k not in bounds}
            ours.update(restart=False, n_rounds=ours["n_rounds"] - 1)
            if ours["n_rounds"] == 0:
                inferencer.n_samples = int(n_samples)
                return inferencer.posterior
    if n_samples is None:
        if not continuing or not inferencer.rounds:
            raise ProblemError(
                "n_samples: required (simulations per round) unless theta= and x= are given or "
                "a posterior exists to continue from"
            )
        n_samples = inferencer.n_samples or inferencer.rounds[-1].n_simulations
    inferencer.n_samples = int(n_samples)
    return inferencer.infer(n_samples, backend, **ours)


def load_posterior(inferencer: Any, f: str | os.PathLike) -> Any:
    """Read a saved inference of the same problem into ``inferencer``; return its posterior."""
    loaded = type(inferencer).load(
        f, features=inferencer.features, namespace=dict(inferencer.problem.namespace)
    )
    if loaded.problem.fingerprint() != inferencer.problem.fingerprint():
        raise ProblemError(
            f"load_posterior: {os.fspath(f)!r} was saved for another model or other data"
        )
    inferencer.adopt(loaded)
    return inferencer.posterior
