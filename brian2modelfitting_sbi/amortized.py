"""Amortized inference: one trained estimator, the posteriors of many recordings.

A single-round neural posterior estimator (SNPE) learns ``p(theta | x)`` for every ``x`` the
prior can produce: once trained, the posterior of a new recording made with the same stimulus
protocol costs a forward pass, not a new inference. :func:`condition_recordings` takes new
recordings in the constructor's ``output``/``output_var`` forms, checks them against the
training problem (output variables, units, number of traces and steps, dt, stimuli), computes
their features in one pass, flags those whose features lie outside the training simulations,
and returns one :class:`RecordingPosterior` per recording, gathered in
:class:`AmortizedResults` (a table of medians and credible intervals, CSV export, ArviZ).

Methods that are not amortized still work, at a cost that is said: SNLE and SNRE sample every
recording's posterior by MCMC or rejection (a warning gives the measured time per recording);
multi-round SNPE is refused, since its proposal-corrected posterior is valid only at the
observation it was trained for.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from brian2 import Quantity, second
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from .diagnostics import Z_LIMIT, FeatureOutlier, check_observation
from .errors import Brian2SbiError, require_fitted
from .problem import (
    SPIKES,
    Problem,
    ProblemError,
    _as_spike_trains,
    _as_trace_array,
    _normalize_io,
)
from .results import PosteriorSummary, map_estimate, seeded, summarize
from .simulation import SimulationResult
from .training import torch_threads

#: Settings of the batched MAP search (gradient ascent from the best posterior samples).
MAP_ITERATIONS = 300
MAP_STARTS = 10
MAP_LEARNING_RATE = 0.01
#: Largest ``n_recordings × n_samples`` drawn in one batched call (sbi warns above 2**21).
MAX_BATCH_DRAWS = 2**20
#: sbi caps ``max_sampling_batch_size × n_recordings`` at this (and warns when it must).
_SBI_BATCH_CAP = 100_000


class NotAmortizedError(Brian2SbiError, RuntimeError):
    """The trained posterior cannot be reused for other recordings."""


# ---------------------------------------------------------------------- results
@dataclass
class RecordingPosterior:
    """The posterior of one recording, in the fitters' conventions.

    Attributes
    ----------
    name : str
        The recording's name (its index in the batch unless names were given).
    x : numpy.ndarray
        Its features ``(k,)``.
    sample_array : numpy.ndarray
        Posterior samples in SI units ``(n, d)``, columns in ``space.names`` order.
    summary : PosteriorSummary
        Mean, std, median and central credible interval of each parameter, with units.
    flags : list of FeatureOutlier
        Features outside the training simulations (empty for a typical recording).
    space : ParameterSpace
        The parameters, their units and prior box.
    feature_names : list of str
        Names of the features in ``x``.
    seconds : float
        Time spent on this recording's posterior (sampling; batched draws are shared evenly).
    """

    name: str
    x: np.ndarray
    sample_array: np.ndarray
    summary: PosteriorSummary
    flags: list[FeatureOutlier]
    space: Any
    feature_names: list[str]
    seconds: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)
    _map: np.ndarray | None = field(default=None, repr=False)
    _map_fn: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    @property
    def samples(self) -> dict[str, Quantity]:
        """Posterior samples as a dict name → Quantity array."""
        return self.space.to_quantities(self.sample_array)

    @property
    def misspecified(self) -> bool:
        """Whether some features lie outside the training simulations (see :attr:`flags`)."""
        return bool(self.flags)

    @property
    def flagged_features(self) -> list[str]:
        """Names of the flagged features, most extreme first."""
        return [f.name for f in self.flags]

    def map_array(self) -> np.ndarray:
        """The MAP estimate as SI floats ``(d,)`` (searched on first use, then cached)."""
        if self._map is None:
            if self._map_fn is None:
                raise RuntimeError(f"recording {self.name}: no MAP estimate available")
            self._map = np.asarray(self._map_fn(), dtype=float)
        return self._map

    @property
    def best_params(self) -> dict[str, Quantity]:
        """The maximum a posteriori parameters, dict name → Quantity (like ``fitter``'s)."""
        return self.space.to_quantities(self.map_array())

    def to_arviz(self) -> Any:
        """The samples as an ArviZ ``InferenceData`` (units in the variables' attributes,
        this recording's features in ``observed_data``)."""
        from .interop import to_arviz

        return to_arviz(
            self.space,
            self.sample_array,
            x_o=self.x,
            feature_names=list(self.feature_names),
            attrs={
                **self.attrs,
                "recording": str(self.name),
                "misspecified": int(self.misspecified),
                "flagged_features": ";".join(self.flagged_features),
            },
        )

    def __str__(self) -> str:
        flag = (
            f"  FLAGGED (features outside the training simulations: "
            f"{', '.join(self.flagged_features)})"
            if self.flags
            else ""
        )
        return f"Recording {self.name}{flag}\n{self.summary}"


class AmortizedResults(Sequence):
    """The posteriors of a batch of recordings: a sequence of :class:`RecordingPosterior`.

    Index it by position (``results[0]``) or by name (``results['cell-7']``), or iterate;
    :meth:`to_dataframe` and :meth:`to_csv` give one row per recording and parameter.
    """

    COLUMNS = (
        "recording",
        "parameter",
        "unit",
        "median",
        "lower",
        "upper",
        "level",
        "misspecified",
        "flagged_features",
    )

    def __init__(self, recordings: Sequence[RecordingPosterior], info: Mapping[str, Any]) -> None:
        self.recordings = list(recordings)
        #: How the posteriors were obtained: backend, sampling mode, timings.
        self.info = dict(info)

    def __len__(self) -> int:
        return len(self.recordings)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            for rec in self.recordings:
                if rec.name == index:
                    return rec
            raise KeyError(f"no recording named {index!r}; names: {self.names[:10]}")
        if isinstance(index, slice):
            return AmortizedResults(self.recordings[index], self.info)
        return self.recordings[index]

    def __iter__(self) -> Iterator[RecordingPosterior]:
        return iter(self.recordings)

    @property
    def names(self) -> list[str]:
        """Names of the recordings, in order."""
        return [r.name for r in self.recordings]

    @property
    def misspecified(self) -> list[str]:
        """Names of the recordings with flagged features."""
        return [r.name for r in self.recordings if r.misspecified]

    def best_params(self) -> list[dict[str, Quantity]]:
        """The MAP estimate of every recording."""
        return [r.best_params for r in self.recordings]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per recording and parameter, keys :attr:`COLUMNS`; values in ``unit``."""
        rows = []
        for rec in self.recordings:
            s = rec.summary
            flagged = ";".join(rec.flagged_features)
            for j, (name, unit) in enumerate(zip(s.names, s.units, strict=True)):
                scale = float(unit)
                rows.append(
                    {
                        "recording": rec.name,
                        "parameter": name,
                        "unit": str(unit),
                        "median": float(s.median[j]) / scale,
                        "lower": float(s.lower[j]) / scale,
                        "upper": float(s.upper[j]) / scale,
                        "level": s.level,
                        "misspecified": rec.misspecified,
                        "flagged_features": flagged,
                    }
                )
        return rows

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one row per recording and parameter (:attr:`COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(self.COLUMNS))

    def to_csv(self, path: Any) -> None:
        """Write :meth:`to_dataframe` to ``path`` (no index column)."""
        self.to_dataframe().to_csv(path, index=False)

    def to_arviz(self) -> dict[str, Any]:
        """One ArviZ ``InferenceData`` per recording, keyed by recording name."""
        return {r.name: r.to_arviz() for r in self.recordings}

    def __str__(self) -> str:
        n_flag = len(self.misspecified)
        head = (
            f"{len(self)} recordings ({self.info.get('backend', '?')}, "
            f"{self.info.get('mode', '?')} sampling, {self.info.get('seconds', 0.0):.3g} s); "
            f"{n_flag} flagged"
        )
        return head + "\n" + self.to_dataframe().to_string(index=False)

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html(index=False)


# ---------------------------------------------------------------------- validation
def check_protocol(
    problem: Problem,
    input: Any = None,  # noqa: A002 - the fitters' name
    input_var: str | Sequence[str] | None = None,
    dt: Quantity | None = None,
) -> None:
    """Refuse a stimulus protocol (``input``, ``dt``) other than the training problem's.

    ``None`` means "the training protocol" and is not checked.
    """
    if dt is not None:
        if not isinstance(dt, Quantity) or np.ndim(dt) != 0 or get_dimensions(dt) != second.dim:
            raise ProblemError(f"dt: expected a time (e.g. 0.1*ms), got {dt!r}")
        if not np.isclose(float(dt), problem.dt, rtol=1e-9, atol=0):
            raise ProblemError(
                f"dt: the recordings must have the training dt ({_q(problem.dt, second)}), "
                f"got {dt!r}; resample them, or train an inference for this dt"
            )
    if input is None:
        return
    given = _normalize_io("input", input_var, input)
    if set(given) != set(problem.inputs):
        raise ProblemError(
            f"input: expected the training input variables {sorted(problem.inputs)}, "
            f"got {sorted(given)}"
        )
    for var, value in given.items():
        arr, unit = _as_trace_array(f"input[{var!r}]", value)
        expected_unit = problem.input_units[var]
        if get_dimensions(unit) != get_dimensions(expected_unit):
            raise ProblemError(
                f"input[{var!r}]: expected units of {expected_unit!r} (the training stimulus), "
                f"got {_unit_text(unit)}"
            )
        train = problem.inputs[var]
        if arr.shape != train.shape:
            raise ProblemError(
                f"input[{var!r}]: expected shape {train.shape} (n_traces, n_steps) of the "
                f"training stimulus, got {arr.shape}"
            )
        scale = float(np.max(np.abs(train))) or 1.0
        diff = np.abs(arr - train)
        if np.max(diff) > 1e-6 * scale:
            k, s = np.unravel_index(int(np.argmax(diff)), diff.shape)
            raise ProblemError(
                f"input[{var!r}]: differs from the training stimulus (trace {k}, step {s}: "
                f"expected {_q(train[k, s], expected_unit)}, got {_q(arr[k, s], expected_unit)}); "
                f"the estimator only knows the training protocol, so train an inference with "
                f"this one"
            )


def normalize_recording(
    problem: Problem, output: Any, output_var: str | Sequence[str] | None, label: str
) -> dict[str, Any]:
    """One recording in the constructor's forms → ``{var: SI array or spike trains}``.

    Refuses output variables, units, shapes (``n_traces``, ``n_steps``) other than the
    training problem's, naming the recording (``label``), what was expected and what was given.
    """
    if output_var is None and not isinstance(output, Mapping):
        if len(problem.outputs) != 1:
            raise ProblemError(
                f"{label}: give output_var= or a dict, since the training problem observes "
                f"{sorted(problem.outputs)}"
            )
        output_var = next(iter(problem.outputs))
    try:
        given = _normalize_io("output", output_var, output)
    except ProblemError as exc:
        raise ProblemError(f"{label}: {exc}") from None
    if set(given) != set(problem.outputs):
        raise ProblemError(
            f"{label}: expected the output variables of the training problem "
            f"{sorted(problem.outputs)}, got {sorted(given)}"
        )
    shape = (problem.n_traces, problem.n_steps)
    out: dict[str, Any] = {}
    for var, value in given.items():
        where = f"{label}[{var!r}]"
        if var == SPIKES:
            out[var] = _as_spike_trains(where, value, problem.n_traces, problem.duration)
            continue
        arr, unit = _as_trace_array(where, value)
        expected = problem.output_units[var]
        if get_dimensions(unit) != get_dimensions(expected):
            raise ProblemError(f"{where}: expected units of {expected!r}, got {_unit_text(unit)}")
        if arr.shape != shape:
            reason = (
                f"{problem.n_traces} traces, one per stimulus"
                if arr.shape[0] != shape[0]
                else f"{problem.n_steps} steps of dt={_q(problem.dt, second)}, "
                f"i.e. {_q(problem.duration, second)}"
            )
            raise ProblemError(
                f"{where}: expected shape {shape} (n_traces, n_steps) like the training "
                f"recordings ({reason}), got {arr.shape}; recordings must follow the training "
                f"protocol (same stimuli, dt and duration)"
            )
        out[var] = arr
    return out


def batch_result(problem: Problem, recordings: Sequence[Mapping[str, Any]]) -> SimulationResult:
    """Normalized recordings as one :class:`SimulationResult` (``n_samples`` = recordings)."""
    return SimulationResult.from_recordings(problem, recordings)


# ---------------------------------------------------------------------- amortization
def amortization_status(inferencer: Any) -> tuple[bool, str]:
    """``(amortized, reason)`` for a trained inferencer.

    Raises :class:`NotAmortizedError` for multi-round SNPE (refused), and ``RuntimeError``
    when nothing is trained yet.
    """
    require_fitted(getattr(inferencer, "posterior", None), "posterior", "infer()")
    require_fitted(inferencer.backend, "posterior", "infer()")
    backend = inferencer.backend
    kind = type(backend).__name__
    proposals = getattr(inferencer, "_proposals", None)
    if proposals is None:  # an inferencer-like object without the record: judge by rounds
        sequential = len(inferencer.rounds) > 1
    else:  # rounds drawn from a posterior (rounds of prior draws stay amortized)
        sequential = any(p is not None for p in proposals)
    amortized = bool(getattr(backend, "amortized", False))
    if amortized and sequential:
        raise NotAmortizedError(
            f"{kind} was trained in {len(inferencer.rounds)} rounds: from round 2 on, the "
            f"simulations were drawn from the posterior at the training observation, and the "
            f"proposal-corrected estimator is only valid at (and near) that observation, not "
            f"for other recordings. Train one round from the prior to condition on many "
            f"recordings: infer(n_samples, backend='snpe', n_rounds=1, restart=True, ...)"
        )
    if amortized:
        return True, f"{kind} is amortized"
    reason = (
        f"{kind} is not amortized: each recording's posterior needs its own sampling run "
        f"(MCMC or rejection sampling)"
    )
    if sequential:
        reason += (
            f"; moreover its estimator was trained in {len(inferencer.rounds)} rounds on "
            f"simulations concentrated near the training observation, so it is less accurate "
            f"for recordings far from it"
        )
    return False, reason


def content_seed(seed: int | None, x: np.ndarray) -> int | None:
    """A seed for one recording, from ``seed`` and its features: the same recording gets the
    same samples whatever the batch it comes in."""
    if seed is None:
        return None
    digest = hashlib.sha256(np.int64(seed).tobytes() + np.ascontiguousarray(x).tobytes())
    return int.from_bytes(digest.digest()[:4], "little")


def _is_direct(posterior: Any) -> bool:
    from sbi.inference import DirectPosterior

    return isinstance(posterior, DirectPosterior)


def draw_batched(
    posterior: Any, x: torch.Tensor, n: int, seed: int | None, threads: int | None
) -> torch.Tensor:
    """``n`` samples for each row of ``x`` with one network pass per chunk: ``(B, n, d)``."""
    per_chunk = max(1, MAX_BATCH_DRAWS // n)
    out = []
    with seeded(seed), torch_threads(threads), torch.no_grad():
        for start in range(0, len(x), per_chunk):
            chunk = x[start : start + per_chunk]
            samples = posterior.sample_batched(
                (int(n),),
                x=chunk,
                show_progress_bars=False,
                max_sampling_batch_size=max(1, _SBI_BATCH_CAP // len(chunk)),
            )
            out.append(samples.transpose(0, 1))
    return torch.cat(out)


def batched_map(
    estimator: Any,
    x: torch.Tensor,
    starts: torch.Tensor,
    *,
    num_to_optimize: int = MAP_STARTS,
    num_iter: int = MAP_ITERATIONS,
    learning_rate: float = MAP_LEARNING_RATE,
    threads: int | None = 1,
) -> torch.Tensor:
    """MAP in the unit box of every row of ``x`` by one batched gradient ascent.

    Starts from the ``num_to_optimize`` best of ``starts`` ``(B, n, d)`` (posterior samples)
    and climbs the estimator's log density in logit coordinates (which keep the box), like
    sbi's ``posterior.map``. Each start moves independently, so a recording's estimate does
    not depend on the others in the batch. Returns ``(B, d)``.
    """
    eps = 1e-6
    with torch_threads(threads):
        theta0 = starts.transpose(0, 1).clamp(eps, 1 - eps)  # (n, B, d)
        with torch.no_grad():
            lp0 = estimator.log_prob(theta0, condition=x)  # (n, B)
        m = min(int(num_to_optimize), theta0.shape[0])
        top = lp0.topk(m, dim=0).indices  # (m, B)
        index = top.unsqueeze(-1).expand(m, theta0.shape[1], theta0.shape[2])
        best = theta0.gather(0, index)  # (m, B, d)
        best_lp = lp0.gather(0, top)
        u = torch.logit(best).detach().requires_grad_(True)
        optimizer = torch.optim.Adam([u], lr=learning_rate)
        for _ in range(int(num_iter)):
            optimizer.zero_grad()
            theta = torch.sigmoid(u)
            lp = estimator.log_prob(theta, condition=x)
            (grad,) = torch.autograd.grad(-lp.sum(), u)
            u.grad = grad
            with torch.no_grad():
                better = lp > best_lp
                best = torch.where(better.unsqueeze(-1), theta.detach(), best)
                best_lp = torch.where(better, lp.detach(), best_lp)
            optimizer.step()
        with torch.no_grad():
            theta = torch.sigmoid(u)
            lp = estimator.log_prob(theta, condition=x)
            better = lp > best_lp
            best = torch.where(better.unsqueeze(-1), theta, best)
            best_lp = torch.where(better, lp, best_lp)
            winner = best_lp.argmax(dim=0)  # (B,)
            return best[winner, torch.arange(best.shape[1])]


def posteriors_from_features(
    inferencer: Any,
    x: np.ndarray,
    names: Sequence[str],
    *,
    n_samples: int = 1000,
    level: float = 0.9,
    seed: int | None = 0,
    batched: bool = False,
    with_map: bool = True,
    z_limit: float | None = None,
    threads: int | None = 1,
) -> AmortizedResults:
    """The posterior of every row of features ``x`` ``(B, k)`` from the trained estimator.

    See :meth:`Inferencer.condition_many <brian2modelfitting_sbi.Inferencer.condition_many>`
    for the parameters. Features must be finite (SI units, like ``inferencer.x``).
    """
    amortized, reason = amortization_status(inferencer)
    space = inferencer.space
    feature_names = list(inferencer.feature_names)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.ndim != 2 or x.shape[1] != len(feature_names) or not np.all(np.isfinite(x)):
        raise ProblemError(
            f"x: expected finite features (n_recordings, {len(feature_names)}), got an array "
            f"of shape {x.shape}"
        )
    if len(names) != len(x):
        raise ProblemError(f"names: expected {len(x)} names (one per recording), got {len(names)}")
    _check_options(n_samples, level, z_limit)
    limit = Z_LIMIT if z_limit is None else float(z_limit)
    flags = [check_observation(inferencer.x, row, feature_names, limit) for row in x]
    x_t = inferencer.x_to_torch(x)  # the scaled float32 features the estimator saw
    backend_name = type(inferencer.backend).__name__
    posterior = inferencer.posterior
    direct = amortized and _is_direct(posterior)
    start = time.perf_counter()
    seconds = np.zeros(len(x))
    maps: list[np.ndarray | None] = [None] * len(x)
    map_fns: list[Callable[[], np.ndarray] | None] = [None] * len(x)
    if direct:
        if batched and hasattr(posterior, "sample_batched"):
            mode = "batched"
            unit_samples = draw_batched(posterior, x_t, n_samples, seed, threads)
        else:
            mode = "per-recording"
            unit_samples = torch.stack(
                [
                    draw_one(
                        posterior, x_t[i : i + 1], n_samples, content_seed(seed, x[i]), threads
                    )
                    for i in range(len(x))
                ]
            )
        for i in range(len(x)):
            map_fns[i] = _direct_map_fn(posterior, x_t[i : i + 1], unit_samples[i], space, threads)
        if with_map:
            best = batched_map(posterior.posterior_estimator, x_t, unit_samples, threads=threads)
            maps = list(space.from_torch(best))
        seconds[:] = (time.perf_counter() - start) / len(x)
    else:
        # one posterior per recording: MCMC or rejection sampling (SNLE, SNRE), or a plugin
        # backend that builds its posterior for one observation at a time
        mode = "per-recording"
        unit_list = []
        for i in range(len(x)):
            t0 = time.perf_counter()
            post_i = _posterior_at(inferencer, x_t[i : i + 1], threads)
            unit_list.append(draw_one(post_i, None, n_samples, content_seed(seed, x[i]), threads))
            map_fns[i] = _lazy_map(post_i, space, unit_list[-1], seed, threads)
            if with_map:
                maps[i] = map_fns[i]()
            seconds[i] = time.perf_counter() - t0
            if i == 0 and not amortized:
                _warn_cost(reason, inferencer.backend, seconds[0], len(x))
        unit_samples = torch.stack(unit_list)
    total = time.perf_counter() - start
    results = []
    for i, name in enumerate(names):
        samples = space.from_torch(unit_samples[i])
        results.append(
            RecordingPosterior(
                name=str(name),
                x=x[i],
                sample_array=samples,
                summary=summarize(space, samples, level),
                flags=flags[i],
                space=space,
                feature_names=feature_names,
                seconds=float(seconds[i]),
                attrs={"backend": backend_name},
                _map=maps[i],
                _map_fn=map_fns[i],
            )
        )
    _warn_flagged(results)
    info = {"backend": backend_name, "mode": mode, "amortized": amortized, "seconds": total}
    return AmortizedResults(results, info)


def draw_one(
    posterior: Any, x: torch.Tensor | None, n: int, seed: int | None, threads: int | None
) -> torch.Tensor:
    """``n`` samples ``(n, d)`` of one posterior (at ``x``, or its default x if None)."""
    kwargs = {} if x is None else {"x": x}
    with seeded(seed), torch_threads(threads):
        return posterior.sample((int(n),), show_progress_bars=False, **kwargs)


def _check_options(n_samples: Any, level: Any, z_limit: Any) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 2:
        raise ProblemError(f"n_samples: expected an integer >= 2, got {n_samples!r}")
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ProblemError(f"level: expected a probability in (0, 1), got {level!r}")
    if z_limit is not None and (not isinstance(z_limit, float | int) or not z_limit > 0):
        raise ProblemError(f"z_limit: expected a positive number, got {z_limit!r}")


def _direct_map_fn(
    posterior: Any, x: torch.Tensor, samples: torch.Tensor, space: Any, threads: int | None
) -> Callable[[], np.ndarray]:
    def search() -> np.ndarray:
        best = batched_map(posterior.posterior_estimator, x, samples[None], threads=threads)
        return space.from_torch(best)[0]

    return search


def _lazy_map(
    posterior: Any, space: Any, samples: torch.Tensor, seed: int | None, threads: int | None
) -> Callable[[], np.ndarray]:
    def search() -> np.ndarray:
        return map_estimate(
            posterior,
            space,
            seed=seed,
            threads=threads,
            init_method=samples,
            num_to_optimize=min(MAP_STARTS, len(samples)),
        )

    return search


def _posterior_at(inferencer: Any, x: torch.Tensor, threads: int | None) -> Any:
    with torch_threads(threads):
        return inferencer.backend.build_posterior(x)


def _warn_cost(reason: str, backend: Any, seconds: float, n: int) -> None:
    how = (getattr(backend, "last_sampling", None) or {}).get("sample_with")
    sampler = f" ({how} sampling)" if how else ""
    rest = f"; about {seconds * n:.3g} s for all {n} recordings" if n > 1 else ""
    warnings.warn(
        f"{reason}: {seconds:.3g} s for the first recording{sampler}{rest}. An amortized "
        f"single-round SNPE gives each posterior in milliseconds",
        RuntimeWarning,
        stacklevel=5,
    )


def _warn_flagged(results: Sequence[RecordingPosterior]) -> None:
    flagged = [r for r in results if r.flags]
    if not flagged:
        return
    shown = "; ".join(
        f"{r.name}: {', '.join(r.flagged_features[:3])}"
        + (f" (+{len(r.flags) - 3})" if len(r.flags) > 3 else "")
        for r in flagged[:5]
    )
    more = f"; and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    warnings.warn(
        f"{len(flagged)} of {len(results)} recordings have features outside the training "
        f"simulations ({shown}{more}); their posteriors extrapolate and are marked "
        f"misspecified (see .flags)",
        RuntimeWarning,
        stacklevel=5,
    )


def condition_recordings(
    inferencer: Any,
    outputs: Sequence[Any],
    output_var: str | Sequence[str] | None = None,
    *,
    input: Any = None,  # noqa: A002 - the fitters' name
    input_var: str | Sequence[str] | None = None,
    dt: Quantity | None = None,
    names: Sequence[Any] | None = None,
    **options: Any,
) -> AmortizedResults:
    """Validate recordings, compute their features in one pass, and condition on them.

    See :meth:`Inferencer.condition_many <brian2modelfitting_sbi.Inferencer.condition_many>`.
    """
    from .io import SavedFeatures

    amortization_status(inferencer)  # refuse early, before any feature is computed
    _check_options(options.get("n_samples", 2), options.get("level", 0.5), options.get("z_limit"))
    if isinstance(inferencer.features, SavedFeatures):
        raise ProblemError(
            "features: this Inferencer was loaded without its feature code; load it with "
            "Inferencer.load(path, features=...) to compute the features of new recordings"
        )
    problem = inferencer.problem
    outputs = _as_recording_list(outputs)
    if names is None:
        names = [str(i) for i in range(len(outputs))]
    names = [str(n) for n in names]
    if len(names) != len(outputs):
        raise ProblemError(
            f"names: expected one name per recording ({len(outputs)}), got {len(names)}"
        )
    if len(set(names)) != len(names):
        raise ProblemError("names: recording names must be unique")
    check_protocol(problem, input, input_var, dt)
    recordings = [
        normalize_recording(problem, out, output_var, f"outputs[{i}]")
        for i, out in enumerate(outputs)
    ]
    x = np.asarray(inferencer.features.compute(batch_result(problem, recordings)), dtype=float)
    if x.shape != (len(outputs), len(inferencer.feature_names)):
        raise RuntimeError(
            f"features: expected an array {(len(outputs), len(inferencer.feature_names))}, "
            f"got {x.shape}"
        )
    bad = ~np.all(np.isfinite(x), axis=1)
    if bad.any():
        details = "; ".join(
            f"{names[i]}: {[n for n, v in zip(inferencer.feature_names, x[i], strict=True) if not np.isfinite(v)]}"  # noqa: E501
            for i in np.flatnonzero(bad)[:5]
        )
        raise ProblemError(
            f"outputs: {int(bad.sum())} recording(s) give non-finite features ({details}); "
            f"no posterior can be conditioned on them: leave them out or choose features "
            f"defined for them"
        )
    return posteriors_from_features(inferencer, x, names, **options)


def _as_recording_list(outputs: Any) -> list[Any]:
    """A list of recordings; a 3-D array ``(n_recordings, n_traces, n_steps)`` is split."""
    if isinstance(outputs, Mapping):
        raise ProblemError(
            "outputs: expected a list of recordings (each an array or a dict like the "
            "constructor's output), got a single dict; use condition() for one recording"
        )
    if isinstance(outputs, np.ndarray | Quantity):
        if np.ndim(outputs) != 3:
            raise ProblemError(
                f"outputs: expected a list of recordings or an array (n_recordings, n_traces, "
                f"n_steps), got an array of shape {np.shape(outputs)}"
            )
        return [outputs[i] for i in range(len(outputs))]
    if not isinstance(outputs, Sequence) or isinstance(outputs, str) or len(outputs) == 0:
        raise ProblemError(
            f"outputs: expected a non-empty list of recordings, got {type(outputs).__name__}"
        )
    return list(outputs)


# ---------------------------------------------------------------------- formatting
def _q(value: float, unit: Any) -> str:
    return str(Quantity(value, dim=get_dimensions(unit)))


def _unit_text(unit: Any) -> str:
    return "a unitless array" if get_dimensions(unit) is DIMENSIONLESS else repr(unit)
