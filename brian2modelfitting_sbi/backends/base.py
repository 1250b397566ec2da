"""The backend protocol: what the Inferencer asks of an inference method.

A backend wraps one trainer. The Inferencer calls, per round::

    backend.append_simulations(theta, x, proposal)   # float32 tensors, proposal or None
    backend.train()
    posterior = backend.build_posterior(x_o)         # sbi-style posterior at x_o

Policy is declared on the class, never inferred from its name, so that a subclass or a
third-party backend (registered under the entry point group
``brian2modelfitting.inference_backends``) states its own:

============================  =============================================================
class attribute               meaning
============================  =============================================================
``description``               one line shown by :func:`~brian2modelfitting_sbi.list_backends`
``amortized``                 one estimator trained on prior draws gives the posterior of any
                              observation without per-observation sampling runs
``multi_round``               can train on rounds drawn from a posterior (``n_rounds > 1``);
                              the Inferencer refuses more rounds before simulating otherwise
``discrete_features``         can learn from discrete (integer-valued) features
``embeds_x``                  takes an embedding net for x (needed for raw traces)
``takes_estimator_defaults``  a feature provider's estimator defaults apply to it
``samplers``                  the ``sampling={'sample_with': ...}`` values it supports
``training_defaults``         ``'measured'`` (this package's defaults) or ``'sbi'``
``sampling_defaults``         ``'direct'`` or ``'auto'`` (rejection or MCMC per observation)
``loss_defaults``             training options of its loss over those defaults (user values win)
============================  =============================================================

Saving: :meth:`InferenceBackend.config` (JSON settings) and :meth:`InferenceBackend.state`
(tensors) are what a file stores; :meth:`InferenceBackend.restore` gets them back, with the
saved rounds. A backend that does not implement them cannot be saved (a clear error says so).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor


@dataclass(frozen=True)
class SavedRound:
    """One saved round handed back to :meth:`InferenceBackend.restore`.

    Attributes
    ----------
    theta, x : torch.Tensor
        The round's valid simulations, as the estimator saw them.
    from_prior : bool
        Whether the round was drawn from the prior (else from a posterior proposal).
    """

    theta: Tensor
    x: Tensor
    from_prior: bool


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
    #: Whether it trains on rounds drawn from a posterior proposal (``n_rounds > 1``).
    multi_round: ClassVar[bool] = True
    #: Whether it can learn from discrete (integer-valued) features.
    discrete_features: ClassVar[bool] = False
    #: Whether it takes an embedding net for x (raw traces need one).
    embeds_x: ClassVar[bool] = True
    #: Whether a feature provider's estimator defaults (e.g. structured z-scoring) apply.
    takes_estimator_defaults: ClassVar[bool] = False
    #: ``sample_with`` values of ``sampling=`` it supports (empty: it decides alone).
    samplers: ClassVar[tuple[str, ...]] = ()
    #: Training defaults: ``'measured'`` (this package's) or ``'sbi'`` (sbi's own).
    training_defaults: ClassVar[str] = "measured"
    #: Sampling defaults: ``'direct'`` (from the estimator) or ``'auto'`` (rejection or MCMC).
    sampling_defaults: ClassVar[str] = "direct"
    #: Training options of its loss over the general defaults (``training=`` values win).
    loss_defaults: ClassVar[dict[str, Any]] = {}

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

    def update_settings(
        self, training: Mapping[str, Any] | None = None, sampling: Mapping[str, Any] | None = None
    ) -> None:
        """Override some training and/or posterior settings of this backend object (used for
        a backend trained in place, e.g. brian2modelfitting's ``train_kwargs``).

        Raises ``NotImplementedError`` for a backend without such settings.
        """
        if training or sampling:
            raise NotImplementedError(f"{type(self).__name__} takes no training/sampling settings")

    # ------------------------------------------------------------------ saving
    def config(self) -> dict[str, Any]:
        """The settings that rebuild this backend (JSON-storable), passed back to ``__init__``.

        Raises ``NotImplementedError`` for a backend that cannot be saved.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support saving")

    def state(self) -> dict[str, Tensor]:
        """The trained estimator's tensors (a ``state_dict``)."""
        raise NotImplementedError(f"{type(self).__name__} does not support saving")

    def restore(
        self, state: dict[str, Tensor], rounds: Sequence[SavedRound], x_o: Tensor
    ) -> Any:
        """Load ``state`` into a freshly built estimator, take back the saved ``rounds`` (so
        that training can continue) and return the posterior at ``x_o``."""
        raise NotImplementedError(f"{type(self).__name__} does not support loading")
