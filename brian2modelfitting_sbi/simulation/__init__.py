"""Running Brian 2 simulations in chunks, and the result type they share with observed data."""

from . import dispatch
from .dispatch import ChunkFailedError, ChunkTiming, WorkersLostError
from .executors import WorkerPool, as_executor, chunk_executor, n_workers, process_pool
from .invalid import INVALID_POLICIES, apply_invalid, check_invalid, describe_invalid, valid_rows
from .network import ChunkSimulator, Recording, resolve_device
from .result import SimulationResult
from .runner import (
    ChunkTask,
    collect_chunks,
    default_chunk_size,
    make_task,
    resolve_seed,
    simulate_features,
)
from .simulators import clear_cache, get_simulator
from .store import SimulationStore, StoreMismatchError, store_identity

__all__ = [
    "INVALID_POLICIES",
    "ChunkFailedError",
    "ChunkSimulator",
    "ChunkTiming",
    "ChunkTask",
    "collect_chunks",
    "make_task",
    "Recording",
    "SimulationResult",
    "SimulationStore",
    "StoreMismatchError",
    "WorkerPool",
    "WorkersLostError",
    "apply_invalid",
    "as_executor",
    "check_invalid",
    "chunk_executor",
    "clear_cache",
    "default_chunk_size",
    "describe_invalid",
    "dispatch",
    "get_simulator",
    "n_workers",
    "process_pool",
    "resolve_device",
    "resolve_seed",
    "simulate_features",
    "store_identity",
    "valid_rows",
]
