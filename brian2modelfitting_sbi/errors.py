"""The package's error types: one base class, one class per kind of mistake.

Every error the package raises on purpose derives from :class:`Brian2SbiError`, so that
``except Brian2SbiError`` catches all of them and nothing else. Each one also derives from the
built-in exception that code written before this module expected (``ValueError`` for wrong
arguments and files, ``RuntimeError`` for calls made in the wrong order).
"""

from __future__ import annotations

__all__ = [
    "Brian2SbiError",
    "NotFittedError",
    "ProblemError",
    "SavedFileError",
    "UserCallableError",
    "require_fitted",
]


class Brian2SbiError(Exception):
    """Base class of every error raised on purpose by brian2modelfitting-sbi."""


class ProblemError(Brian2SbiError, ValueError):
    """A user argument is wrong; raised before anything is simulated."""


class NotFittedError(Brian2SbiError, RuntimeError):
    """A method needs a step that has not been run yet (e.g. ``sample()`` before ``infer()``).

    The message says which call to make first.
    """


class SavedFileError(Brian2SbiError, ValueError):
    """A saved inference is damaged, malformed, of another format, or holds something unsafe."""


class UserCallableError(Brian2SbiError, ValueError):
    """A user's feature or metric callable failed, or returned something unusable.

    The message names the callable and the trace (output variable and trace index).
    """


def require_fitted(value: object, what: str, call: str = "infer()") -> None:
    """Raise :class:`NotFittedError` if ``value`` is None.

    Parameters
    ----------
    value : object
        The attribute that the calling method needs (a posterior, a backend, ...).
    what : str
        What is missing, for the message (``'posterior'``).
    call : str
        The call that makes it (``'infer()'``).
    """
    if value is None:
        raise NotFittedError(f"no {what} yet: call {call} first")
