"""brian2modelfitting's own ``Inferencer`` API, translated onto ours.

brian2modelfitting's GitHub master has an ``Inferencer`` of its own (its documentation is
where this project started). Scripts written for it run here with the import changed to
``from brian2modelfitting_sbi import Inferencer``: this module holds the translation of its
arguments and the results in its shapes, so that the Inferencer itself only delegates.

Where the two APIs differ:

- ``sample((n,))`` (a shape) returns an array ``(n, d)`` of SI floats, columns in
  ``param_names`` order, as upstream; ``sample(n)`` (an int) keeps our dict of quantities.
- ``pairplot``/``conditional_pairplot`` called with upstream's keywords (``labels``,
  ``ticks``, ``subset``, ``samples``, sbi plot options such as ``points_offdiag``) or with an
  array ``condition`` draw on a pyplot figure and return ``(fig, axes)``, as upstream
  (:mod:`~brian2modelfitting_sbi.upstream_plots`); values are shown in display units.
- ``generate_traces`` without any of our keywords (``params``, ``variables``, ``seed``,
  ``return_params``) has upstream's meaning: one simulation at the mean of ``n_samples``
  posterior draws, a Quantity ``(n_traces, n_steps)``; our posterior-predictive form is
  :meth:`~brian2modelfitting_sbi.Inferencer.predictive_traces`.
- ``train(inference, theta, x)`` and ``build_posterior(inference)`` (a backend as first
  argument) are upstream's steps; ``train('snpe', ...)``/``build_posterior()`` are ours.
- ``init_inference`` returns our backend object (it wraps the sbi trainer as ``.trainer``);
  ``save_posterior``/``load_posterior`` write and read our zip format
  (:mod:`~brian2modelfitting_sbi.io`), not a pickled posterior.
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from brian2 import Quantity, TimedArray, second
from brian2.units.fundamentalunits import get_dimensions

from .backends.base import InferenceBackend
from .problem import SPIKES, ProblemError

#: Keywords of upstream's ``infer`` that are not parameter bounds.
INFER_OPTIONS = (
    "theta",
    "x",
    "inference_method",
    "density_estimator_model",
    "inference_kwargs",
    "train_kwargs",
    "posterior_kwargs",
    "sbi_device",
)
#: Upstream's inference methods and the backends they map to.
METHODS = {"SNPE": "snpe", "SNLE": "snle", "SNRE": "snre"}
#: Keywords of our ``pairplot`` (everything else goes to the upstream form).
PAIRPLOT_OURS = ("n_samples", "points", "limits", "seed", "bins", "figsize", "color")
#: Keywords of our ``generate_traces`` (any of them selects our posterior-predictive form).
TRACES_OURS = ("params", "variables", "seed", "return_params")


# ---------------------------------------------------------------------- keyword checks
def _hints(names: Sequence[str], allowed: Sequence[str]) -> str:
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ", ".join(hints)


def unknown_keywords(where: str, names: Sequence[str], allowed: Sequence[str]) -> ProblemError:
    """An error naming the unknown keywords, each with its closest allowed name."""
    return ProblemError(
        f"{where}: unknown keyword argument(s) {_hints(names, allowed)}; expected one of "
        f"{sorted(allowed)}"
    )


def split_infer_keywords(
    inferencer: Any, keywords: Mapping[str, Any], options: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``infer(**keywords)`` into parameter bounds and upstream's options.

    Anything that is neither a model parameter nor an option (ours in ``options``, or
    upstream's :data:`INFER_OPTIONS`) is refused with the closest name suggested.
    """
    parameters = inferencer.problem.parameter_names
    bounds = {k: v for k, v in keywords.items() if k in parameters}
    legacy = {k: v for k, v in keywords.items() if k in INFER_OPTIONS and k not in parameters}
    unknown = [k for k in keywords if k not in bounds and k not in legacy]
    if unknown:
        raise ProblemError(
            f"bounds: {sorted(unknown)} are not parameters of the model nor options of infer(): "
            f"{_hints(unknown, [*parameters, *options, *INFER_OPTIONS])}; the model's "
            f"parameters are {parameters}"
        )
    return bounds, legacy


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ProblemError(f"{name}: expected an integer >= 1, got {value!r}")


