"""brian2modelfitting's step API: prior, training data, summary statistics, inference object.

Its flexible interface runs inference step by step: ``init_prior`` → ``generate_training_data``
→ ``extract_summary_statistics`` → ``init_inference`` → ``train``/``infer_step`` (see
:mod:`.fitting`). Each function here takes the Inferencer and uses only its public state
(``problem``, ``features``, ``space``, ``target``, ``posterior``, ``theta``, ``x``) and public
methods (``set_bounds``); what upstream keeps as attributes (``params``, ``n_samples``...) is
set by the methods of :class:`~brian2modelfitting_sbi.upstream.attributes.UpstreamAttributes`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..backends import InferenceBackend, get_backend
from ..backends.features import learned_features
from ..errors import NotFittedError, ProblemError, check_count
from ..posterior.sampling import draw
from ..priors import ParameterSpace
from ..simulation import chunk_executor, make_task, resolve_device, resolve_seed, simulate_features
from ..simulation.measurement import bounded_parameters
from .arguments import as_array, backend_name, check_names, estimator_arguments

__all__ = [
    "check_backend",
    "generate_training_data",
    "init_inference",
    "init_prior",
    "is_posterior",
    "load_summary_statistics",
    "require_space",
    "save_summary_statistics",
    "simulate_theta",
]


def require_space(inferencer: Any, where: str) -> ParameterSpace:
    """The Inferencer's parameter space, else an error saying to call ``init_prior``."""
    if inferencer.space is None:
        raise NotFittedError(f"{where}: no prior yet; call init_prior(**bounds) first")
    return inferencer.space


def is_posterior(inferencer: Any, proposal: Any) -> bool:
    """Whether ``proposal`` is a posterior (not the prior box of ``init_prior``)."""
    return proposal is not None and (
        proposal is inferencer.posterior or hasattr(proposal, "set_default_x")
    )


def check_backend(inference: Any) -> InferenceBackend:
    """``inference`` if it is a backend object (from ``init_inference``), else a TypeError."""
    if not isinstance(inference, InferenceBackend):
        raise TypeError(
            f"inference: expected the object returned by init_inference(), got {inference!r}"
        )
    return inference


def init_prior(inferencer: Any, bounds: Mapping[str, Any]) -> Any:
    """Set the bounds; the prior box as an sbi ``BoxUniform`` over SI floats (upstream)."""
    from sbi.utils import BoxUniform

    names = bounded_parameters(inferencer.problem, inferencer.measurement)
    check_names(names, "init_prior", list(bounds))
    space = inferencer.set_bounds(**bounds)
    return BoxUniform(
        low=torch.as_tensor(space.lower, dtype=torch.float32),
        high=torch.as_tensor(space.upper, dtype=torch.float32),
    )


def generate_training_data(inferencer: Any, n_samples: int, prior: Any) -> np.ndarray:
    """``n_samples`` parameter sets ``(n, d)`` (SI floats) from ``prior`` (an SI distribution
    such as the one of :func:`init_prior`, or a posterior of this Inferencer)."""
    check_count("n_samples", n_samples, 1)
    space = require_space(inferencer, "generate_training_data")
    if is_posterior(inferencer, prior):
        return draw(prior, space, n_samples)
    if not hasattr(prior, "sample"):
        raise ProblemError(
            f"prior: expected the prior of init_prior() or a posterior, got {prior!r}"
        )
    with torch.no_grad():
        theta = prior.sample((int(n_samples),))
    return np.atleast_2d(theta.detach().cpu().double().numpy())


def simulate_theta(inferencer: Any, theta: Any, progress: bool = False) -> np.ndarray:
    """Features ``(n, k)`` of the parameter sets ``theta`` (SI floats); nothing is recorded."""
    space = require_space(inferencer, "extract_summary_statistics")
    theta = as_array("theta", theta, space.dim, f"parameter values {space.names}")
    with chunk_executor(None, None) as pool:
        task = make_task(
            inferencer.problem, space.names, inferencer.features, len(theta), executor=pool,
            target=inferencer.target, device=resolve_device(None),
            measurement=inferencer.measurement,
        )
        return simulate_features(
            task, theta, executor=pool, seed=resolve_seed(None), progress=progress
        )


def save_summary_statistics(inferencer: Any, f: Any, theta: Any, x: Any) -> None:
    """Upstream's npz of ``theta`` and ``x`` (default: every round so far)."""
    if not isinstance(f, str | os.PathLike):
        raise TypeError(f"f: expected a file name (str or os.PathLike), got {f!r}")
    if theta is None:
        if not len(inferencer.theta):
            raise AttributeError("theta: give theta (or simulate a round first)")
        theta = inferencer.theta
    if x is None:
        if not len(inferencer.x):
            raise AttributeError("x: give x (or simulate a round first)")
        x = inferencer.x
    theta, x = np.asarray(theta), np.asarray(x)
    if theta.dtype.kind not in "biuf" or x.dtype.kind not in "biuf":
        raise TypeError("theta, x: expected numeric arrays")
    np.savez_compressed(f, theta=theta, x=x)


def load_summary_statistics(f: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, x)`` from an npz of :func:`save_summary_statistics` (no pickles)."""
    with np.load(f, allow_pickle=False) as data:
        if not {"theta", "x"} <= set(data.files):
            raise ProblemError(f"{f}: expected arrays 'theta' and 'x', found {data.files}")
        return data["theta"], data["x"]


def init_inference(
    inferencer: Any,
    method: str,
    estimator: str,
    device: str,
    inference_kwargs: Mapping[str, Any],
) -> InferenceBackend:
    """A fresh, untrained backend of upstream's ``inference_method`` on the current prior box
    (``device``: a torch device name)."""
    name = backend_name(method)
    space = require_space(inferencer, "init_inference")
    cls = get_backend(name)
    options, embedding = estimator_arguments(name, inference_kwargs)
    embedding, options = learned_features(
        inferencer.features, cls, inferencer.x_o.shape[1], embedding, options or None
    )
    kwargs = {"estimator": estimator, "estimator_options": options, "embedding_net": embedding}
    return cls(space.prior(device), device, **{k: v for k, v in kwargs.items() if v})
