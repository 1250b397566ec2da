"""Running Brian 2 simulations in chunks, and the result type they share with observed data."""

from .network import ChunkSimulator, Recording, get_simulator
from .result import SimulationResult
from .runner import ChunkTask, default_chunk_size, simulate_features

__all__ = [
    "ChunkSimulator",
    "ChunkTask",
    "Recording",
    "SimulationResult",
    "default_chunk_size",
    "get_simulator",
    "simulate_features",
]