def check_bounds(inferencer: Any, where: str, bounds: Mapping[str, Any]) -> None:
    """Refuse names that are not parameters of the model, suggesting the closest."""
    parameters = inferencer.problem.parameter_names
    unknown = [k for k in bounds if k not in parameters]
    if unknown:
        raise ProblemError(
            f"{where}: {sorted(unknown)} are not parameters of the model: "
            f"{_hints(unknown, parameters)}; the model's parameters are {parameters}"
        )


def backend_name(method: Any) -> str:
    """``'SNPE'``/``'SNLE'``/``'SNRE'`` (any case) → our backend name."""
    key = str(method).upper()
    if key not in METHODS:
        raise NameError(
            f"inference_method: {method!r} is not supported; choose 'SNPE', 'SNLE' or 'SNRE'"
        )
    return METHODS[key]


def sbi_device(inferencer: Any, device: Any) -> str:
    """Upstream's ``sbi_device``: ``'gpu'``/``'cuda'`` if available (else a warning), else cpu."""
    name = str(device).lower()
    if name in ("gpu", "cuda"):
        if torch.cuda.is_available():
            inferencer.sbi_device = "cuda"
            return "cuda"
        warnings.warn(
            f"sbi_device: {device!r} is not available; training on the CPU",
            RuntimeWarning,
            stacklevel=3,
        )
    inferencer.sbi_device = "cpu"
    return "cpu"


def estimator_arguments(
    backend: str | type, inference_kwargs: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Any]:
    """Upstream's ``inference_kwargs`` → our ``estimator_options`` and ``embedding_net``."""
    from .backends import get_backend

    options = dict(inference_kwargs or {})
    argument = getattr(get_backend(backend), "embedding_argument", "embedding_net")
    embedding = options.pop(argument, None)
    if embedding is None and argument != "embedding_net":
        embedding = options.pop("embedding_net", None)
    return options, embedding


def calc_prior(param_names: Sequence[str], **bounds: Sequence[Any]) -> Any:
    """Upstream's helper: a ``BoxUniform`` over SI floats, one ``[lower, upper]`` per name.

    Raises ``TypeError`` (as upstream) when a name has no bounds.
    """
    from sbi.utils import BoxUniform

    missing = [name for name in param_names if name not in bounds]
    if missing:
        raise TypeError(f"bounds must be set for the parameters {missing}")
    low = [float(min(bounds[name])) for name in param_names]
    high = [float(max(bounds[name])) for name in param_names]
    return BoxUniform(low=torch.as_tensor(low), high=torch.as_tensor(high))


def get_param_dict(
    param_values: Any, param_names: Sequence[str], n_values: int
) -> dict[str, np.ndarray]:
    """Upstream's helper: columns of ``param_values`` as ``{name: array of n_values}``."""
    columns = np.atleast_2d(np.asarray(param_values)).T
    return {name: np.ones(n_values) * col for name, col in zip(param_names, columns, strict=False)}


