"""Save an inference to one file and load it back, without unpickling anything.

The file is a zip archive with three members:

``meta.json``
    The problem (equation text, units as base-unit exponents, dt, method, threshold, reset,
    refractory, initial values, the namespace's quantities and numbers), the parameter space,
    the backend (registry name and configuration), the feature names and what they record,
    the rounds and the package version.
``arrays.npz``
    Inputs, observed outputs, training ``theta`` and ``x`` (all rounds) and ``x_o``; read with
    ``allow_pickle=False``.
``weights.pt``
    The trained network's ``state_dict``; read with ``torch.load(weights_only=True)``.

Loading rebuilds the network by calling the backend's builder on the saved training data and
then loads the weights into it, so no code from the file ever runs (a pickle payload in either
binary member is refused). Features are code and are not saved: the loaded Inferencer knows
their names and the observed features, which is all that sampling, plots, MAP, summaries and
posterior predictive traces need. Pass ``features=`` to :func:`load` to simulate more
(continue inference, calibrate).
"""

from __future__ import annotations

import io
import json
import numbers
import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from brian2 import Quantity, get_unit, second
from brian2.equations.equations import (
    BOOLEAN,
    DIFFERENTIAL_EQUATION,
    INTEGER,
    SUBEXPRESSION,
)
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions, get_or_create_dimension

from .features.base import FeatureProvider
from .problem import SPIKES, Problem, ProblemError
from .simulation import Recording, SimulationResult

FORMAT = "brian2modelfitting-sbi/inference"
VERSION = 1
_MEMBERS = ("meta.json", "arrays.npz", "weights.pt")
_BASE_UNITS = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SavedFileError(ValueError):
    """A saved inference is malformed, of another format, or holds something unsafe."""


# ---------------------------------------------------------------------- units and values
def dims_json(dim: Any) -> list[float]:
    """The 7 SI base exponents of a dimension (or of a quantity's dimension)."""
    d = get_dimensions(dim)
    return [0.0] * 7 if d is DIMENSIONLESS else [float(e) for e in d._dims]


def dims_from_json(value: Any, where: str) -> Any:
    """A Brian dimension from its 7 base exponents (validated, nothing evaluated)."""
    if (
        not isinstance(value, list)
        or len(value) != 7
        or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in value)
    ):
        raise SavedFileError(f"{where}: expected 7 unit exponents, got {value!r}")
    exps = [int(e) if float(e).is_integer() else float(e) for e in value]
    return get_or_create_dimension(exps)


def unit_code(dim: Any) -> str:
    """Unit text that ``Equations`` parses: a named unit, else a product of base units."""
    d = get_dimensions(dim)
    if d is DIMENSIONLESS:
        return "1"
    name = repr(get_unit(d))
    if _IDENTIFIER.match(name):
        return name
    parts = []
    for base, exp in zip(_BASE_UNITS, d._dims, strict=True):
        if exp:
            e = int(exp) if float(exp).is_integer() else float(exp)
            parts.append(base if e == 1 else f"{base} ** {e}")
    return " * ".join(parts)


def equations_text(equations: Any) -> str:
    """Model equations as text that re-parses to the same equations (unlike ``str``)."""
    lines = []
    for eq in equations.values():
        if eq.var_type == BOOLEAN:
            unit = "boolean"
        elif eq.var_type == INTEGER:
            unit = "integer"
        else:
            unit = unit_code(eq.dim)
        flags = f" ({', '.join(eq.flags)})" if eq.flags else ""
        if eq.type == DIFFERENTIAL_EQUATION:
            lines.append(f"d{eq.varname}/dt = {eq.expr} : {unit}{flags}")
        elif eq.type == SUBEXPRESSION:
            lines.append(f"{eq.varname} = {eq.expr} : {unit}{flags}")
        else:
            lines.append(f"{eq.varname} : {unit}{flags}")
    return "\n".join(lines)


def value_json(value: Any) -> dict[str, Any] | None:
    """A namespace value, ``refractory`` etc. as JSON (None if it cannot be stored)."""
    if value is None or isinstance(value, bool):
        return {"kind": "literal", "value": value}
    if isinstance(value, str):
        return {"kind": "literal", "value": value}
    if isinstance(value, Quantity) or isinstance(value, numbers.Number | np.ndarray):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            return None
        return {
            "kind": "quantity",
            "value": arr.astype(float).tolist(),
            "dims": dims_json(value),
            "integer": arr.dtype.kind in "biu" and not isinstance(value, Quantity),
        }
    return None


