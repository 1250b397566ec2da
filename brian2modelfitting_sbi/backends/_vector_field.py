"""Shared policy of the vector-field posterior estimators of sbi 0.27 (FMPE, NPSE).

Both learn a vector field that carries noise to the posterior, conditioned on x, with one
regression network (``'mlp'``, ``'ada_mlp'``, ``'transformer'``...); sampling integrates it
(``'ode'``: the probability-flow ODE; ``'sde'``: the reverse diffusion). One trained network
gives the posterior of any observation (amortized). sbi 0.27 trains them on prior draws only:
their ``append_simulations`` refuses a proposal, so ``multi_round`` is False and the
Inferencer refuses ``n_rounds > 1`` before simulating.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from ..errors import CapabilityError
from ._sbi import SbiBackend


class VectorFieldBackend(SbiBackend):
    """Base of the single-round, amortized vector-field posterior estimators."""

    amortized: ClassVar[bool] = True
    multi_round: ClassVar[bool] = False
    trainer_argument: ClassVar[str] = "vf_estimator"
    default_estimator: ClassVar[str] = "mlp"
    samplers: ClassVar[tuple[str, ...]] = ("ode", "sde")
    sampling_defaults: ClassVar[str] = "direct"

    def build_posterior(self, x_o: Tensor) -> Any:
        """The posterior at ``x_o``; ``last_sampling`` names the sampler (``'ode'``/``'sde'``)."""
        posterior = super().build_posterior(x_o)
        self.last_sampling.setdefault("sample_with", posterior.sample_with)
        return posterior

    def _proposal_kwargs(self, proposal: Any) -> dict[str, Any]:
        if proposal is not None:
            raise CapabilityError(
                f"{type(self).__name__} trains on prior draws only (sbi 0.27 has no proposal "
                f"correction for it); use backend='snpe' for multi-round inference, or "
                f"n_rounds=1"
            )
        return {}
