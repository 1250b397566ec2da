"""Option groups of an inference: simulation, training and sampling settings.

Small frozen dataclasses that check themselves once, when they are made: the
:class:`~brian2modelfitting_sbi.Inferencer` takes them (or plain dicts of their fields) and
passes them on, instead of repeating a long list of keyword arguments in every signature. The
old keyword arguments of ``infer``/``simulate``/``train`` still work: :func:`split_keywords`
sorts them into the groups.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from ..errors import ProblemError, check_count
from ..simulation import INVALID_POLICIES
from ..threads import check_threads

__all__ = [
    "SamplingOptions",
    "SimulationOptions",
    "TrainingOptions",
    "split_keywords",
]


def _mapping(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise ProblemError(f"{name}: expected a dict, got {value!r}")


class _Options:
    """Shared constructor from a dict, an instance or None."""

    @classmethod
    def of(cls, value: Any = None, **overrides: Any) -> Any:
        """``value`` (an instance, a dict of fields, or None for the defaults) with
        ``overrides`` (fields given as keyword arguments)."""
        given = dict(overrides)
        if value is None:
            return cls(**given)
        if isinstance(value, cls):
            return replace(value, **given) if given else value
        if isinstance(value, Mapping):
            names = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - names)
            if unknown:
                raise ProblemError(
                    f"{cls.__name__}: unknown settings {unknown}; expected some of {sorted(names)}"
                )
            return cls(**{**dict(value), **given})
        raise ProblemError(f"expected a {cls.__name__} or a dict of its fields, got {value!r}")


@dataclass(frozen=True)
class SimulationOptions(_Options):
    """How simulations run (see :meth:`Inferencer.simulate
    <brian2modelfitting_sbi.Inferencer.simulate>` for each setting).

    Attributes
    ----------
    chunk_size : int, optional
        Parameter sets simulated at once (default: from a memory budget).
    n_jobs : int, optional
        Simulate in a local pool of this many processes. An Inferencer keeps its pool (and
        the networks its workers built) for later rounds, calibration and predictive runs;
        ``close()`` or a ``with`` block ends it.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run simulation chunks.
    store : str or path-like, optional
        Directory where finished chunks are saved (a run on the same store resumes).
    standalone : bool, optional
        Simulate on Brian's C++ standalone device (None: follow ``set_device``).
    progress : bool
        Show a progress bar over simulations.
    threads : int or None
        Torch threads while drawing from a posterior proposal.
    """

    chunk_size: int | None = None
    n_jobs: int | None = None
    executor: cf.Executor | Any = None
    store: str | os.PathLike | None = None
    standalone: bool | None = None
    progress: bool = True
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.chunk_size is not None:
            check_count("chunk_size", self.chunk_size, 1)
        if self.n_jobs is not None:
            check_count("n_jobs", self.n_jobs, 1)
        if self.store is not None and not isinstance(self.store, str | os.PathLike):
            raise ProblemError(f"store: expected a directory path, got {self.store!r}")
        if self.standalone not in (None, True, False):
            raise ProblemError(f"standalone: expected True, False or None, got {self.standalone!r}")
        if not isinstance(self.progress, bool):
            raise ProblemError(f"progress: expected True or False, got {self.progress!r}")
        check_threads(self.threads)


@dataclass(frozen=True)
class TrainingOptions(_Options):
    """How the backend is trained (see :meth:`Inferencer.train
    <brian2modelfitting_sbi.Inferencer.train>` for each setting).

    Attributes
    ----------
    device : str
        Torch device.
    threads : int or None
        Torch threads during training.
    invalid : {'drop', 'keep', 'fill'}
        What training does with simulations whose features are NaN or infinite.
    fill_value : float, sequence, dict or str, optional
        Replacement of non-finite features with ``invalid='fill'``.
    estimator : str, optional
        Network type (``'maf'``, ``'nsf'``, ``'mdn'``; ``'resnet'`` for SNRE).
    estimator_options : dict, optional
        Builder options (``hidden_features``, ``num_transforms``...).
    embedding_net : torch.nn.Module, optional
        Embedding of x (the feature provider's default, if any, when None).
    settings : dict, optional
        Overrides of the backend's training defaults (the ``training=`` dict of ``train``).
    discrete_columns : list of str or int, optional
        Features (names or column indices) that a backend with ``discrete_features``
        (``'mnle'``) models as discrete; by default the feature provider's declaration,
        else the integer-valued simulated columns.
    ensemble : int
        Number of estimators trained on the same simulations with different seeds; more
        than one gives the equal-weight mixture of their posteriors
        (:class:`~brian2modelfitting_sbi.backends.ensemble.EnsembleBackend`).
    """

    device: str = "cpu"
    threads: int | None = 1
    invalid: str = "drop"
    fill_value: Any = None
    estimator: str | None = None
    estimator_options: Mapping[str, Any] | None = None
    embedding_net: torch.nn.Module | None = None
    settings: Mapping[str, Any] | None = None
    discrete_columns: Sequence[str | int] | None = None
    ensemble: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.device, str):
            raise ProblemError(f"device: expected a torch device name, got {self.device!r}")
        check_threads(self.threads)
        if (isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int | np.integer)
                or self.ensemble < 1):
            raise ProblemError(
                f"ensemble: expected the number of estimators (an integer >= 1), "
                f"got {self.ensemble!r}"
            )
        if self.invalid not in INVALID_POLICIES:
            raise ProblemError(
                f"invalid: expected one of {INVALID_POLICIES}, got {self.invalid!r}"
            )
        if self.estimator is not None and not isinstance(self.estimator, str):
            raise ProblemError(f"estimator: expected a network name, got {self.estimator!r}")
        _mapping("estimator_options", self.estimator_options)
        _mapping("training", self.settings)
        if self.embedding_net is not None and not isinstance(self.embedding_net, torch.nn.Module):
            raise ProblemError(
                f"embedding_net: expected a torch.nn.Module, got {type(self.embedding_net)}"
            )

    def backend_options(self, sampling: SamplingOptions) -> dict[str, Any]:
        """The keyword arguments of the backend's constructor (those given)."""
        options = {
            "estimator": self.estimator,
            "estimator_options": None
            if self.estimator_options is None
            else dict(self.estimator_options),
            "embedding_net": self.embedding_net,
            "training": None if self.settings is None else dict(self.settings),
            "sampling": None if sampling.settings is None else dict(sampling.settings),
        }
        return {k: v for k, v in options.items() if v is not None}


@dataclass(frozen=True)
class SamplingOptions(_Options):
    """How the posterior samples.

    Attributes
    ----------
    settings : dict, optional
        Overrides of the backend's posterior settings (the ``sampling=`` dict of ``train``,
        e.g. ``{'sample_with': 'mcmc', 'mcmc_parameters': {...}}``).
    threads : int or None
        Torch threads while building the posterior and sampling.
    """

    settings: Mapping[str, Any] | None = None
    threads: int | None = 1

    def __post_init__(self) -> None:
        _mapping("sampling", self.settings)
        check_threads(self.threads)


_SIMULATION = ("chunk_size", "n_jobs", "executor", "store", "standalone", "progress")
_TRAINING = (
    "device", "invalid", "fill_value", "estimator", "estimator_options", "embedding_net",
    "discrete_columns", "ensemble",
)


def split_keywords(
    keywords: dict[str, Any],
    simulation: Any = None,
    training: Any = None,
    sampling: Any = None,
) -> tuple[SimulationOptions, TrainingOptions, SamplingOptions, dict[str, Any]]:
    """Sort ``infer``'s keyword arguments into the option groups; what is left are bounds.

    ``training`` and ``sampling`` may be option objects or, as before, the dicts of backend
    settings; a ``threads`` keyword applies to all three groups.
    """
    rest = dict(keywords)
    threads = {"threads": rest.pop("threads")} if "threads" in rest else {}
    sim = {k: rest.pop(k) for k in _SIMULATION if k in rest}
    fit = {k: rest.pop(k) for k in _TRAINING if k in rest}
    if isinstance(training, TrainingOptions):
        train_opts = TrainingOptions.of(training, **threads, **fit)
    else:
        settings = {} if training is None else {"settings": training}
        train_opts = TrainingOptions.of(None, **threads, **settings, **fit)
    if isinstance(sampling, SamplingOptions):
        sample_opts = SamplingOptions.of(sampling, **threads)
    else:
        settings = {} if sampling is None else {"settings": sampling}
        sample_opts = SamplingOptions.of(None, **threads, **settings)
    sim_opts = SimulationOptions.of(simulation, **threads, **sim)
    return sim_opts, train_opts, sample_opts, rest