# ---------------------------------------------------------------------- attributes
class UpstreamAttributes:
    """Upstream's attribute names, read from our problem (a mixin of the Inferencer)."""

    #: Upstream state: the bounds given to ``init_prior``/``infer``.
    params: dict[str, Any] | None = None
    #: Simulations per round of the last ``generate_training_data``/``infer``.
    n_samples: int | None = None
    #: The last array returned by ``sample(shape)`` (what upstream's ``pairplot`` plots).
    samples: np.ndarray | None = None
    #: Torch device of the last ``init_inference``/``infer(sbi_device=...)``.
    sbi_device: str = "cpu"
    #: The backend of the last ``init_inference`` (upstream: the sbi inference object).
    inference: Any = None

    @property
    def param_names(self) -> list[str]:
        """Names of the parameters to infer, sorted (the column order of theta arrays)."""
        return list(self.problem.parameter_names)

    @property
    def dt(self) -> Quantity:
        """The time step."""
        return self.problem.dt * second

    @property
    def sim_time(self) -> Quantity:
        """Simulated duration of each trace."""
        return self.problem.duration * second

    @property
    def n_traces(self) -> int:
        """Number of input traces."""
        return self.problem.n_traces

    @property
    def model(self) -> Any:
        """The model equations (``brian2.Equations``)."""
        return self.problem.equations

    @property
    def output_var(self) -> list[str]:
        """Names of the observed outputs."""
        return list(self.problem.outputs)

    @property
    def output(self) -> list[Any]:
        """The observed outputs with units (spike trains as lists), in ``output_var`` order."""
        out = []
        for name, value in self.problem.outputs.items():
            if name == SPIKES:
                out.append([Quantity(train, dim=second.dim) for train in value])
            else:
                out.append(Quantity(value, dim=get_dimensions(self.problem.output_units[name])))
        return out

    @property
    def output_dim(self) -> list[Any]:
        """Dimensions of the observed outputs."""
        return [get_dimensions(self.problem.output_units[name]) for name in self.problem.outputs]

    @property
    def input_traces(self) -> TimedArray:
        """The (single) input as a ``TimedArray`` ``(n_steps, n_traces)``, as upstream."""
        name, values = next(iter(self.problem.inputs.items()))
        unit = self.problem.input_units[name]
        return TimedArray(Quantity(values.T, dim=get_dimensions(unit)), dt=self.dt)

    @property
    def param_init(self) -> dict[str, Any]:
        """Initial values: quantities, or string expressions as given."""
        eqs = self.problem.equations
        return {
            k: v if isinstance(v, str) else Quantity(v, dim=eqs[k].dim)
            for k, v in self.problem.param_init.items()
        }

    @property
    def method(self) -> str | None:
        """Integration method."""
        return self.problem.method

    @property
    def threshold(self) -> str | None:
        """Spike condition."""
        return self.problem.threshold

    @property
    def reset(self) -> str | None:
        """Reset code."""
        return self.problem.reset

    @property
    def refractory(self) -> Any:
        """Refractoriness."""
        return self.problem.refractory

    # ------------------------------------------------------------------ the step API
    def init_prior(self, **bounds: Sequence[Quantity]) -> Any:
        """Set the prior box; return it as an sbi ``BoxUniform`` over SI floats (upstream)."""
        return init_prior(self, bounds)

    def generate_training_data(self, n_samples: int, prior: Any) -> np.ndarray:
        """``n_samples`` parameter sets ``(n, d)`` (SI floats) drawn from ``prior``."""
        return generate_training_data(self, n_samples, prior)

    def extract_summary_statistics(self, theta: Any, level: int = 0) -> np.ndarray:
        """Simulate ``theta`` (``(n, d)`` SI floats) and return the features ``(n, k)``.

        ``level`` is accepted for upstream's scripts; the namespace was captured when the
        Inferencer was created.
        """
        return simulate_theta(self, theta)

    def save_summary_statistics(
        self, f: str | os.PathLike, theta: Any = None, x: Any = None
    ) -> None:
        """Save ``theta`` and ``x`` (default: every round so far) to a compressed npz file."""
        save_summary_statistics(self, f, theta, x)

    def load_summary_statistics(self, f: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, x)`` from a file of :meth:`save_summary_statistics` (no pickles)."""
        return load_summary_statistics(self, f)

    def init_inference(
        self,
        inference_method: str,
        density_estimator_model: str,
        prior: Any,
        sbi_device: str = "cpu",
        **inference_kwargs: Any,
    ) -> InferenceBackend:
        """A fresh, untrained backend (upstream: the sbi inference object)."""
        return init_inference(
            self, inference_method, density_estimator_model, prior, sbi_device, inference_kwargs
        )

    def infer_step(
        self,
        proposal: Any,
        inference: InferenceBackend,
        n_samples: int | None = None,
        theta: Any = None,
        x: Any = None,
        train_kwargs: Mapping[str, Any] | None = None,
        posterior_kwargs: Mapping[str, Any] | None = None,
        *args: Any,
    ) -> Any:
        """One round: simulate (unless ``theta`` and ``x`` are given), train, build the
        posterior at the observation; return the posterior."""
        return infer_step(
            self, proposal, inference, n_samples, theta, x, train_kwargs, posterior_kwargs, args
        )

    def save_posterior(self, f: str | os.PathLike) -> None:
        """Save the trained inference (our zip format, see :meth:`save`)."""
        self.save(f)

    def load_posterior(self, f: str | os.PathLike) -> Any:
        """Load a file of :meth:`save_posterior` into this Inferencer; return the posterior."""
        return load_posterior(self, f)

    def conditional_corrcoeff(
        self,
        condition: Any,
        density: Any = None,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        subset: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Upstream's spelling: the conditional correlation matrix, averaged over the rows of
        ``condition`` (an array ``(m, d)``, e.g. from ``sample((1,))``, or a dict)."""
        return conditional_corrcoeff(self, condition, density, limits, subset, kwargs)


