"""The :class:`Posterior` result: what is done with a posterior at one observation.

One type for the posterior at the observed data (:attr:`Inferencer.result
<brian2modelfitting_sbi.Inferencer.result>`) and for the posteriors of new recordings
(:meth:`~brian2modelfitting_sbi.Inferencer.condition`,
:meth:`~brian2modelfitting_sbi.Inferencer.condition_many`). It holds the sbi posterior at its
observation, the :class:`~brian2modelfitting_sbi.ParameterSpace` that maps the estimator's
unit box back to quantities, the observation's features and a set of draws; it owns samples,
MAP, log density, summary, plots and ArviZ export.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from brian2 import Quantity

from ..errors import ProblemError, check_count
from ..interop import to_arviz
from ..priors import ParameterSpace
from .conditional_plots import conditional_corrcoef, conditional_pairplot, correlation_plot
from .diagnostics import Z_LIMIT, FeatureOutlier, check_observation
from .plots import pairplot
from .sampling import draw, log_prob, map_estimate
from .summary import PosteriorSummary, summarize

#: Draws held by a posterior whose draws were not given (``samples``, ``summary``).
DEFAULT_DRAWS = 2000


class Posterior:
    """A posterior over the model parameters at one observation, in the fitters' conventions.

    Parameters
    ----------
    estimate : sbi posterior
        The sbi posterior, its default x set to this observation (in the estimator's scaled
        coordinates).
    space : ParameterSpace
        The parameters, their units and prior box.
    x : numpy.ndarray
        The observation's features ``(k,)`` in SI units.
    feature_names : sequence of str
        Names of the features.
    name : str
        Name of the observation (``'observed'``, or a recording's name).
    training_x : numpy.ndarray, optional
        The training features ``(n, k)``, against which :attr:`flags` are computed.
    draws : numpy.ndarray, optional
        Draws already made ``(n, d)`` in SI units (drawn on first use otherwise:
        :data:`DEFAULT_DRAWS` with seed 0).
    level : float
        Probability of the central credible intervals of :attr:`summary`.
    map_array : numpy.ndarray, optional
        A MAP estimate already found ``(d,)``.
    map_search : callable, optional
        ``map_search()`` finds the MAP ``(d,)`` on first use (default: sbi's ``map`` on
        ``estimate``, see :func:`~brian2modelfitting_sbi.posterior.sampling.map_estimate`).
    flags : list of FeatureOutlier, optional
        Features outside the training simulations (computed from ``training_x`` if None).
    seconds : float
        Time spent on this posterior's draws.
    attrs : dict, optional
        How it was obtained (backend...), written into ArviZ attributes.
    """

    def __init__(
        self,
        estimate: Any,
        space: ParameterSpace,
        x: np.ndarray,
        feature_names: Sequence[str],
        *,
        name: str = "observed",
        training_x: np.ndarray | None = None,
        draws: np.ndarray | None = None,
        level: float = 0.9,
        map_array: np.ndarray | None = None,
        map_search: Callable[[], np.ndarray] | None = None,
        flags: list[FeatureOutlier] | None = None,
        seconds: float = 0.0,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.estimate = estimate
        self.space = space
        self.x = np.asarray(x, dtype=float).reshape(-1)
        self.feature_names = list(feature_names)
        self.name = str(name)
        self.level = float(level)
        self.seconds = float(seconds)
        self.attrs = dict(attrs or {})
        if flags is None:
            flags = [] if training_x is None else check_observation(
                training_x, self.x, self.feature_names, Z_LIMIT
            )
        self.flags = list(flags)
        self._training_x = training_x
        self._draws = None if draws is None else np.asarray(draws, dtype=float)
        self._map = None if map_array is None else np.asarray(map_array, dtype=float)
        self._map_search = map_search

    # ------------------------------------------------------------------ draws
    def draw(self, n_draws: int, seed: int | None = None, threads: int | None = 1) -> np.ndarray:
        """``n_draws`` fresh draws as SI floats ``(n, d)``, columns in ``space.names`` order.

        The same ``seed`` gives the same draws (torch and, for MCMC, numpy are seeded; the
        global random states are restored afterwards).
        """
        check_count("n_draws", n_draws, 1)
        return draw(self.estimate, self.space, n_draws, seed, threads)

    def sample(self, n_draws: int, seed: int | None = None) -> dict[str, Quantity]:
        """``n_draws`` fresh draws as a dict name → Quantity array."""
        return self.space.to_quantities(self.draw(n_draws, seed))

    @property
    def sample_array(self) -> np.ndarray:
        """The held draws as SI floats ``(n, d)`` (those :attr:`summary` describes)."""
        if self._draws is None:
            self._draws = self.draw(DEFAULT_DRAWS, seed=0)
        return self._draws

    @property
    def samples(self) -> dict[str, Quantity]:
        """The held draws as a dict name → Quantity array."""
        return self.space.to_quantities(self.sample_array)

    # ------------------------------------------------------------------ summaries
    @property
    def summary(self) -> PosteriorSummary:
        """Mean, std, median and central credible interval of the held draws, with units."""
        return summarize(self.space, self.sample_array, self.level)

    def summarize(
        self, n_draws: int = DEFAULT_DRAWS, level: float = 0.9, seed: int | None = 0
    ) -> PosteriorSummary:
        """The :class:`~brian2modelfitting_sbi.posterior.PosteriorSummary` of fresh draws."""
        check_count("n_draws", n_draws, 2)
        return summarize(self.space, self.draw(n_draws, seed=seed), level)

    # ------------------------------------------------------------------ MAP and density
    def map_array(self, **options: Any) -> np.ndarray:
        """The MAP estimate as SI floats ``(d,)``: searched on first use, then cached.

        ``options`` (sbi's ``posterior.map`` settings, ``seed``, ``threads``) search again and
        replace the cached estimate.
        """
        if options or self._map is None:
            if options or self._map_search is None:
                found = map_estimate(self.estimate, self.space, **options)
            else:
                found = self._map_search()
            self._map = np.asarray(found, dtype=float)
        return self._map

    def map(self, **options: Any) -> dict[str, Quantity]:
        """Search the maximum a posteriori parameters (and cache them for ``best_params``).

        Parameters
        ----------
        **options
            sbi's ``posterior.map`` settings (``num_iter``, ``num_to_optimize``,
            ``num_init_samples``, ``learning_rate``); ``seed`` (default 0) and ``threads``.
            Defaults: :data:`~brian2modelfitting_sbi.posterior.sampling.DEFAULT_MAP_OPTIONS`.
        """
        return self.space.to_quantities(self.map_array(**options))

    @property
    def best_params(self) -> dict[str, Quantity]:
        """The MAP estimate as a dict name → Quantity, like ``fitter.best_params``."""
        return self.space.to_quantities(self.map_array())

    def log_prob(self, params: Mapping[str, Quantity]) -> np.ndarray | float:
        """Log density at ``params`` (dict name → Quantity scalars or arrays).

        Per SI unit of each parameter; up to a constant for MCMC-sampled posteriors (SNLE,
        SNRE); ``-inf`` outside the prior box. A float for scalar values, else an array.
        """
        return log_prob(self.estimate, self.space, params)

    # ------------------------------------------------------------------ misspecification
    @property
    def misspecified(self) -> bool:
        """Whether some features lie outside the training simulations (see :attr:`flags`)."""
        return bool(self.flags)

    @property
    def flagged_features(self) -> list[str]:
        """Names of the flagged features, most extreme first."""
        return [f.name for f in self.flags]

    def check_observation(self, z_limit: float | None = None) -> list[FeatureOutlier]:
        """Features of the observation outside the training features (empty if none)."""
        if self._training_x is None:
            return list(self.flags)
        limit = Z_LIMIT if z_limit is None else z_limit
        return check_observation(self._training_x, self.x, self.feature_names, limit)

    # ------------------------------------------------------------------ plots
    def pairplot(
        self,
        n_draws: int = DEFAULT_DRAWS,
        *,
        points: Any = None,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> Any:
        """Marginals and pairwise histograms of fresh draws, axes ``name [unit]``.

        ``points``: parameter sets to mark (dict name → Quantity, or a list of them);
        ``limits``: ``{name: [lower, upper]}`` (default: prior bounds). Other keyword
        arguments go to :func:`~brian2modelfitting_sbi.posterior.plots.pairplot`. Returns a
        matplotlib Figure (not shown).
        """
        check_count("n_draws", n_draws, 2)
        samples = self.draw(n_draws, seed=seed)
        return pairplot(self.space, samples, points=points, limits=limits, **kwargs)

    def conditional_pairplot(
        self,
        condition: Mapping[str, Quantity] | None = None,
        *,
        resolution: int = 50,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        points: Any = None,
    ) -> Any:
        """Slices of the density through ``condition`` (default: the MAP); a Figure."""
        return conditional_pairplot(
            self.estimate,
            self.space,
            self._point(condition),
            resolution=resolution,
            limits=limits,
            points=points,
        )

    def conditional_corrcoef(
        self,
        condition: Mapping[str, Quantity] | None = None,
        *,
        resolution: int = 50,
        limits: Mapping[str, Sequence[Quantity]] | None = None,
        plot: bool = False,
    ) -> Any:
        """Correlation matrix ``(d, d)`` of the 2-D conditional densities through
        ``condition`` (default: the MAP), or with ``plot=True`` a heat map of it."""
        matrix = conditional_corrcoef(
            self.estimate, self.space, self._point(condition), resolution=resolution,
            limits=limits,
        )
        return correlation_plot(self.space, matrix) if plot else matrix

    def _point(self, condition: Mapping[str, Quantity] | None) -> np.ndarray:
        if condition is None:
            return self.map_array()
        if not isinstance(condition, Mapping):
            raise ProblemError(
                f"condition: expected a dict name -> Quantity for {self.space.names}, "
                f"got {condition!r}"
            )
        return np.asarray(self.space.to_array(condition), dtype=float).reshape(-1)

    # ------------------------------------------------------------------ interop
    def to_arviz(self, n_draws: int | None = None, seed: int | None = 0) -> Any:
        """Draws as an ArviZ ``InferenceData`` (display units in the variables' ``units``
        attribute; this observation's features in ``observed_data``).

        ``n_draws`` fresh draws, or the held draws if None.
        """
        samples = self.sample_array if n_draws is None else self.draw(n_draws, seed=seed)
        attrs = dict(self.attrs)
        if self.name != "observed":
            attrs.update(
                recording=self.name,
                misspecified=int(self.misspecified),
                flagged_features=";".join(self.flagged_features),
            )
        return to_arviz(
            self.space, samples, x_o=self.x, feature_names=self.feature_names, attrs=attrs
        )

    def __str__(self) -> str:
        flag = (
            f"  FLAGGED (features outside the training simulations: "
            f"{', '.join(self.flagged_features)})"
            if self.flags
            else ""
        )
        label = "Observed data" if self.name == "observed" else f"Recording {self.name}"
        return f"{label}{flag}\n{self.summary}"

    def __repr__(self) -> str:
        return (
            f"<Posterior {self.name!r}: {', '.join(self.space.names)}; "
            f"{len(self.flags)} flagged features>"
        )
