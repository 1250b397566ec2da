"""This process's simulators: built on first use, kept across chunks and rounds.

The one place that chooses between the runtime simulator (:mod:`.network`) and the C++
standalone one (:mod:`.standalone`), so that neither module needs the other's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from ..problem import Problem
from .network import DEVICES, LOCK, ChunkSimulator, Recording
from .standalone import StandaloneChunkSimulator

# A small per-process cache: workers keep their compiled network across chunks and rounds.
_CACHE: OrderedDict[tuple, ChunkSimulator] = OrderedDict()
_CACHE_SIZE = 2


def get_simulator(
    problem: Problem,
    parameter_names: Sequence[str],
    chunk_size: int,
    recording: Recording,
    target: str | None = None,
    device: str = "runtime",
    fingerprint: str | None = None,
) -> ChunkSimulator:
    """Return this process's simulator for these settings, building it on first use.

    Hold :data:`LOCK` while using the simulator if other threads may simulate too.
    """
    if device not in DEVICES:
        raise ValueError(f"device: expected one of {DEVICES}, got {device!r}")
    fp = fingerprint or problem.fingerprint()
    key = (fp, tuple(parameter_names), int(chunk_size), recording, target, device)
    with LOCK:
        sim = _CACHE.get(key)
        if sim is not None:
            _CACHE.move_to_end(key)
            return sim
        if device == "cpp_standalone":
            # One standalone project per process: building another one resets the device.
            for old in [k for k, s in _CACHE.items() if s.device == "cpp_standalone"]:
                del _CACHE[old]
            sim = StandaloneChunkSimulator(problem, parameter_names, chunk_size, recording)
        else:
            sim = ChunkSimulator(problem, parameter_names, chunk_size, recording, target)
        _CACHE[key] = sim
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return sim


def clear_cache(device: str | None = None) -> None:
    """Forget this process's simulators (all, or those of one device); rebuilt on next use."""
    with LOCK:
        for key in [k for k, sim in _CACHE.items() if device in (None, sim.device)]:
            del _CACHE[key]
