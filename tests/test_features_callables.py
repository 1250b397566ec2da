"""User callables as features: per-trace ``f(1-D) -> float`` and ``@vectorized`` ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import FAST_ESTIMATOR, FAST_TRAINING, fitter_args
from test_features_metrics import LIF_BOUNDS, lif  # noqa: F401 - the fixture is used below

from brian2modelfitting_sbi import Inferencer, vectorized
from brian2modelfitting_sbi.problem import ProblemError

TINY = {"training": FAST_TRAINING, "estimator_options": FAST_ESTIMATOR, "progress": False}


#: Window means (in steps) of the passive traces: rising, at the plateau, decaying.
WINDOWS = {"rise": (55, 100), "plateau": (200, 250), "decay": (255, 300)}


def window_means(vectorize: bool) -> list:
    """One callable per window (and the std), per-trace ``f(v)`` or ``@vectorized`` ``f(rows)``."""
    funcs = []
    for name, (a, b) in WINDOWS.items():
        if vectorize:
            def f(v, a=a, b=b):
                return v[:, a:b].mean(axis=1)
        else:
            def f(v, a=a, b=b):
                return v[a:b].mean()
        f.__name__ = name
        funcs.append(vectorized(f) if vectorize else f)
    funcs.append(vectorized(lambda v: v.std(axis=1)) if vectorize else np.std)
    if vectorize:
        funcs[-1].__name__ = "std"
    return funcs


def test_per_trace_and_vectorized_callables_end_to_end(passive):
    per_trace = Inferencer(**fitter_args(passive), features=window_means(vectorize=False))
    whole = Inferencer(**fitter_args(passive), features=window_means(vectorize=True))
    assert per_trace.feature_names == whole.feature_names
    assert per_trace.feature_names[:3] == ["v.rise[0]", "v.rise[1]", "v.plateau[0]"]
    assert per_trace.feature_names[-1] == "v.std[1]"
    np.testing.assert_allclose(per_trace.x_o, whole.x_o, rtol=1e-12)
    for inf in (per_trace, whole):
        inf.infer(n_samples=200, seed=11, **TINY, **passive["bounds"])
        samples = inf.sample(100, seed=0)
        assert set(samples) == set(passive["bounds"])
    # same seed, same simulations: both forms give the same features
    np.testing.assert_allclose(per_trace.x, whole.x, rtol=1e-12)


def test_mixed_callables_and_dict_form(passive):
    mixed = [np.mean, vectorized(lambda v: v.max(axis=1))]
    inf = Inferencer(**fitter_args(passive), features={"v": mixed})
    assert inf.feature_names == ["v.mean[0]", "v.mean[1]", "v.f1[0]", "v.f1[1]"]
    observed = np.asarray(passive["output"])
    np.testing.assert_allclose(
        inf.x_o[0], np.concatenate([observed.mean(axis=1), observed.max(axis=1)]), rtol=1e-12
    )


def test_per_trace_callables_on_spike_times_end_to_end(lif):  # noqa: F811 - fixture
    def first_spike(spikes):
        return spikes[0] if len(spikes) else 0.1

    args = {**lif, "output": {"spikes": lif["output"]["spikes"]}}
    inf = Inferencer(**args, features=[len, first_spike])
    trains = lif["output"]["spikes"]
    expected = [len(tr) for tr in trains] + [float(tr[0]) for tr in trains]
    np.testing.assert_allclose(inf.x_o[0], expected, rtol=1e-12)
    inf.infer(n_samples=150, seed=12, **TINY, **LIF_BOUNDS)
    assert np.all(np.isfinite(inf.x)) and inf.x[:, :2].min() >= 0


def test_vectorized_callable_with_the_wrong_shape(passive):
    with pytest.raises(ValueError, match="one value per trace"):
        Inferencer(**fitter_args(passive), features=[vectorized(lambda v: v.mean())])


def test_callable_undefined_on_the_recordings(passive):
    with pytest.raises(ProblemError, match="non-finite"):
        Inferencer(**fitter_args(passive), features=[lambda v: np.nan])


def test_a_run_with_callables_does_not_import_the_feature_library():
    """The library's numba kernels (about 50 MB) load on first use of EphysFeatures only."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from brian2 import ms, mV, nA, nS, pF
        from brian2modelfitting_sbi import Inferencer
        current = np.zeros((1, 100)); current[0, 20:80] = 0.3
        inf = Inferencer("dv/dt = (gL*(-70*mV - v) + I)/C : volt\\ngL : siemens (constant)\\n"
                         "C : farad (constant)", input_var="I", input=current * nA,
                         output_var="v", output=np.full((1, 100), -70.0) * mV, dt=0.1 * ms,
                         method="euler", param_init={"v": -70 * mV}, target="numpy",
                         features=[np.mean, np.max])
        inf.set_bounds(gL=[1 * nS, 20 * nS], C=[50 * pF, 400 * pF])
        inf.simulate(4, seed=0, progress=False)
        assert "numba" not in sys.modules, "numba imported"
        from brian2modelfitting_sbi.features import EphysFeatures
        assert "numba" in sys.modules and EphysFeatures.__module__.endswith(".library")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