def value_from_json(data: Any, where: str) -> Any:
    """Inverse of :func:`value_json`."""
    if not isinstance(data, dict) or data.get("kind") not in ("literal", "quantity"):
        raise SavedFileError(f"{where}: malformed value {data!r}")
    if data["kind"] == "literal":
        value = data.get("value")
        if value is not None and not isinstance(value, bool | str):
            raise SavedFileError(f"{where}: malformed literal {value!r}")
        return value
    raw = np.asarray(data.get("value"), dtype=float)
    dim = dims_from_json(data.get("dims"), where)
    if dim is DIMENSIONLESS:
        if data.get("integer"):
            raw = raw.astype(int)
        return raw.item() if raw.ndim == 0 else raw
    return Quantity(raw, dim=dim)


# ---------------------------------------------------------------------- features stand-in
class SavedFeatures(FeatureProvider):
    """Stands in for the features of a loaded inference: names and observed values only.

    Simulated data cannot be summarized without the feature code; :meth:`compute` explains
    how to pass it (``Inferencer.load(path, features=...)``).
    """

    def __init__(self, names: list[str], recording: Recording, x_o: np.ndarray) -> None:
        self._names = list(names)
        self._recording = recording
        self._x_o = np.asarray(x_o, dtype=float).reshape(1, -1)
        self._problem: Problem | None = None

    def recording(self) -> Recording:
        return self._recording

    def names(self, n_traces: int) -> list[str]:
        return list(self._names)

    def bind(self, problem: Problem) -> FeatureProvider:
        self._problem = problem
        return self

    def _is_observed(self, result: SimulationResult) -> bool:
        problem = self._problem
        if problem is None or result.n_samples != 1:
            return False
        for var in problem.trace_outputs:
            if var in result.traces and not np.array_equal(
                result.traces[var][0], problem.outputs[var]
            ):
                return False
        return True

    def compute(self, result: SimulationResult) -> np.ndarray:
        if self._is_observed(result):
            return self._x_o.copy()
        raise RuntimeError(
            "features: this Inferencer was loaded from a file, which holds the feature names "
            "and values but not the feature code; load it with "
            "Inferencer.load(path, features=...) to simulate more"
        )


# ---------------------------------------------------------------------- save
def _backend_name(backend: Any) -> str | None:
    from .backends import get_backend, list_backends

    for name, info in list_backends().items():
        if info.available and get_backend(name) is type(backend):
            return name
    return None


def _problem_meta(problem: Problem) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    for name, arr in problem.inputs.items():
        arrays[f"input/{name}"] = np.asarray(arr, dtype=float)
    for name in problem.trace_outputs:
        arrays[f"output/{name}"] = np.asarray(problem.outputs[name], dtype=float)
    if problem.has_spikes:
        for k, train in enumerate(problem.outputs[SPIKES]):
            arrays[f"spikes/{k}"] = np.asarray(train, dtype=float)
    namespace, skipped = {}, []
    for name, value in problem.namespace.items():
        encoded = value_json(value)
        if encoded is None:
            skipped.append(name)
        else:
            namespace[name] = encoded
    refractory = value_json(problem.refractory)
    if refractory is None:
        raise SavedFileError(f"refractory: cannot store {problem.refractory!r}")
    meta = {
        "equations": equations_text(problem.equations),
        "inputs": {k: dims_json(u) for k, u in problem.input_units.items()},
        "outputs": {k: dims_json(u) for k, u in problem.output_units.items()},
        "dt": problem.dt,
        "method": problem.method,
        "threshold": problem.threshold,
        "reset": problem.reset,
        "refractory": refractory,
        "param_init": dict(problem.param_init),
        "namespace": namespace,
        "namespace_not_saved": skipped,
        "fingerprint": problem.fingerprint(),
    }
    return meta, arrays


