"""Torch thread control: training and sampling decide their threads, never inherit them."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import torch

from .errors import ProblemError


def check_threads(n: Any) -> None:
    """Refuse a ``threads`` argument that is not None or an integer >= 1."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
        raise ProblemError(f"threads: expected an integer >= 1 or None, got {n!r}")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (unchanged if None), then restore.

    Raises
    ------
    ProblemError
        ``n`` is not None or an integer >= 1 (checked before torch is touched).
    """
    check_threads(n)
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
