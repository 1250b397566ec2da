"""Posterior results in the fitters' conventions: samples, MAP, log density and a summary.

Everything here takes an sbi posterior (which works in the unit-box coordinates of
:meth:`ParameterSpace.to_torch <brian2modelfitting_sbi.priors.ParameterSpace.to_torch>`) and
the :class:`~brian2modelfitting_sbi.priors.ParameterSpace` that maps those coordinates back to
SI floats and Brian 2 quantities.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from brian2 import Quantity
from brian2.units.fundamentalunits import get_dimensions

from .priors import ParameterSpace
from .problem import ProblemError
from .training import torch_threads

#: Settings of the MAP search behind ``best_params``: modest, since it runs on first access.
DEFAULT_MAP_OPTIONS = {
    "num_iter": 300,
    "num_to_optimize": 20,
    "num_init_samples": 500,
    "learning_rate": 0.01,
}


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed torch and numpy's global generator inside the block, restoring both afterwards.

    sbi's direct samplers draw from torch, its vectorized slice sampler (MCMC) from
    ``numpy.random``: both must be seeded for ``seed`` to give the same samples.
    """
    if seed is None:
        yield
        return
    # sbi's slice sampler uses the legacy global generator, so it is the one to seed.
    state = np.random.get_state()  # noqa: NPY002
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        np.random.seed(int(seed) % 2**32)  # noqa: NPY002
        try:
            yield
        finally:
            np.random.set_state(state)  # noqa: NPY002


def draw(
    posterior: Any, space: ParameterSpace, n: int, seed: int | None = None, threads: int | None = 1
) -> np.ndarray:
    """``n`` samples of ``posterior`` as SI floats ``(n, d)``."""
    with seeded(seed), torch_threads(threads):
        samples = posterior.sample((int(n),), show_progress_bars=False)
    return space.from_torch(samples)


def map_estimate(
    posterior: Any,
    space: ParameterSpace,
    *,
    seed: int | None = 0,
    threads: int | None = 1,
    **options: Any,
) -> np.ndarray:
    """The maximum a posteriori parameters as SI floats ``(d,)``.

    sbi's gradient ascent on the posterior's log density, started from the best of
    ``num_init_samples`` draws; ``options`` override :data:`DEFAULT_MAP_OPTIONS`.
    """
    from sbi.inference import DirectPosterior

    settings = {**DEFAULT_MAP_OPTIONS, **options}
    with seeded(seed), torch_threads(threads):
        if isinstance(posterior, DirectPosterior) and "init_method" not in settings:
            # start from posterior draws (cheap here), drawn without sbi's progress bar
            settings["init_method"] = posterior.sample(
                (int(settings["num_init_samples"]),), show_progress_bars=False
            )
        best = posterior.map(show_progress_bars=False, force_update=True, **settings)
    return space.from_torch(best.reshape(-1, space.dim))[0]


def log_prob(
    posterior: Any,
    space: ParameterSpace,
    params: Mapping[str, Any],
    threads: int | None = 1,
) -> np.ndarray | float:
    """Posterior log density at ``params`` (dict name → Quantity, scalars or arrays).

    The density is per SI unit of each parameter (so that it does not depend on the units
    the values were given in). Posteriors that sbi cannot normalize (SNLE, SNRE: MCMC or
    rejection sampling) give it up to an additive constant, as their ``potential``. Values
    outside the prior box are ``-inf``.
    """
    if not isinstance(params, Mapping):
        raise ProblemError(
            f"params: expected a dict name -> Quantity for {space.names}, got {params!r}"
        )
    theta = space.to_array(params)
    scalar = theta.ndim == 1
    theta = np.atleast_2d(theta)
    from sbi.inference import DirectPosterior

    with torch_threads(threads), torch.no_grad():
        if isinstance(posterior, DirectPosterior):
            values = posterior.log_prob(space.to_torch(theta))  # normalized (leakage too)
        else:
            # MCMC, rejection...: sbi knows these only up to a constant, as their potential
            values = posterior.potential(space.to_torch(theta))
    out = values.detach().cpu().double().numpy() + space.log_jacobian_at(theta)
    return float(out[0]) if scalar else out


