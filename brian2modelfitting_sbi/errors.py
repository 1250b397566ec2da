"""The package's exceptions: one hierarchy under :class:`Brian2SbiError`.

* :class:`ProblemError` (also a ``ValueError``): an argument is wrong; raised before anything
  is simulated, and says which argument, what was expected and what was given.
* :class:`NotFittedError` (also a ``RuntimeError``): a call needs a step that has not run yet
  (no simulations, no trained backend, no posterior); it names the call to make first.
* :class:`NotAmortizedError` (also a ``RuntimeError``): the trained posterior cannot be reused
  for other recordings.
* :class:`SavedFileError` (also a ``ValueError``): a saved inference is malformed, of another
  format, or holds something unsafe.
* :class:`CapabilityError` (a :class:`ProblemError`): the chosen backend cannot do what was
  asked (e.g. several rounds with a backend that is not sequential).
"""

from __future__ import annotations

import numbers
from typing import Any


class Brian2SbiError(Exception):
    """Base class of every exception this package raises on purpose."""


class ProblemError(Brian2SbiError, ValueError):
    """A user argument is wrong; raised before anything is simulated."""


class CapabilityError(ProblemError):
    """The backend does not support what was asked (see its capability flags)."""


class NotFittedError(Brian2SbiError, RuntimeError):
    """A result was asked for before the step that produces it (says which call to make)."""


class NotAmortizedError(Brian2SbiError, RuntimeError):
    """The trained posterior cannot be reused for other recordings."""


class SavedFileError(Brian2SbiError, ValueError):
    """A saved inference is malformed, of another format, or holds something unsafe."""


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer ``>= minimum``, else a :class:`ProblemError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ProblemError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def renamed(new_name: str, new: Any, old_name: str, old: Any, default: Any = None) -> Any:
    """An argument with two spellings (a new name and an old one): the one given, else
    ``default``. Giving both is refused; the old spelling keeps working where it was public.
    """
    if old is not None and new is not None:
        raise ProblemError(f"{old_name}: give {new_name} or {old_name}, not both")
    if old is not None:
        return old
    return default if new is None else new
