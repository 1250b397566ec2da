"""Discovery of inference backends through Python entry points.

Group ``brian2modelfitting.inference_backends``: the entry point's name is the backend key
(``snpe``...), its value a backend class with a one-line ``description``. Discovery is cached
(:func:`refresh_backends` clears the cache); a backend that fails to import is reported by
:func:`list_backends` without hiding the others; two distributions claiming one name give a
warning and the first one found wins.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import ProblemError

GROUP = "brian2modelfitting.inference_backends"


@dataclass(frozen=True)
class BackendInfo:
    """One installed backend: its key, description, origin and import status."""

    name: str
    description: str
    value: str
    distribution: str | None
    error: str | None = None

    @property
    def available(self) -> bool:
        """Whether the backend class imported."""
        return self.error is None


class UnknownBackendError(ProblemError):
    """Raised for a backend name that no installed distribution provides."""


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        key = ep.name.lower()
        if key in found and found[key].value != ep.value:
            warnings.warn(
                f"inference backend {key!r} is registered twice: {found[key].value} "
                f"and {ep.value}; using the first",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        found[key] = ep
    return found


@functools.cache
def _load(key: str) -> Any:
    return _entry_points()[key].load()


def refresh_backends() -> None:
    """Forget cached discovery, e.g. after installing a plugin in a running session."""
    _entry_points.cache_clear()
    _load.cache_clear()


def list_backends() -> dict[str, BackendInfo]:
    """Installed backends by name, with a one-line description (or the import error)."""
    out = {}
    for key, ep in sorted(_entry_points().items()):
        dist = getattr(getattr(ep, "dist", None), "name", None)
        try:
            cls = _load(key)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            out[key] = BackendInfo(key, "", ep.value, dist, f"{type(exc).__name__}: {exc}")
            continue
        text = getattr(cls, "description", "") or getattr(cls, "__doc__", "") or ""
        description = text.strip().splitlines()
        out[key] = BackendInfo(key, description[0] if description else "", ep.value, dist)
    return out


def get_backend(name: str | type) -> type:
    """The backend class registered under ``name`` (case-insensitive), or a class as is."""
    if isinstance(name, type):
        return name
    if not isinstance(name, str):
        raise UnknownBackendError(f"backend: expected a backend name or class, got {name!r}")
    key = name.lower()
    eps = _entry_points()
    if key not in eps:
        installed = ", ".join(sorted(eps)) or "none"
        raise UnknownBackendError(
            f"backend: unknown inference backend {name!r}; installed backends: {installed} "
            f"(entry point group {GROUP!r})"
        )
    try:
        return _load(key)
    except Exception as exc:
        raise UnknownBackendError(
            f"backend: {name!r} is installed ({eps[key].value}) but failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
