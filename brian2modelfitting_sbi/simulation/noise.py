"""Per-sample noise streams for models with ``xi`` terms, so that noise ignores the chunking.

Brian 2 draws the white noise ``xi`` of all neurons of a group from one random stream,
interleaved neuron by neuron at each time step: the noise a neuron sees depends on the size
of its group and on its position in it, hence on the chunking, on the worker and on the device
(runtime and C++ standalone use different generators).

For the integration methods whose stochastic scheme is the deterministic scheme fed with a
normal number held over the step — Euler–Maruyama (``'euler'``) and stochastic Heun
(``'heun'``) — each ``xi`` is replaced by a per-neuron variable set at the start of every time
step from pre-drawn standard normal numbers divided by ``sqrt(dt)``. The numbers of sample
``g`` of a round come from its own generator, ``SeedSequence(entropy, spawn_key=(g,))``, so a
sample's noise depends only on the round's seed and on its index: the same whatever the chunk
size, the number of workers or the device.

Limits (see :func:`plan_noise`): other integration methods (``'milstein'``, user-defined
schemes) keep Brian's own generator, seeded per chunk (reproducible for a given seed *and*
chunk size, on the runtime device only); so do ``rand()``/``randn()`` used elsewhere in the
model, in ``reset`` or in ``threshold``. The pre-drawn numbers take ``8 * n_steps`` bytes per
neuron and noise term while a chunk runs, and drawing them costs about as much as a few
neuron-steps of a simple model per number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from brian2 import Equations
from brian2.utils.stringtools import get_identifiers

from ..problem import Problem

#: Integration methods whose stochastic scheme equals the deterministic one driven by a
#: normal number per step (so the noise can be supplied from outside).
PER_SAMPLE_METHODS = ("euler", "heun")
#: Brian's random functions, which use its (chunk-dependent) global generator.
_RANDOM_FUNCTIONS = {"rand", "randn", "poisson"}


@dataclass(frozen=True)
class NoisePlan:
    """How the ``xi`` terms of a model are fed with per-sample noise.

    Attributes
    ----------
    variables : tuple of str
        The model's noise symbols (``'xi'``, ``'xi_1'``, ...).
    equations : brian2.Equations
        The model with each symbol replaced by a per-neuron parameter.
    method : str
        The integration method to use with the rewritten equations.
    """

    variables: tuple[str, ...]
    equations: Equations
    method: str

    def state_name(self, var: str) -> str:
        """Name of the per-neuron variable that replaces ``var``."""
        return f"sbi_noise_{var}"

    def array_name(self, var: str) -> str:
        """Name of the ``TimedArray`` that holds the normal numbers for ``var``."""
        return f"sbi_normal_{var}"

    @property
    def update_code(self) -> str:
        """Code run at the start of each step: draw the step's noise from the arrays."""
        return "\n".join(
            f"{self.state_name(v)} = {self.array_name(v)}(t, i) / sqrt(dt)" for v in self.variables
        )


def _effective_method(problem: Problem) -> str | None:
    if problem.method is not None:
        return problem.method
    # Brian tries 'exact' (deterministic only), then 'euler' (additive noise), then 'heun'.
    return "euler" if problem.equations.stochastic_type == "additive" else "heun"


def plan_noise(problem: Problem) -> NoisePlan | None:
    """The per-sample noise plan for ``problem``, or None (no ``xi``, or unsupported method).

    With None and ``xi`` in the model, Brian's own generator provides the noise (see the module
    documentation for what that means for reproducibility).
    """
    eqs = problem.equations
    variables = tuple(sorted(eqs.stochastic_variables))
    if not variables:
        return None
    method = _effective_method(problem)
    if method not in PER_SAMPLE_METHODS:
        return None
    plan = NoisePlan(variables, eqs, method)
    new = eqs.substitute(**{v: plan.state_name(v) for v in variables})
    declarations = "\n".join(f"{plan.state_name(v)} : second**-0.5" for v in variables)
    return NoisePlan(variables, new + Equations(declarations), method)


def uses_brian_random(problem: Problem, plan: NoisePlan | None) -> bool:
    """Whether the simulation draws from Brian's global generator (chunk-dependent)."""
    names: set[str] = set()
    for eq in problem.equations.values():
        if eq.expr is not None:
            names |= get_identifiers(eq.expr.code)
    for code in (problem.threshold, problem.reset, problem.refractory):
        if isinstance(code, str):
            names |= get_identifiers(code)
    if names & _RANDOM_FUNCTIONS:
        return True
    return bool(problem.equations.stochastic_variables) and plan is None


def sample_generator(entropy: int, index: int) -> np.random.Generator:
    """The noise generator of sample ``index`` of a round seeded with ``entropy``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(index,))))


def fill_noise(
    arrays: Sequence[np.ndarray], entropy: int, start: int, m: int, n_traces: int
) -> None:
    """Write the standard normal numbers of samples ``start .. start+m-1`` into ``arrays``.

    ``arrays[v]`` is the ``(n_steps, n_neurons)`` table of noise symbol ``v``; neuron
    ``k * n_traces + j`` is trace ``j`` of sample ``start + k``. Columns beyond the ``m``
    samples (padding) are set to zero.
    """
    if not arrays:
        return
    n_steps = arrays[0].shape[0]
    for arr in arrays:
        arr[:, m * n_traces :] = 0.0
    for k in range(m):
        rng = sample_generator(entropy, start + k)
        block = rng.standard_normal((len(arrays), n_traces, n_steps))
        cols = slice(k * n_traces, (k + 1) * n_traces)
        for v, arr in enumerate(arrays):
            arr[:, cols] = block[v].T


def noise_entropy(seed: int | None, entropy: int | None) -> int:
    """The entropy of a round's per-sample noise streams: ``entropy``, else ``seed``, else fresh."""
    if entropy is not None:
        return int(entropy)
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().entropy)
