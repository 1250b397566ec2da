"""Shared machinery of the backends that wrap an ``sbi`` trainer.

Each concrete backend names its trainer class, its network builder from ``sbi.neural_nets``
and how its posterior samples. Only current sbi names are used (``NPE_C``, ``NLE_A``,
``NRE_B``, ``FMPE``, ``NPSE``, ``MNLE``), never the deprecated ``SNPE``/``SNLE``/``SNRE``
aliases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..errors import SavedFileError
from .base import InferenceBackend, SavedRound
from .defaults import (
    ACCEPTANCE_PILOT,
    AUTO,
    default_training_options,
    estimate_acceptance,
    resolve_auto_sampling,
    sampling_options,
)


class NullTracker:
    """A training tracker that records nothing (sbi's default writes TensorBoard logs to ./)."""

    log_dir = None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:  # noqa: D102
        pass

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:  # noqa: D102
        pass

    def log_params(self, params: dict) -> None:  # noqa: D102
        pass

    def add_figure(self, name: str, figure: Any, step: int | None = None) -> None:  # noqa: D102
        pass

    def flush(self) -> None:  # noqa: D102
        pass


class SbiBackend(InferenceBackend):
    """A backend built from an sbi trainer class and a network builder.

    Parameters
    ----------
    prior : torch.distributions.Distribution
        Prior over the SI-scaled parameters.
    device : str
        Torch device used for training.
    estimator : str, optional
        Network type for the builder (``'maf'``, ``'nsf'``, ``'mdn'``... for density
        estimators; ``'resnet'``, ``'mlp'`` for classifiers). The backend's default if None.
    estimator_options : dict, optional
        Passed to the builder (``hidden_features``, ``num_transforms``, ``z_score_x``...).
    embedding_net : torch.nn.Module, optional
        Learns features from x (raw traces) jointly with the estimator.
    training : dict, optional
        Overrides of the training settings passed to the trainer's ``train``.
    sampling : dict, optional
        Overrides of the posterior settings passed to ``build_posterior``.
    """

    trainer_name: ClassVar[str]
    builder_name: ClassVar[str]
    default_estimator: ClassVar[str]
    #: Name of the builder argument that takes an embedding net for x (None: unsupported).
    embedding_argument: ClassVar[str | None] = "embedding_net"
    takes_estimator_defaults: ClassVar[bool] = True
    samplers: ClassVar[tuple[str, ...]] = ("direct", "mcmc", "rejection", "importance", "vi")

    def __init__(
        self,
        prior: torch.distributions.Distribution,
        device: str = "cpu",
        *,
        estimator: str | None = None,
        estimator_options: dict[str, Any] | None = None,
        embedding_net: torch.nn.Module | None = None,
        training: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(prior, device)
        self.estimator = estimator or self.default_estimator
        self.estimator_options = dict(estimator_options or {})
        self.embedding_net = embedding_net
        self.training = dict(training or {})
        self.sampling = dict(sampling or {})
        self.last_training: dict[str, Any] = {}
        self.last_sampling: dict[str, Any] = {}
        self.density_estimator: torch.nn.Module | None = None
        self.trainer = self._make_trainer()

    def update_settings(
        self, training: Mapping[str, Any] | None = None, sampling: Mapping[str, Any] | None = None
    ) -> None:
        """Override some of the :attr:`training` and :attr:`sampling` settings."""
        self.training.update(training or {})
        self.sampling.update(sampling or {})

    # ------------------------------------------------------------------ construction
    def _builder(self) -> Callable:
        import sbi.neural_nets as nets

        kwargs = dict(self.estimator_options)
        if self.embedding_net is not None:
            if self.embedding_argument is None:
                raise ValueError(f"{type(self).__name__} does not take an embedding net for x")
            kwargs[self.embedding_argument] = self.embedding_net
        return getattr(nets, self.builder_name)(model=self.estimator, **kwargs)

    def _make_trainer(self, prior: torch.distributions.Distribution | None = None) -> Any:
        import sbi.inference as inference

        cls = getattr(inference, self.trainer_name)
        return cls(
            prior=self.prior if prior is None else prior,
            device=self.device,
            show_progress_bars=False,
            tracker=NullTracker(),
            **{self.trainer_argument: self._builder()},
        )

    trainer_argument: ClassVar[str] = "density_estimator"

    # ------------------------------------------------------------------ protocol
    @property
    def num_simulations(self) -> int:
        """Simulations appended so far, over all rounds."""
        return sum(len(t) for t in self.trainer._theta_roundwise)

    @property
    def appended_rounds(self) -> list[tuple[int, Any]]:
        """``(simulations, proposal)`` of each round appended to the trainer, in order."""
        trainer = self.trainer
        return [
            (len(t), p)
            for t, p in zip(trainer._theta_roundwise, trainer._proposal_roundwise, strict=True)
        ]

    def append_simulations(self, theta: Tensor, x: Tensor, proposal: Any = None) -> None:
        """Add one round of ``(theta, x)``; ``proposal`` is what theta was drawn from."""
        self.trainer.append_simulations(theta, x, **self._proposal_kwargs(proposal))

    def _proposal_kwargs(self, proposal: Any) -> dict[str, Any]:
        return {}

    def train(self) -> None:
        """Train on every appended round, with measured defaults unless overridden."""
        x_dim = int(self.trainer._x_roundwise[0][0].numel())
        options = default_training_options(self.num_simulations, x_dim, self)
        options.update(self.training)
        self.last_training = options
        self.density_estimator = self.trainer.train(**options)

    def build_posterior(self, x_o: Tensor) -> Any:
        """The posterior at ``x_o``, built with this backend's sampler settings."""
        options = sampling_options(self, self.sampling)
        self.last_sampling = dict(options)
        if options.get("sample_with") == AUTO:
            acceptance = self._estimate_acceptance(options, x_o)
            options = resolve_auto_sampling(options, acceptance)
            self.last_sampling = dict(options, estimated_acceptance=acceptance)
        posterior = self.trainer.build_posterior(
            self.density_estimator, **posterior_arguments(options)
        )
        return posterior.set_default_x(x_o)

    # ------------------------------------------------------------------ saving
    def config(self) -> dict[str, Any]:
        """Estimator, its options, training and sampling settings (see ``__init__``)."""
        return {
            "estimator": self.estimator,
            "estimator_options": dict(self.estimator_options),
            "training": dict(self.training),
            "sampling": dict(self.sampling),
        }

    def state(self) -> dict[str, Tensor]:
        """The trained network's ``state_dict`` (on the CPU)."""
        if self.density_estimator is None:
            raise RuntimeError(f"{type(self).__name__}: nothing trained yet")
        return {k: v.detach().cpu() for k, v in self.density_estimator.state_dict().items()}

    def restore(
        self, state: dict[str, Tensor], rounds: Sequence[SavedRound], x_o: Tensor
    ) -> Any:
        """Rebuild the network on the saved rounds, load ``state`` and hand the rounds back.

        The builder sizes (and z-scores) the network from the training data, so it is called
        on the saved rounds before the weights are loaded. A round drawn from a posterior is
        handed back with the restored posterior as its proposal: the exact proposal of a past
        round is not saved (NPE-C's atomic loss needs only to know that the round did not
        come from the prior; NLE and NRE ignore proposals).
        """
        valid = [r for r in rounds if len(r.theta)]
        if sum(len(r.theta) for r in valid) < 2:
            raise SavedFileError("fewer than 2 valid training simulations to rebuild from")
        theta = torch.cat([r.theta for r in valid])
        x = torch.cat([r.x for r in valid])
        net = self._builder()(theta, x)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise SavedFileError(
                f"weights.pt: the weights do not fit the rebuilt network ({exc})"
            ) from exc
        net.to(self.device)
        net.eval()
        self.density_estimator = net
        self.trainer._neural_net = net  # the trainer continues from the loaded network
        posterior = self.build_posterior(x_o)
        for r in valid:
            self.append_simulations(r.theta, r.x, None if r.from_prior else posterior)
        return posterior

    def _estimate_acceptance(self, options: dict[str, Any], x_o: Tensor) -> float:
        """Acceptance rate that rejection sampling from the prior would have at ``x_o``."""
        trial = resolve_auto_sampling(options, acceptance=1.0)  # the rejection posterior
        posterior = self.trainer.build_posterior(
            self.density_estimator, **posterior_arguments(trial)
        ).set_default_x(x_o)
        theta = self.prior.sample((ACCEPTANCE_PILOT,))
        with torch.no_grad():
            log_ratio = posterior.potential(theta) - self.prior.log_prob(theta)
        m = float((options.get("rejection_sampling_parameters") or {}).get("m", 1.2))
        return estimate_acceptance(log_ratio, m)


_PARAMETER_CLASSES = {
    # sample_with -> (sbi parameter class, key of its options in our sampling dict)
    "direct": ("DirectPosteriorParameters", "direct_sampling_parameters"),
    "mcmc": ("MCMCPosteriorParameters", "mcmc_parameters"),
    "rejection": ("RejectionPosteriorParameters", "rejection_sampling_parameters"),
    "importance": ("ImportanceSamplingPosteriorParameters", "importance_sampling_parameters"),
    "vi": ("VIPosteriorParameters", "vi_parameters"),
    # vector-field posteriors (FMPE, NPSE): solve the probability-flow ODE or the reverse SDE
    "ode": ("VectorFieldPosteriorParameters", "vectorfield_sampling_parameters"),
    "sde": ("VectorFieldPosteriorParameters", "vectorfield_sampling_parameters"),
}


def posterior_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """Translate our flat sampling options into sbi 0.27's ``build_posterior`` arguments.

    sbi 0.27 deprecates passing ``mcmc_method``/``mcmc_parameters``... to ``build_posterior``;
    they go into a ``*PosteriorParameters`` object instead. Our ``sampling=`` dict keeps the
    flat, documented form: ``{'sample_with': 'mcmc', 'mcmc_method': 'slice_np_vectorized',
    'mcmc_parameters': {'num_chains': 20, ...}}``.
    """
    import sbi.inference.posteriors.posterior_parameters as pp

    options = dict(options)
    sample_with = options.pop("sample_with", None)
    if sample_with is None:
        return options
    if sample_with not in _PARAMETER_CLASSES:
        raise ValueError(
            f"sampling['sample_with']: expected one of {sorted(_PARAMETER_CLASSES)}, "
            f"got {sample_with!r}"
        )
    cls_name, key = _PARAMETER_CLASSES[sample_with]
    fields = dict(options.pop(key, None) or {})
    if sample_with == "mcmc" and "mcmc_method" in options:
        fields["method"] = options.pop("mcmc_method")
    if sample_with == "vi" and "vi_method" in options:
        fields["vi_method"] = options.pop("vi_method")
    options["sample_with"] = sample_with
    options["posterior_parameters"] = getattr(pp, cls_name)(**fields)
    return options