def save(inferencer: Any, path: str | os.PathLike) -> None:
    """Write ``inferencer`` (problem, space, backend, data and weights) to ``path``."""
    from . import __version__

    backend = inferencer.backend
    net = getattr(backend, "density_estimator", None)
    if inferencer.posterior is None or not isinstance(net, torch.nn.Module):
        raise RuntimeError("save: nothing trained yet; call infer() (or train()) first")
    for attr in ("estimator", "estimator_options", "training", "sampling", "_builder"):
        if not hasattr(backend, attr):
            raise SavedFileError(
                f"save: the backend {type(backend).__name__} does not expose {attr!r}; saving "
                f"supports backends built on brian2modelfitting_sbi.backends._sbi.SbiBackend"
            )
    problem_meta, arrays = _problem_meta(inferencer.problem)
    space = inferencer.space
    rec = inferencer.features.recording()
    config = {
        "estimator": backend.estimator,
        "estimator_options": backend.estimator_options,
        "training": backend.training,
        "sampling": backend.sampling,
    }
    try:
        json.dumps(config)
    except TypeError as exc:
        raise SavedFileError(
            f"save: the backend configuration holds values that JSON cannot store ({exc}); "
            f"give plain numbers/strings in estimator_options, training and sampling"
        ) from exc
    embedding = getattr(backend, "embedding_net", None)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "package_version": __version__,
        "problem": problem_meta,
        "space": {
            "names": list(space.names),
            "units": [dims_json(u) for u in space.units],
            "unit_names": [repr(u) for u in space.units],
            "lower": space.lower.tolist(),
            "upper": space.upper.tolist(),
            **space.saved_prior(),
        },
        "measurement_noise": (
            None if getattr(inferencer, "measurement", None) is None
            else inferencer.measurement.to_json()
        ),
        "backend": {
            "name": _backend_name(backend),
            "class": f"{type(backend).__module__}:{type(backend).__qualname__}",
            "device": str(getattr(backend, "device", "cpu")),
            "embedding_net": None if embedding is None else type(embedding).__name__,
            **config,
        },
        "features": {
            "names": list(inferencer.feature_names),
            "provider": type(inferencer.features).__name__,
            "recording": {
                "variables": list(rec.variables),
                "spikes": bool(rec.spikes),
                "dt": rec.dt,
            },
        },
        "rounds": [
            {
                "n_simulations": int(r.n_simulations),
                "n_invalid": int(r.n_invalid),
                "invalid_ranges": {
                    k: [float(a), float(b)] for k, (a, b) in r.invalid_ranges.items()
                },
            }
            for r in inferencer.rounds
        ],
        "target": inferencer.target,
    }
    arrays.update(theta=inferencer.theta, x=inferencer.x, x_o=inferencer.x_o)
    array_buf, weight_buf = io.BytesIO(), io.BytesIO()
    np.savez(array_buf, **arrays)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save(state, weight_buf)
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", json.dumps(meta, indent=1))
        zf.writestr("arrays.npz", array_buf.getvalue())
        zf.writestr("weights.pt", weight_buf.getvalue())