# ---------------------------------------------------------------------- summary
@dataclass(frozen=True)
class PosteriorSummary:
    """Marginal statistics of posterior samples, per parameter, with units.

    Attributes
    ----------
    names : list of str
        Parameter names.
    units : list of brian2 Unit
        Display unit of each parameter (the statistics are shown in it).
    mean, std, median, lower, upper : numpy.ndarray
        Statistics in SI units, shape ``(d,)``; ``lower``/``upper`` bound the central credible
        interval of probability ``level``.
    level : float
        Probability mass of the credible interval.
    n_samples : int
        Number of samples the statistics come from.
    """

    names: list[str]
    units: list[Any]
    mean: np.ndarray
    std: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    n_samples: int

    _STATS = ("mean", "std", "median", "lower", "upper")

    def quantities(self, stat: str) -> dict[str, Quantity]:
        """One statistic (``'mean'``, ``'std'``, ``'median'``, ``'lower'``, ``'upper'``) as a
        dict name → Quantity."""
        if stat not in self._STATS:
            raise ValueError(f"stat: expected one of {self._STATS}, got {stat!r}")
        values = getattr(self, stat)
        return {
            name: Quantity(values[j], dim=get_dimensions(unit))
            for j, (name, unit) in enumerate(zip(self.names, self.units, strict=True))
        }

    def _columns(self) -> list[str]:
        lo = 100 * (1 - self.level) / 2
        return ["mean", "std", "median", f"{lo:g}%", f"{100 - lo:g}%"]

    def _rows(self) -> list[list[float]]:
        rows = []
        for j, unit in enumerate(self.units):
            scale = float(unit)
            rows.append([float(getattr(self, s)[j]) / scale for s in self._STATS])
        return rows

    def to_dataframe(self) -> Any:
        """A pandas DataFrame: one row per parameter, values in the ``unit`` column's unit."""
        import pandas as pd

        frame = pd.DataFrame(self._rows(), index=list(self.names), columns=self._columns())
        frame.insert(0, "unit", [str(u) for u in self.units])
        frame.index.name = "parameter"
        return frame

    def __str__(self) -> str:
        header = ["parameter", "unit", *self._columns()]
        body = [
            [name, str(unit), *(f"{v:.4g}" for v in row)]
            for name, unit, row in zip(self.names, self.units, self._rows(), strict=True)
        ]
        widths = [max(len(r[k]) for r in [header, *body]) for k in range(len(header))]
        lines = [
            "  ".join(
                c.rjust(w) if k > 1 else c.ljust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [header, *body]
        ]
        title = (
            f"Posterior summary ({self.n_samples} samples, {self.level:.0%} central credible "
            f"interval)"
        )
        return "\n".join([title, *lines])

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html()


def summarize(space: ParameterSpace, samples: np.ndarray, level: float = 0.9) -> PosteriorSummary:
    """Mean, std, median and central ``level`` credible interval of SI ``samples (n, d)``."""
    if not 0 < level < 1:
        raise ProblemError(f"level: expected a probability in (0, 1), got {level!r}")
    samples = np.asarray(samples, dtype=float)
    tail = 100 * (1 - level) / 2
    lower, median, upper = np.percentile(samples, [tail, 50, 100 - tail], axis=0)
    return PosteriorSummary(
        names=list(space.names),
        units=[space.display_unit(j) for j in range(space.dim)],
        mean=samples.mean(axis=0),
        std=samples.std(axis=0, ddof=1) if len(samples) > 1 else np.zeros(space.dim),
        median=median,
        lower=lower,
        upper=upper,
        level=float(level),
        n_samples=len(samples),
    )
