"""Optional dependencies, imported on first use with an error that says why and what to do.

The core (Brian 2, sbi, torch) needs none of them. Each entry of :data:`EXTRAS` names the
``pip`` extra that installs a package and what limits it has; :func:`require` imports the
package (or one of its submodules) and turns any failure to import it, a missing package as much
as one that is installed but breaks on this numpy, into an :class:`OptionalDependencyError`
that names the feature which asked for it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["EXTRAS", "OptionalDependencyError", "available", "loaded", "require"]

#: Top-level package -> (pip extra, what else the user should know).
EXTRAS: dict[str, tuple[str, str]] = {
    "brian2modelfitting": (
        "fitters",
        "brian2modelfitting 0.4 (its only release) imports only with numpy < 1.24: it does "
        "`from numpy import NaN` (removed in numpy 2) and its NevergradOptimizer needs "
        "nevergrad 0.3, which uses `np.int` (removed in numpy 1.24). Install the pinned stack "
        "(`pip install -c constraints.txt 'brian2modelfitting-sbi[fitters]'`, numpy 1.23.5, "
        "Python 3.11) or keep numpy 2 and use the rest of the package without it",
    ),
    "nevergrad": (
        "fitters",
        "nevergrad 0.3 (the release brian2modelfitting 0.4 needs) uses `np.int` and so imports "
        "only with numpy < 1.24; see the pinned stack in constraints.txt",
    ),
    "pynwb": ("nwb", "pynwb reads Neurodata Without Borders (.nwb) files"),
    "neo": ("neo", "Neo reads ABF and the other electrophysiology formats it knows"),
    "efel": ("efel", "eFEL computes the electrophysiology features of FeatureMetric"),
    "arviz": ("arviz", "ArviZ holds the exported posterior samples"),
}


class OptionalDependencyError(ImportError):
    """An optional dependency is missing or cannot be imported in this environment."""


def require(name: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or raise an error that says why it is needed.

    Parameters
    ----------
    name : str
        Module to import, e.g. ``"brian2modelfitting.metric"``.
    purpose : str
        What needs it, for the message (e.g. ``"Inferencer.from_fitter"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    OptionalDependencyError
        If the import fails for any reason (not installed, or broken by this numpy).
    """
    top = name.partition(".")[0]
    try:
        return importlib.import_module(name)
    except Exception as exc:  # an installed package can fail with AttributeError etc.
        extra, note = EXTRAS.get(top, (None, ""))
        import numpy as np

        reason = (
            f"it is installed but fails to import here (numpy {np.__version__}): "
            f"{type(exc).__name__}: {exc}"
            if _is_installed(top)
            else "it is not installed"
        )
        todo = f"; install it with `pip install 'brian2modelfitting-sbi[{extra}]'`" if extra else ""
        message = f"{purpose} needs {top}, but {reason}{todo}."
        if note:
            message += f" Note: {note}."
        raise OptionalDependencyError(message) from exc


def available(name: str) -> bool:
    """Whether :func:`require` would succeed for ``name`` (imports it to find out)."""
    try:
        require(name, "a check")
    except OptionalDependencyError:
        return False
    return True


def loaded(name: str) -> ModuleType | None:
    """The module ``name`` if something has imported it already, else None (imports nothing).

    Type checks against an optional package's classes use this: an object of such a class can
    only exist once its module was imported.
    """
    return sys.modules.get(name)


def _is_installed(top: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(top) is not None
    except (ImportError, ValueError):
        return False