# ---------------------------------------------------------------------- load
def read(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, dict, dict]:
    """``(meta, arrays, state_dict)`` of a saved inference, read without unpickling."""
    try:
        zf = zipfile.ZipFile(os.fspath(path))
    except (OSError, zipfile.BadZipFile) as exc:
        raise SavedFileError(f"{os.fspath(path)}: not a saved inference ({exc})") from exc
    with zf:
        missing = [m for m in _MEMBERS if m not in zf.namelist()]
        if missing:
            raise SavedFileError(f"{os.fspath(path)}: not a saved inference (missing {missing})")
        try:
            meta = json.loads(zf.read("meta.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SavedFileError(f"meta.json: not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SavedFileError(f"{os.fspath(path)}: not a {FORMAT} file")
        if meta.get("version") != VERSION:
            raise SavedFileError(
                f"{os.fspath(path)}: format version {meta.get('version')!r}, this package "
                f"reads version {VERSION}"
            )
        try:
            with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except ValueError as exc:
            raise SavedFileError(
                f"arrays.npz: refused ({exc}); saved inferences hold plain numeric arrays only"
            ) from exc
        try:
            state = torch.load(
                io.BytesIO(zf.read("weights.pt")), map_location=device, weights_only=True
            )
        except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError...
            raise SavedFileError(
                f"weights.pt: refused ({type(exc).__name__}: {str(exc).splitlines()[0]}); saved "
                f"inferences hold a plain state dict of tensors only"
            ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise SavedFileError("weights.pt: expected a state dict of tensors")
    return meta, arrays, state


def _problem_arguments(
    meta: dict, arrays: dict, namespace: Mapping[str, Any] | None
) -> dict[str, Any]:
    pm = meta["problem"]
    inputs = {
        name: Quantity(arrays[f"input/{name}"], dim=dims_from_json(d, f"inputs[{name!r}]"))
        for name, d in pm["inputs"].items()
    }
    outputs: dict[str, Any] = {}
    for name, d in pm["outputs"].items():
        if name == SPIKES:
            n = len([k for k in arrays if k.startswith("spikes/")])
            outputs[name] = [Quantity(arrays[f"spikes/{k}"], dim=second.dim) for k in range(n)]
        else:
            outputs[name] = Quantity(
                arrays[f"output/{name}"], dim=dims_from_json(d, f"outputs[{name!r}]")
            )
    ns = {k: value_from_json(v, f"namespace[{k!r}]") for k, v in pm["namespace"].items()}
    ns.update(namespace or {})
    absent = [k for k in pm.get("namespace_not_saved", []) if k not in ns]
    if absent:
        raise ProblemError(
            f"namespace: the saved model uses {absent}, which could not be saved (functions or "
            f"other objects); pass them again with load(path, namespace={{...}})"
        )
    from brian2 import Equations

    eqs = Equations(pm["equations"])
    param_init = {
        name: Quantity(float(value), dim=eqs[name].dim) for name, value in pm["param_init"].items()
    }
    return {
        "model": eqs,
        "input": inputs,
        "output": outputs,
        "dt": Quantity(float(pm["dt"]), dim=second.dim),
        "method": pm["method"],
        "threshold": pm["threshold"],
        "reset": pm["reset"],
        "refractory": value_from_json(pm["refractory"], "refractory"),
        "param_init": param_init,
        "namespace": ns,
    }


def _backend_class(meta: dict, backend: Any) -> type:
    from .backends import get_backend

    if backend is not None:
        return get_backend(backend)
    name = meta["backend"].get("name")
    if name is None:
        raise ProblemError(
            f"backend: the saved backend {meta['backend'].get('class')} is not a registered "
            f"backend; pass its class with load(path, backend=...)"
        )
    return get_backend(name)


def load(
    cls: type,
    path: str | os.PathLike,
    *,
    features: Any = None,
    namespace: Mapping[str, Any] | None = None,
    backend: Any = None,
    embedding_net: torch.nn.Module | None = None,
    device: str = "cpu",
) -> Any:
    """Rebuild an Inferencer of class ``cls`` from a file written by :func:`save`.

    Parameters
    ----------
    cls : type
        The Inferencer class to build.
    path : str or path-like
        The saved file.
    features : optional
        The feature code (same as given to the Inferencer); needed only to simulate more.
        It must reproduce the saved observed features.
    namespace : dict, optional
        Values for names of the model that could not be saved (functions...), or overrides.
    backend : str or class, optional
        The backend class, if it was not a registered one.
    embedding_net : torch.nn.Module, optional
        A fresh module of the same architecture, if the saved network had an embedding net
        that ``features`` does not provide.
    device : str
        Torch device of the loaded network.
    """
    meta, arrays, state = read(path, device)
    try:
        return _rebuild(
            cls, meta, arrays, state, features, namespace, backend, embedding_net, device
        )
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise SavedFileError(
            f"{os.fspath(path)}: malformed saved inference ({type(exc).__name__}: {exc})"
        ) from exc


def _rebuild(
    cls: type,
    meta: dict,
    arrays: dict,
    state: dict,
    features: Any,
    namespace: Mapping[str, Any] | None,
    backend: Any,
    embedding_net: torch.nn.Module | None,
    device: str,
) -> Any:
    """The Inferencer of a read file (see :func:`load`)."""
    from .backends._sbi import SbiBackend
    from .priors import ParameterSpace

    names = meta["features"]["names"]
    x_o = arrays["x_o"]
    rec = meta["features"]["recording"]
    recording = Recording(tuple(rec["variables"]), bool(rec["spikes"]), rec.get("dt"))
    provider = features if features is not None else SavedFeatures(names, recording, x_o)
    args = _problem_arguments(meta, arrays, namespace)
    if meta.get("measurement_noise"):
        from .simulation.measurement import argument_from_json

        args["measurement_noise"] = argument_from_json(meta["measurement_noise"])
    inferencer = cls(features=provider, target=meta.get("target"), **args)
    if features is not None:
        if list(inferencer.feature_names) != list(names) or not np.allclose(
            inferencer.x_o, x_o, rtol=1e-6, atol=0, equal_nan=True
        ):
            raise ProblemError(
                "features: the given features do not reproduce the saved observed features "
                f"(saved: {names}); pass the features the inference was run with"
            )
    if namespace is None and inferencer.problem.fingerprint() != meta["problem"]["fingerprint"]:
        warnings.warn(
            "load: the rebuilt problem differs from the saved one (fingerprint mismatch)",
            RuntimeWarning,
            stacklevel=3,
        )
    # ---- parameter space
    sm = meta["space"]
    units = [get_unit(dims_from_json(d, f"space.units[{k}]")) for k, d in enumerate(sm["units"])]
    scales = sm.get("scales") or ["linear"] * len(sm["names"])
    bounds = {
        name: [Quantity(lo, dim=get_dimensions(u)), Quantity(hi, dim=get_dimensions(u)), scale]
        for name, u, lo, hi, scale in zip(
            sm["names"], units, sm["lower"], sm["upper"], scales, strict=True
        )
    }
    prior = None
    if sm.get("prior") is not None:
        from .prior_dists import rebuild

        prior = rebuild(sm["prior"])
    space = inferencer.set_bounds(prior=prior, **bounds)
    if not isinstance(space, ParameterSpace) or list(space.names) != list(sm["names"]):
        raise SavedFileError(f"space: saved parameters {sm['names']} do not match the model")
    # ---- data and rounds
    theta, x = np.asarray(arrays["theta"], dtype=float), np.asarray(arrays["x"], dtype=float)
    sizes = [int(r["n_simulations"]) for r in meta["rounds"]]
    if theta.shape != (sum(sizes), space.dim) or x.shape != (sum(sizes), len(names)):
        raise SavedFileError(
            f"arrays: theta {theta.shape} / x {x.shape} do not match the rounds {sizes}"
        )
    from .inferencer import Round

    inferencer.rounds = [
        Round(
            k + 1,
            sizes[k],
            int(r["n_invalid"]),
            {
                n: (
                    Quantity(a, dim=get_dimensions(units[space.names.index(n)])),
                    Quantity(b, dim=get_dimensions(units[space.names.index(n)])),
                )
                for n, (a, b) in r.get("invalid_ranges", {}).items()
            },
        )
        for k, r in enumerate(meta["rounds"])
    ]
    inferencer.theta, inferencer.x = theta, x
    # ---- backend and network
    bm = meta["backend"]
    backend_cls = _backend_class(meta, backend)
    if not issubclass(backend_cls, SbiBackend):
        raise SavedFileError(f"backend: {backend_cls.__name__} is not an SbiBackend")
    if bm.get("embedding_net") is not None and embedding_net is None:
        if features is None:
            raise ProblemError(
                f"embedding_net: the saved network has an embedding net ({bm['embedding_net']}); "
                f"pass features= (whose default embedding it was) or embedding_net= (a fresh "
                f"module of the same architecture)"
            )
        from .features.embedding import learned_features

        embedding_net, _ = learned_features(provider, backend_cls, len(names), None, None)
    trained = backend_cls(
        space.prior(device),
        device,
        estimator=bm["estimator"],
        estimator_options=bm["estimator_options"],
        embedding_net=embedding_net,
        training=bm["training"],
        sampling=bm["sampling"],
    )
    finite = np.all(np.isfinite(x), axis=1)
    if finite.sum() < 2:
        raise SavedFileError("arrays: fewer than 2 valid training simulations to rebuild from")
    theta_t = space.to_torch(theta[finite])
    x_t = inferencer.x_to_torch(x[finite])
    net = trained._builder()(theta_t, x_t)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise SavedFileError(
            f"weights.pt: the weights do not fit the rebuilt network ({exc})"
        ) from exc
    net.to(device)
    net.eval()
    trained.density_estimator = net
    trained.trainer._neural_net = net
    inferencer.backend = trained
    posterior = inferencer.build_posterior()
    # the trainer gets the saved rounds back, so that infer() can continue from here
    start = 0
    for k, size in enumerate(sizes):
        rows = slice(start, start + size)
        keep = finite[rows]
        if keep.any():
            trained.append_simulations(
                space.to_torch(theta[rows][keep]),
                inferencer.x_to_torch(x[rows][keep]),
                None if k == 0 else posterior,
            )
        start += size
    inferencer._proposals = [None] + [posterior] * (len(sizes) - 1)
    inferencer._appended = len(sizes)
    return inferencer
