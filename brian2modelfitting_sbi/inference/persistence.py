"""Saving, loading and taking over an inference; an Inferencer from a fitter.

:class:`PersistenceMethods` holds the :class:`~brian2modelfitting_sbi.Inferencer`'s ways in
and out of a file (:meth:`~PersistenceMethods.save`, :meth:`~PersistenceMethods.load`, on the
format of :mod:`~brian2modelfitting_sbi.archive`), :meth:`~PersistenceMethods.adopt` (the
state of another Inferencer of the same problem) and :meth:`~PersistenceMethods.from_fitter`
(the problem of a brian2modelfitting fitter, see :mod:`~brian2modelfitting_sbi.interop`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

import torch
from brian2.core.namespace import get_local_namespace

from .._version import __version__
from ..archive import SavedFeatures, load_saved, save
from ..errors import ProblemError, require_fitted
from ..interop import from_fitter
from .fit import restore_backend, saved_history

__all__ = ["PersistenceMethods"]


class PersistenceMethods:
    """The Inferencer's save, load, adopt and from_fitter."""

    def save(self, path: str | os.PathLike, *, skip_namespace: Sequence[str] = ()) -> None:
        """Save problem, parameter space, backend, training data and network weights to
        ``path`` (a zip of JSON, npz and a state dict; see :mod:`~brian2modelfitting_sbi.archive`).

        Namespace values that cannot be stored (functions, ``TimedArray``) raise an error
        here; list them in ``skip_namespace`` to save without them (``load`` then needs
        ``namespace={...}``). Brian 2's own functions and units are never stored.
        """
        require_fitted(self._result, "posterior to save", "infer() (or train())")
        save(path, problem=self.problem, space=self._space, backend=self._backend,
             feature_names=self.feature_names, recording=self.features.recording(),
             provider=type(self.features).__name__, rounds=self._history.rounds,
             x_o=self.x_o, target=self.target, version=__version__, skip_namespace=skip_namespace,
             measurement=self.measurement)

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, features: Any = None,
        namespace: Mapping[str, Any] | None = None, backend: Any = None,
        embedding_net: torch.nn.Module | None = None, device: str = "cpu",
    ) -> Self:
        """Load a saved inference; it samples the same posterior without simulating.

        Loading runs no code from the file. ``features`` (the same feature code) is needed
        only to simulate more (continue ``infer``, ``calibrate``); ``namespace`` for model
        names that could not be saved; ``backend`` for an unregistered backend class;
        ``embedding_net`` for a saved embedding the features do not provide.
        """
        saved = load_saved(path, namespace, device)
        provider = features if features is not None else SavedFeatures(
            saved.feature_names, saved.recording, saved.x_o
        )
        inf = cls(features=provider, target=saved.target,
                  measurement_noise=saved.measurement_noise, **saved.problem_arguments)
        space = inf.set_bounds(prior=saved.prior, **saved.bounds)
        inf._history = saved_history(
            saved, inf, given_features=features is not None, given_namespace=namespace is not None
        )
        inf._backend, estimate = restore_backend(
            saved.backend, saved.state, inf._history, space, inf.x_o, features=inf.features,
            feature_code=features is not None, backend=backend, embedding_net=embedding_net,
            device=device,
        )
        inf._appended = len(inf._history)
        inf._adopt(estimate)
        return inf

    def adopt(self, other: Self) -> None:
        """Take over the inference of ``other``, an Inferencer of the same problem (e.g. one
        loaded from a file): its parameter space, rounds, trained backend and posterior."""
        if other.problem.fingerprint() != self.problem.fingerprint():
            raise ProblemError("adopt: the other Inferencer has another model or other data")
        self._space, self._history, self._backend = other._space, other._history, other._backend
        self._appended, self._result = other._appended, other._result

    @classmethod
    def from_fitter(cls, fitter: Any, features: Any = None, *,
                    namespace: Mapping[str, Any] | None = None, target: str | None = None,
                    level: int = 0) -> Self:
        """An Inferencer for the model, input and output of a brian2modelfitting fitter
        (``TraceFitter`` or ``SpikeFitter``, fitted or not: a fitted one's bounds become the
        prior box). ``namespace``: the model's external constants (captured ``level`` frames
        above the caller if None); ``target``: the code generation target."""
        if namespace is None:
            namespace = get_local_namespace(level + 1)
        return from_fitter(cls, fitter, features, namespace, target)
