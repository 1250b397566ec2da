"""Brian's runs without a full garbage collection of the process.

``brian2.Network.run`` starts with ``gc.collect()`` (so that objects left out of a network
warn). A full collection scans every object the process tracks: with torch, sbi and their
dependencies imported, about 400,000 objects and 0.2 s, which was the whole fixed cost of
simulating a chunk (measured on brian2modelfitting's HH example,
``benchmarks/bench_chunk_budget.py``). :func:`frozen_heap` moves the objects that exist
before a run into the collector's permanent generation (:func:`gc.freeze`) and back when it
ends (:func:`gc.unfreeze`): the run's collection scans only what the run itself made, and
nothing stays hidden from later collections.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["frozen_heap"]


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Hide the objects that exist now from the garbage collector until the block ends.

    Does nothing when something else has frozen objects already (an application that
    freezes its heap itself, before forking workers, keeps what it froze).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