# ---------------------------------------------------------------------- rounds
def _as_array(name: str, value: Any, columns: int, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.atleast_2d(np.asarray(value, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != columns:
        raise ProblemError(
            f"{name}: expected an array (n, {columns}) of {what}, got shape {np.shape(value)}"
        )
    return arr


def _require_space(inferencer: Any, where: str) -> None:
    if inferencer.space is None:
        raise RuntimeError(f"{where}: no prior yet; call init_prior(**bounds) first")


def _is_posterior(inferencer: Any, proposal: Any) -> bool:
    return proposal is not None and (
        proposal is inferencer.posterior or hasattr(proposal, "set_default_x")
    )


def add_round(inferencer: Any, theta: Any, x: Any, proposal: Any) -> tuple[np.ndarray, np.ndarray]:
    """Record given ``(theta, x)`` as the next round (drawn from ``proposal``)."""
    _require_space(inferencer, "theta, x")
    theta = _as_array("theta", theta, inferencer.space.dim, f"parameters {inferencer.param_names}")
    x = _as_array("x", x, len(inferencer.feature_names), "features")
    if len(theta) != len(x):
        raise ProblemError(f"theta, x: {len(theta)} parameter sets but {len(x)} feature rows")
    lo, hi = inferencer.space.lower, inferencer.space.upper
    slack = 1e-6 * inferencer.space.width
    if np.any(theta < lo - slack) or np.any(theta > hi + slack):
        warnings.warn(
            "theta: some parameter sets lie outside the prior bounds", RuntimeWarning, stacklevel=3
        )
    valid = np.all(np.isfinite(x), axis=1)
    inferencer.rounds.append(inferencer._report(len(inferencer.rounds), theta, valid, x))
    inferencer._proposals.append(proposal if _is_posterior(inferencer, proposal) else None)
    inferencer.theta = np.concatenate([inferencer.theta, theta])
    inferencer.x = np.concatenate([inferencer.x, x])
    inferencer.n_samples = len(theta)
    return theta, x


def simulate_theta(inferencer: Any, theta: Any, progress: bool = False) -> np.ndarray:
    """Features ``(n, k)`` of the parameter sets ``theta`` (SI floats), nothing recorded."""
    import cloudpickle

    from .simulation import (
        ChunkTask,
        chunk_executor,
        default_chunk_size,
        n_workers,
        resolve_device,
        resolve_seed,
        simulate_features,
    )

    _require_space(inferencer, "extract_summary_statistics")
    theta = _as_array("theta", theta, inferencer.space.dim, f"parameters {inferencer.param_names}")
    recording = inferencer.features.recording()
    with chunk_executor(None, None) as pool:
        size = default_chunk_size(
            inferencer.problem, recording, len(theta), n_workers=n_workers(pool)
        )
        task = ChunkTask(
            inferencer.problem,
            tuple(inferencer.space.names),
            int(size),
            recording,
            inferencer.target,
            cloudpickle.dumps(inferencer.features),
            device=resolve_device(None),
        )
        return simulate_features(
            task, theta, executor=pool, seed=resolve_seed(None), progress=progress
        )


# ---------------------------------------------------------------------- step API
def init_prior(inferencer: Any, bounds: Mapping[str, Any]) -> Any:
    """Set the bounds; the prior box as an sbi ``BoxUniform`` in SI units."""
    from sbi.utils import BoxUniform

    check_bounds(inferencer, "init_prior", bounds)
    space = inferencer.set_bounds(**bounds)
    inferencer.params = dict(bounds)
    return BoxUniform(
        low=torch.as_tensor(space.lower, dtype=torch.float32),
        high=torch.as_tensor(space.upper, dtype=torch.float32),
    )


def generate_training_data(inferencer: Any, n_samples: int, prior: Any) -> np.ndarray:
    """Parameter sets from ``prior`` (an SI distribution, or a posterior of this Inferencer)."""
    from .results import draw

    _check_count("n_samples", n_samples)
    _require_space(inferencer, "generate_training_data")
    inferencer.n_samples = int(n_samples)
    if _is_posterior(inferencer, prior):
        return draw(prior, inferencer.space, n_samples)
    if not hasattr(prior, "sample"):
        raise ProblemError(
            f"prior: expected the prior of init_prior() or a posterior, got {prior!r}"
        )
    with torch.no_grad():
        theta = prior.sample((int(n_samples),))
    return np.atleast_2d(theta.detach().cpu().double().numpy())


def save_summary_statistics(inferencer: Any, f: Any, theta: Any, x: Any) -> None:
    """Upstream's npz of ``theta`` and ``x``."""
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


def load_summary_statistics(inferencer: Any, f: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, x)`` from an npz of :func:`save_summary_statistics`."""
    with np.load(f, allow_pickle=False) as data:
        if not {"theta", "x"} <= set(data.files):
            raise ProblemError(f"{f}: expected arrays 'theta' and 'x', found {data.files}")
        return data["theta"], data["x"]


def init_inference(
    inferencer: Any,
    method: str,
    estimator: str,
    prior: Any,
    device: str,
    inference_kwargs: Mapping[str, Any],
) -> InferenceBackend:
    """A fresh backend of upstream's ``inference_method`` (prior: the current box)."""
    from .backends import get_backend
    from .features.embedding import learned_features

    name = backend_name(method)
    _require_space(inferencer, "init_inference")
    cls = get_backend(name)
    device = sbi_device(inferencer, device)
    options, embedding = estimator_arguments(name, inference_kwargs)
    embedding, options = learned_features(
        inferencer.features, cls, inferencer.x_o.shape[1], embedding, options or None
    )
    kwargs = {"estimator": estimator, "estimator_options": options, "embedding_net": embedding}
    backend = cls(
        inferencer.space.prior(device), device, **{k: v for k, v in kwargs.items() if v}
    )
    inferencer.inference = backend
    return backend


def _check_backend(inference: Any) -> InferenceBackend:
    if not isinstance(inference, InferenceBackend):
        raise TypeError(
            f"inference: expected the object returned by init_inference(), got {inference!r}"
        )
    return inference


def train(inferencer: Any, inference: Any, theta: Any, x: Any, args: tuple, kwargs: dict) -> Any:
    """Upstream's ``train(inference, theta, x, proposal, **train_kwargs)``."""
    from .simulation import apply_invalid

    backend = _check_backend(inference)
    proposal = args[0] if args else None
    if len(args) > 1:
        raise TypeError(f"train: expected at most one extra argument (a proposal), got {args}")
    if backend is not inferencer.backend:
        # a fresh backend from init_inference(): it learns every round recorded so far
        inferencer.backend, inferencer._appended = backend, 0
    theta, x = add_round(inferencer, theta, x, proposal)
    backend.training.update(kwargs)
    start = 0
    for r, info in enumerate(inferencer.rounds):
        stop = start + info.n_simulations
        if r >= inferencer._appended:
            kept_theta, kept_x = apply_invalid(
                inferencer.theta[start:stop],
                inferencer.x[start:stop],
                "drop",
                None,
                inferencer.feature_names,
                reference=inferencer.x,
            )
            if len(kept_theta) == 0:
                raise RuntimeError(f"round {r + 1}: every simulation gave NaN/inf features")
            backend.append_simulations(
                inferencer.space.to_torch(kept_theta),
                inferencer.x_to_torch(kept_x),
                inferencer._proposals[r],
            )
        start = stop
    inferencer._appended = len(inferencer.rounds)
    backend.train()
    return backend


def build_posterior(inferencer: Any, inference: Any, kwargs: dict) -> tuple[Any, Any]:
    """Upstream's ``build_posterior(inference, **posterior_kwargs)`` → ``(inference, posterior)``.

    The posterior's default x is the observation.
    """
    backend = _check_backend(inference)
    if not inferencer.rounds:
        raise RuntimeError("build_posterior: nothing trained yet; call train() first")
    backend.sampling.update(kwargs)
    inferencer.backend = backend
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
    """One upstream round: data (given or simulated from ``proposal``), training, posterior."""
    _check_backend(inference)
    if theta is None:
        if n_samples is None:
            raise ProblemError("infer_step: give n_samples, or theta and x")
        theta = generate_training_data(inferencer, n_samples, proposal)
    if x is None:
        if n_samples is None:
            raise ProblemError("infer_step: give n_samples, or theta and x")
        x = simulate_theta(inferencer, theta)
    train(inferencer, inference, theta, x, args or (proposal,), dict(train_kwargs or {}))
    return build_posterior(inferencer, inference, dict(posterior_kwargs or {}))[1]


def infer(
    inferencer: Any, n_samples: int | None, bounds: dict, legacy: dict, ours: dict
) -> Any:
    """``infer`` with upstream's options (or without ``n_samples``), onto ours."""
    ours = {k: v for k, v in ours.items() if k != "n_samples"}
    theta, x = legacy.pop("theta", None), legacy.pop("x", None)
    if "inference_method" in legacy:
        ours["backend"] = backend_name(legacy.pop("inference_method"))
    elif inferencer.backend is not None and not ours["restart"] and not bounds:
        ours["backend"] = type(inferencer.backend)  # infer() after the step API continues it
    if "density_estimator_model" in legacy:
        ours["estimator"] = legacy.pop("density_estimator_model")
    if "inference_kwargs" in legacy:
        options, embedding = estimator_arguments(ours["backend"], legacy.pop("inference_kwargs"))
        ours["estimator_options"] = {**(ours.get("estimator_options") or {}), **options}
        if embedding is not None:
            ours["embedding_net"] = embedding
    if "train_kwargs" in legacy:
        ours["training"] = {**(ours.get("training") or {}), **legacy.pop("train_kwargs")}
    if "posterior_kwargs" in legacy:
        ours["sampling"] = {**(ours.get("sampling") or {}), **legacy.pop("posterior_kwargs")}
    if "sbi_device" in legacy:
        ours["device"] = sbi_device(inferencer, legacy.pop("sbi_device"))
    if bounds:
        inferencer.params = dict(bounds)
    continuing = inferencer.posterior is not None and not ours["restart"]
    n_rounds = ours.pop("n_rounds")
    if theta is not None or x is not None:
        if theta is None or x is None:
            raise ProblemError("theta, x: give both (the parameters and their features)")
        if not continuing:
            # upstream: given data train the first round; later rounds simulate as many
            inferencer.set_bounds(restart=ours["restart"] or bool(bounds), **bounds)
            theta, _ = add_round(inferencer, theta, x, None)
            _train_ours(inferencer, ours)
            n_rounds -= 1
            n_samples = n_samples or len(theta)
            if n_rounds == 0:
                return inferencer.posterior
            bounds, ours["restart"] = {}, False
        else:
            warnings.warn(
                "theta, x: ignored, since a posterior exists and the next round draws from it "
                "(as upstream does); pass restart=True to train on them from the prior",
                UserWarning,
                stacklevel=3,
            )
    if n_samples is None:
        if not continuing or not inferencer.rounds:
            raise ProblemError(
                "n_samples: required (simulations per round) unless theta= and x= are given or "
                "a posterior exists to continue from"
            )
        n_samples = inferencer.n_samples or inferencer.rounds[-1].n_simulations
    inferencer.n_samples = int(n_samples)
    backend = ours.pop("backend")
    return inferencer.infer(n_samples, backend, n_rounds=n_rounds, **ours, **bounds)


def _train_ours(inferencer: Any, ours: dict) -> None:
    keys = ("device", "threads", "invalid", "fill_value", "seed", "estimator",
            "estimator_options", "embedding_net", "training", "sampling")
    inferencer.train(ours["backend"], **{k: ours[k] for k in keys if k in ours})
    inferencer.build_posterior(threads=ours.get("threads", 1))


def load_posterior(inferencer: Any, f: Any) -> Any:
    """Read a saved inference of the same problem into ``inferencer``."""
    loaded = type(inferencer).load(
        f, features=inferencer.features, namespace=dict(inferencer.problem.namespace)
    )
    if loaded.problem.fingerprint() != inferencer.problem.fingerprint():
        raise ProblemError(
            f"load_posterior: {os.fspath(f)!r} was saved for another model or other data"
        )
    for attr in ("space", "backend", "posterior", "rounds", "theta", "x", "_proposals",
                 "_appended"):
        setattr(inferencer, attr, getattr(loaded, attr))
    return inferencer.posterior


# ---------------------------------------------------------------------- results
def sample(inferencer: Any, shape: Any, posterior: Any = None, **kwargs: Any) -> np.ndarray:
    """Upstream's ``sample(shape)``: an array ``shape + (d,)`` of SI floats."""
    from .results import draw

    try:
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ProblemError(
            f"shape: expected an int (our dict of quantities) or a shape tuple such as "
            f"(10_000,) (upstream's array), got {shape!r}"
        ) from None
    allowed = ("seed", "threads")
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise unknown_keywords("sample", unknown, ["posterior", *allowed])
    post = posterior if posterior is not None else inferencer.posterior
    if post is None:
        raise RuntimeError("no posterior yet: call infer() first")
    n = math.prod(shape)
    samples = draw(post, inferencer.space, n, kwargs.get("seed"), kwargs.get("threads", 1))
    samples = samples.reshape(*shape, inferencer.space.dim)
    inferencer.samples = samples
    return samples


def conditional_corrcoeff(inferencer: Any, condition: Any, density: Any, limits: Any,
                          subset: Any, kwargs: Mapping[str, Any]) -> np.ndarray:
    """Our conditional correlation, averaged over condition rows; ``subset`` picks rows/cols."""
    from .plotting import conditional_corrcoef
    from .upstream_plots import condition_rows, subset_index

    inferencer._require_posterior()
    unknown = [k for k in kwargs if k != "resolution"]
    if unknown:
        raise unknown_keywords("conditional_corrcoeff", unknown, ["resolution", "density"])
    rows = condition_rows(inferencer, condition)
    matrix = np.mean(
        [
            conditional_corrcoef(
                density or inferencer.posterior, inferencer.space, row, limits=limits, **kwargs
            )
            for row in rows
        ],
        axis=0,
    )
    index = subset_index(inferencer, subset)
    return matrix if index is None else matrix[np.ix_(index, index)]


def is_upstream_pairplot(first: Any, kwargs: Mapping[str, Any]) -> bool:
    """Whether a ``pairplot`` call is in upstream's form (samples array or its keywords)."""
    if first is not None and not isinstance(first, int | np.integer):
        return True
    return any(k not in PAIRPLOT_OURS for k in kwargs)


def is_upstream_traces(kwargs: Mapping[str, Any]) -> bool:
    """Whether a ``generate_traces`` call uses none of our keywords (upstream's meaning)."""
    return not any(k in TRACES_OURS for k in kwargs)


def generate_traces(inferencer: Any, n_samples: int = 1, posterior: Any = None,
                    output_var: Any = None, param_init: Any = None, level: int = 0) -> Any:
    """Upstream's ``generate_traces``: one simulation at the mean of ``n_samples`` draws.

    Returns a Quantity ``(n_traces, n_steps)`` for one state variable; for several outputs a
    dict (spikes: a list of spike-time arrays, one per trace).
    """
    from dataclasses import replace

    from .predictive import simulate_outputs
    from .results import draw

    if inferencer.space is None:
        raise RuntimeError("no parameter space yet: call infer() (or set_bounds()) first")
    post = posterior if posterior is not None else inferencer.posterior
    if post is None:
        raise RuntimeError("no posterior yet: call infer() first")
    _check_count("n_samples", n_samples)
    theta = draw(post, inferencer.space, n_samples).mean(axis=0, keepdims=True)
    variables = list(inferencer.problem.outputs) if output_var is None else output_var
    variables = [variables] if isinstance(variables, str) else list(variables)
    problem = inferencer.problem
    if param_init:
        problem = replace(problem, param_init={**problem.param_init, **_initial_values(
            inferencer, param_init)})
    out = simulate_outputs(
        problem, inferencer.space.names, theta, variables=variables, target=inferencer.target
    )
    traces = {var: value[0] for var, value in out.items()}
    if len(variables) == 1 and variables[0] != SPIKES:
        return traces[variables[0]]
    return traces


def _initial_values(inferencer: Any, param_init: Mapping[str, Any]) -> dict[str, Any]:
    from .problem import _check_init_expression

    eqs = inferencer.problem.equations
    out: dict[str, Any] = {}
    for name, value in param_init.items():
        if name not in eqs.names:
            raise ProblemError(f"param_init: {name!r} is not a variable of the model")
        if isinstance(value, str):
            names = _check_init_expression(
                name, value, eqs, inferencer.problem.input_units, inferencer.problem.namespace
            )
            if names - set(inferencer.problem.namespace):
                raise ProblemError(f"param_init[{name!r}]: {value!r} uses unknown names")
            out[name] = value
        elif get_dimensions(value) != eqs[name].dim:
            raise ProblemError(f"param_init[{name!r}]: expected units of {eqs[name].dim}")
        else:
            out[name] = float(value)
    return out
