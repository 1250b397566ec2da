"""The file format of a saved inference: one zip, nothing unpickled on loading.

The file is a zip archive with three members:

``meta.json``
    The problem (equation text, units as base-unit exponents, dt, method, threshold, reset,
    refractory, initial values, the namespace's quantities and numbers), the parameter space,
    the backend (registry name and its :meth:`config
    <brian2modelfitting_sbi.backends.base.InferenceBackend.config>`), the feature names and
    what they record, the rounds (sizes, invalid counts, whether each was drawn from the
    prior) and the package version.
``arrays.npz``
    Inputs, observed outputs, training ``theta`` and ``x`` (all rounds) and ``x_o``; read with
    ``allow_pickle=False``.
``weights.pt``
    The backend's :meth:`state
    <brian2modelfitting_sbi.backends.base.InferenceBackend.state>` (a ``state_dict``); read
    with ``torch.load(weights_only=True)``.

:func:`save` writes the pieces of an inference; :func:`load_saved` reads them back as a
:class:`SavedInference` (plain data: arguments of the problem, bounds, rounds, backend
settings and weights), from which :meth:`Inferencer.load
<brian2modelfitting_sbi.Inferencer.load>` rebuilds the inference. No code from the file ever
runs (a pickle payload in either binary member is refused), and every member is checked
against the SHA-256 recorded at save time (:mod:`.integrity`). Features are code and are not
saved (see :class:`~brian2modelfitting_sbi.archive.saved_features.SavedFeatures`).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from brian2 import Equations, Quantity, get_unit, second
from brian2.units.fundamentalunits import get_dimensions

from ..backends import get_backend, list_backends
from ..backends.ensemble import member_kind
from ..errors import Brian2SbiError, ProblemError, SavedFileError
from ..prior_dists import rebuild
from ..priors import ParameterSpace
from ..problem import SPIKES, Problem
from ..simulation import Recording
from ..simulation.measurement import MeasurementNoise, MeasurementPlan, argument_from_json
from .codec import (
    dims_from_json,
    dims_json,
    problem_meta,
    value_from_json,
)
from .integrity import (
    READ_ERRORS,
    check_path,
    check_save_path,
    check_unsaved,
    checksums,
    read_member,
    verify_member,
)

FORMAT = "brian2modelfitting-sbi/inference"
VERSION = 1
_MEMBERS = ("meta.json", "arrays.npz", "weights.pt")


@dataclass(frozen=True)
class SavedRoundData:
    """One saved round: its arrays, invalid counts and where ``theta`` came from."""

    theta: np.ndarray
    x: np.ndarray
    n_invalid: int
    invalid_ranges: dict[str, tuple[Quantity, Quantity]]
    from_prior: bool


@dataclass(frozen=True)
class SavedInference:
    """What a saved file holds, decoded (see :func:`load_saved`)."""

    problem_arguments: dict[str, Any]
    fingerprint: str
    target: str | None
    feature_names: list[str]
    recording: Recording
    x_o: np.ndarray
    bounds: dict[str, list[Any]]
    rounds: list[SavedRoundData]
    backend: dict[str, Any]
    state: dict[str, torch.Tensor]
    prior: Any = None  # the user prior (rebuilt from plain data), None for the box
    measurement_noise: dict[str, MeasurementNoise] | None = None  # the Inferencer's argument


# ---------------------------------------------------------------------- save
def backend_name(backend: Any) -> str | None:
    """The registry name of ``backend``'s class (of its members for an ensemble; None if it
    is not registered)."""
    kind = member_kind(backend)
    for name, info in list_backends().items():
        if info.available and get_backend(name) is kind:
            return name
    return None


def save(
    path: str | os.PathLike,
    *,
    problem: Problem,
    space: ParameterSpace,
    backend: Any,
    feature_names: Sequence[str],
    recording: Recording,
    provider: str,
    rounds: Sequence[Any],
    x_o: np.ndarray,
    target: str | None,
    version: str,
    skip_namespace: Sequence[str] = (),
    measurement: MeasurementPlan | None = None,
) -> None:
    """Write an inference to ``path``.

    ``rounds`` are records with ``theta``, ``x``, ``n_invalid``, ``invalid_ranges`` and
    ``from_prior``; ``backend`` must implement ``config()`` and ``state()``. ``path`` must
    name a file in an existing folder (checked first). Namespace values that cannot be stored
    (functions, ``TimedArray``...) are refused here, before anything is written, unless listed
    in ``skip_namespace`` (then loading asks for them again); so is a user prior that cannot
    be stored as plain data.
    """
    check_save_path(path)
    meta_problem, arrays = problem_meta(problem)
    check_unsaved(problem.namespace, meta_problem["namespace_not_saved"], skip_namespace)
    try:
        config, state = backend.config(), backend.state()
    except NotImplementedError as exc:
        raise SavedFileError(f"save: {exc}") from exc
    try:
        json.dumps(config)
    except TypeError as exc:
        raise SavedFileError(
            f"save: the backend configuration holds values that JSON cannot store ({exc}); "
            f"give plain numbers/strings in estimator_options, training and sampling"
        ) from exc
    embedding = getattr(backend, "embedding_net", None)
    kind = member_kind(backend)  # an ensemble's members' class
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "package_version": version,
        "problem": meta_problem,
        "space": {
            "names": list(space.names),
            "units": [dims_json(u) for u in space.units],
            "unit_names": [repr(u) for u in space.units],
            "lower": space.lower.tolist(),
            "upper": space.upper.tolist(),
            **space.saved_prior(),
        },
        "measurement_noise": None if measurement is None else measurement.to_json(),
        "backend": {
            "name": backend_name(backend),
            "class": f"{kind.__module__}:{kind.__qualname__}",
            "device": str(getattr(backend, "device", "cpu")),
            "embedding_net": None if embedding is None else type(embedding).__name__,
            **config,
        },
        "features": {
            "names": list(feature_names),
            "provider": provider,
            "recording": {
                "variables": list(recording.variables),
                "spikes": bool(recording.spikes),
                "dt": recording.dt,
            },
        },
        "rounds": [
            {
                "n_simulations": int(len(r.theta)),
                "n_invalid": int(r.n_invalid),
                "invalid_ranges": {
                    k: [float(a), float(b)] for k, (a, b) in r.invalid_ranges.items()
                },
                "proposal": "prior" if r.from_prior else "posterior",
            }
            for r in rounds
        ],
        "target": target,
    }
    theta = np.concatenate([r.theta for r in rounds]) if rounds else np.empty((0, space.dim))
    x = np.concatenate([r.x for r in rounds]) if rounds else np.empty((0, len(feature_names)))
    arrays.update(theta=theta, x=x, x_o=x_o)
    array_buf, weight_buf = io.BytesIO(), io.BytesIO()
    np.savez(array_buf, **arrays)
    torch.save(state, weight_buf)
    meta["checksums"] = checksums(
        {"arrays.npz": array_buf.getvalue(), "weights.pt": weight_buf.getvalue()}
    )
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", json.dumps(meta, indent=1))
        zf.writestr("arrays.npz", array_buf.getvalue())
        zf.writestr("weights.pt", weight_buf.getvalue())


# ---------------------------------------------------------------------- load
def read(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, dict, dict]:
    """``(meta, arrays, state_dict)`` of a saved inference, read without unpickling.

    Every member is checked (zip CRC-32, then the SHA-256 recorded at save time); any damage
    is a :class:`~brian2modelfitting_sbi.errors.SavedFileError` naming the member.
    """
    where = check_path(path)
    try:
        zf = zipfile.ZipFile(where)
    except READ_ERRORS as exc:
        raise SavedFileError(f"{where}: not a saved inference ({exc})") from exc
    with zf:
        missing = [m for m in _MEMBERS if m not in zf.namelist()]
        if missing:
            raise SavedFileError(f"{where}: not a saved inference (missing {missing})")
        try:
            meta = json.loads(read_member(zf, "meta.json", where).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SavedFileError(f"meta.json: not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SavedFileError(f"{where}: not a {FORMAT} file")
        if meta.get("version") != VERSION:
            raise SavedFileError(
                f"{where}: format version {meta.get('version')!r}, this package "
                f"reads version {VERSION}"
            )
        raw_arrays = read_member(zf, "arrays.npz", where)
        try:
            with np.load(io.BytesIO(raw_arrays), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (ValueError, *READ_ERRORS) as exc:
            raise SavedFileError(
                f"arrays.npz: refused ({exc}); saved inferences hold plain numeric arrays only"
            ) from exc
        verify_member("arrays.npz", raw_arrays, meta, where)
        raw_weights = read_member(zf, "weights.pt", where)
        try:
            state = torch.load(io.BytesIO(raw_weights), map_location=device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError...
            first = (str(exc).splitlines() or [""])[0]
            raise SavedFileError(
                f"weights.pt: refused ({type(exc).__name__}: {first}); saved "
                f"inferences hold a plain state dict of tensors only"
            ) from exc
        verify_member("weights.pt", raw_weights, meta, where)
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise SavedFileError("weights.pt: expected a state dict of tensors")
    return meta, arrays, state


def problem_arguments(
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
    eqs = Equations(pm["equations"])
    param_init = {  # string expressions (param_init={'v': 'VT'}) stay strings
        name: value if isinstance(value, str) else Quantity(float(value), dim=eqs[name].dim)
        for name, value in pm["param_init"].items()
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


def load_saved(
    path: str | os.PathLike,
    namespace: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> SavedInference:
    """Read and decode a file written by :func:`save` (nothing is unpickled or evaluated)."""
    meta, arrays, state = read(path, device)
    try:
        return _decode(meta, arrays, state, namespace)
    except Brian2SbiError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise SavedFileError(
            f"{os.fspath(path)}: malformed saved inference ({type(exc).__name__}: {exc})"
        ) from exc


def _decode(
    meta: dict, arrays: dict, state: dict, namespace: Mapping[str, Any] | None
) -> SavedInference:
    names = list(meta["features"]["names"])
    rec = meta["features"]["recording"]
    recording = Recording(tuple(rec["variables"]), bool(rec["spikes"]), rec.get("dt"))
    sm = meta["space"]
    units = [get_unit(dims_from_json(d, f"space.units[{k}]")) for k, d in enumerate(sm["units"])]
    scales = sm.get("scales") or ["linear"] * len(sm["names"])
    bounds = {name: [Quantity(lo, dim=get_dimensions(u)), Quantity(hi, dim=get_dimensions(u)), s]
              for name, u, lo, hi, s in zip(sm["names"], units, sm["lower"], sm["upper"], scales,
                                            strict=True)}
    theta, x = np.asarray(arrays["theta"], dtype=float), np.asarray(arrays["x"], dtype=float)
    sizes = [int(r["n_simulations"]) for r in meta["rounds"]]
    if theta.shape != (sum(sizes), len(sm["names"])) or x.shape != (sum(sizes), len(names)):
        raise SavedFileError(
            f"arrays: theta {theta.shape} / x {x.shape} do not match the rounds {sizes}"
        )
    unit_of = dict(zip(sm["names"], units, strict=True))
    rounds, start = [], 0
    for k, r in enumerate(meta["rounds"]):
        stop = start + sizes[k]
        ranges = {
            n: (
                Quantity(a, dim=get_dimensions(unit_of[n])),
                Quantity(b, dim=get_dimensions(unit_of[n])),
            )
            for n, (a, b) in r.get("invalid_ranges", {}).items()
        }
        # files written before rounds recorded their proposal: round 1 came from the prior,
        # later ones from a posterior
        from_prior = r.get("proposal", "prior" if k == 0 else "posterior") == "prior"
        rounds.append(
            SavedRoundData(
                theta[start:stop], x[start:stop], int(r["n_invalid"]), ranges, from_prior
            )
        )
        start = stop
    return SavedInference(
        problem_arguments=problem_arguments(meta, arrays, namespace),
        fingerprint=meta["problem"]["fingerprint"],
        target=meta.get("target"),
        feature_names=names,
        recording=recording,
        x_o=np.asarray(arrays["x_o"], dtype=float),
        bounds=bounds,
        rounds=rounds,
        backend=dict(meta["backend"]),
        state=state,
        prior=None if sm.get("prior") is None else rebuild(sm["prior"]),
        measurement_noise=argument_from_json(meta["measurement_noise"])
        if meta.get("measurement_noise") else None,
    )
