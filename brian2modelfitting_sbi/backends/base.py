"""The backend protocol: what the Inferencer asks of an inference method.

A backend wraps one trainer. The Inferencer calls, per round::

    backend.append_simulations(theta, x, proposal)   # float32 tensors, proposal or None
    backend.train()
    posterior = backend.build_posterior(x_o)         # sbi-style posterior at x_o

Third-party packages implement this class (or duck-type it) and register it under the entry
point group ``brian2modelfitting.inference_backends``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor


class InferenceBackend(ABC):
    """Base class of inference backends.

    Parameters
    ----------
    prior : torch.distributions.Distribution
        Prior over the (SI-scaled) parameters.
    device : str
        Torch device for training (``'cpu'``, ``'cuda'``...).
    **options
        Backend-specific options (estimator, network sizes, training and sampling settings).
    """

    #: One-line description shown by :func:`~brian2modelfitting_sbi.list_backends`.
    description: ClassVar[str] = ""
    #: Whether one trained estimator gives the posterior for any observation without
    #: further per-observation computation.
    amortized: ClassVar[bool] = False

    def __init__(
        self, prior: torch.distributions.Distribution, device: str = "cpu", **options: Any
    ) -> None:
        self.prior = prior
        self.device = device
        self.options = options

    @abstractmethod
    def append_simulations(self, theta: Tensor, x: Tensor, proposal: Any = None) -> None:
        """Add a round of simulations drawn from ``proposal`` (the prior if None)."""

    @abstractmethod
    def train(self) -> None:
        """Train (or continue training) the estimator on all appended rounds."""

    @abstractmethod
    def build_posterior(self, x_o: Tensor) -> Any:
        """The posterior conditioned on the observed features ``x_o`` (shape ``(1, k)``)."""
