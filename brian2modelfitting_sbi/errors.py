"""The package's exceptions, one hierarchy under :class:`Brian2SbiError`, and the small
argument checks that every layer shares.

Every error the package raises on purpose derives from :class:`Brian2SbiError`, so that
``except Brian2SbiError`` catches all of them and nothing else. Each one also derives from the
built-in exception that code written before this module expected (``ValueError`` for wrong
arguments and files, ``RuntimeError`` for calls made in the wrong order).

* :class:`ProblemError` (also a ``ValueError``): an argument is wrong; raised before anything
  is simulated, and says which argument, what was expected and what was given.
* :class:`CapabilityError` (a :class:`ProblemError`): the chosen backend cannot do what was
  asked (e.g. several rounds with a backend that is not sequential).
* :class:`UserCallableError` (also a ``ValueError``): a user's feature or metric callable
  failed or returned something unusable; names the callable and the trace.
* :class:`NotFittedError` (also a ``RuntimeError``): a call needs a step that has not run yet
  (no simulations, no trained backend, no posterior); it names the call to make first
  (raised through :func:`require_fitted`).
* :class:`NotAmortizedError` (also a ``RuntimeError``): the trained posterior cannot be reused
  for other recordings.
* :class:`SavedFileError` (also a ``ValueError``): a saved inference is damaged, malformed, of
  another format, or holds something unsafe.
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


class UserCallableError(Brian2SbiError, ValueError):
    """A user's feature or metric callable failed, or returned something unusable.

    The message names the callable and the trace (output variable and trace index).
    """


class NotFittedError(Brian2SbiError, RuntimeError):
    """A result was asked for before the step that produces it (says which call to make)."""


class NotAmortizedError(Brian2SbiError, RuntimeError):
    """The trained posterior cannot be reused for other recordings."""


class SavedFileError(Brian2SbiError, ValueError):
    """A saved inference is damaged, malformed, of another format, or holds something unsafe."""


def require_fitted(value: object, what: str, call: str = "infer()") -> None:
    """Raise :class:`NotFittedError` if ``value`` is None or an empty list or tuple.

    The one guard of every call that needs an earlier step.

    Parameters
    ----------
    value : object
        What the calling method needs (a posterior, a backend, the rounds, ...).
    what : str
        What is missing, for the message (``'posterior'``).
    call : str
        The call that makes it (``'infer()'``).
    """
    if value is None or (isinstance(value, list | tuple) and not value):
        raise NotFittedError(f"no {what} yet: call {call} first")


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer ``>= minimum``, else a :class:`ProblemError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ProblemError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed: Any) -> None:
    """Refuse a user's ``seed`` that is not None or an integer in ``[0, 2**63)`` (torch's)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63
    ):
        raise ProblemError(f"seed: expected an integer in [0, 2**63) or None, got {seed!r}")


def renamed(new_name: str, new: Any, old_name: str, old: Any, default: Any = None) -> Any:
    """An argument with two spellings (a new name and an old one): the one given, else
    ``default``. Giving both is refused; the old spelling keeps working where it was public.
    """
    if old is not None and new is not None:
        raise ProblemError(f"{old_name}: give {new_name} or {old_name}, not both")
    if old is not None:
        return old
    return default if new is None else new
