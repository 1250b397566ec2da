"""Inference backends, discovered through the ``brian2modelfitting.inference_backends`` group."""

from .base import InferenceBackend, SavedRound
from .registry import (
    GROUP,
    BackendInfo,
    UnknownBackendError,
    get_backend,
    list_backends,
    refresh_backends,
)

__all__ = [
    "GROUP",
    "BackendInfo",
    "InferenceBackend",
    "SavedRound",
    "UnknownBackendError",
    "get_backend",
    "list_backends",
    "refresh_backends",
]
