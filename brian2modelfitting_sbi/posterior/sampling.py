"""Drawing from an sbi posterior, its MAP and log density, in SI units.

Everything here takes an sbi posterior (which works in the unit-box coordinates of
:meth:`ParameterSpace.to_torch <brian2modelfitting_sbi.priors.ParameterSpace.to_torch>`) and
the :class:`~brian2modelfitting_sbi.priors.ParameterSpace` that maps those coordinates back to
SI floats and Brian 2 quantities.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from ..errors import ProblemError, check_seed
from ..priors import ParameterSpace
from ..threads import torch_threads

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
    ``numpy.random``: both must be seeded for ``seed`` to give the same samples. A ``seed``
    that is not None or an integer in ``[0, 2**63)`` is refused (:class:`ProblemError`).
    """
    check_seed(seed)
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


def draw_one(
    posterior: Any, x: torch.Tensor | None, n: int, seed: int | None, threads: int | None
) -> torch.Tensor:
    """``n`` samples ``(n, d)`` of one posterior in the unit box (at ``x``, or its default x)."""
    kwargs = {} if x is None else {"x": x}
    with seeded(seed), torch_threads(threads):
        return posterior.sample((int(n),), show_progress_bars=False, **kwargs)


def is_direct(posterior: Any) -> bool:
    """Whether sbi samples ``posterior`` directly from its estimator (SNPE)."""
    from sbi.inference import DirectPosterior

    return isinstance(posterior, DirectPosterior)


def direct_at(posterior: Any, x: torch.Tensor) -> Any:
    """A new direct posterior over the same estimator, with its default x at ``x``.

    (sbi posteriors keep their default x in shared state: a copy would move the original's.)
    """
    from sbi.inference import DirectPosterior

    return DirectPosterior(
        posterior_estimator=posterior.posterior_estimator, prior=posterior.prior
    ).set_default_x(x)


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
    ``num_init_samples`` draws; ``options`` override :data:`DEFAULT_MAP_OPTIONS` (names
    outside :data:`MAP_OPTION_NAMES`, and counts or rates out of range, are refused).
    """
    _check_map_options(options)
    settings = {**DEFAULT_MAP_OPTIONS, **options}
    with seeded(seed), torch_threads(threads):
        if is_direct(posterior) and "init_method" not in settings:
            # start from posterior draws (cheap here), drawn without sbi's progress bar
            settings["init_method"] = posterior.sample(
                (int(settings["num_init_samples"]),), show_progress_bars=False
            )
        best = posterior.map(show_progress_bars=False, force_update=True, **settings)
    return space.from_torch(best.reshape(-1, space.dim))[0]


#: The ``posterior.map`` settings :func:`map_estimate` passes on (besides seed and threads).
MAP_OPTION_NAMES = (*DEFAULT_MAP_OPTIONS, "init_method", "save_best_every")


def _check_map_options(options: Mapping[str, Any]) -> None:
    """Refuse unknown ``map`` settings and counts that are not positive integers."""
    unknown = sorted(set(options) - set(MAP_OPTION_NAMES))
    if unknown:
        raise ProblemError(
            f"map options: unknown {unknown}; expected some of {list(MAP_OPTION_NAMES)} "
            f"(and seed, threads)"
        )
    for name in ("num_iter", "num_to_optimize", "num_init_samples", "save_best_every"):
        value = options.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
        ):
            raise ProblemError(f"map options: {name} must be an integer >= 1, got {value!r}")
    rate = options.get("learning_rate")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < np.inf
    ):
        raise ProblemError(f"map options: learning_rate must be a number > 0, got {rate!r}")


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
    with torch_threads(threads), torch.no_grad():
        if is_direct(posterior):
            values = posterior.log_prob(space.to_torch(theta))  # normalized (leakage too)
        else:
            # MCMC, rejection...: sbi knows these only up to a constant, as their potential
            values = posterior.potential(space.to_torch(theta))
    out = values.detach().cpu().double().numpy() + space.log_jacobian_at(theta)
    return float(out[0]) if scalar else out
