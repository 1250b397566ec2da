"""C++ standalone device: compiled once, same results as the runtime device (one small build)."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, set_device
from brian2.devices.device import reset_device
from conftest import EL, passive_inputs, window_features
from test_simulation_parallel import noisy_args

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.problem import Problem, ProblemError
from brian2modelfitting_sbi.simulation import resolve_device
from brian2modelfitting_sbi.simulation.standalone import StandaloneChunkSimulator


@pytest.mark.slow
def test_runtime_equals_standalone_without_recompiling(passive):
    def run(standalone: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
        inf = Inferencer(**noisy_args(passive), features=window_features())
        return inf.simulate(
            8, seed=seed, chunk_size=4, standalone=standalone, progress=False, **passive["bounds"]
        )

    builds = StandaloneChunkSimulator.n_builds
    for seed in (1, 2):  # two rounds of two chunks each on one compiled project
        theta_r, x_r = run(False, seed)
        theta_s, x_s = run(True, seed)
        np.testing.assert_array_equal(theta_s, theta_r)
        np.testing.assert_allclose(x_s, x_r, rtol=1e-9, atol=1e-12)
    assert StandaloneChunkSimulator.n_builds - builds == 1


def test_standalone_follows_set_device():
    assert resolve_device(None) == "runtime"
    set_device("cpp_standalone", build_on_run=False)
    try:
        assert resolve_device(None) == "cpp_standalone"
        assert resolve_device(False) == "runtime"
    finally:
        reset_device()
    with pytest.raises(ValueError, match="standalone"):
        resolve_device("yes")


def test_standalone_refuses_brian_random_numbers(passive):
    current = passive_inputs()
    model = """
    dv/dt = (gL*(EL - v) + I + I_noise)/C : volt
    I_noise = 10*pA*randn() : amp (constant over dt)
    gL : siemens (constant)
    C : farad (constant)
    """
    args = dict(
        input_var="I", input=current, output_var="v", output=passive["output"], dt=0.1 * ms,
        param_init={"v": EL}, namespace={"EL": EL},
    )  # fmt: skip
    inf = Inferencer(model, **args, features=window_features())
    with pytest.raises(ProblemError, match="standalone"):
        inf.simulate(4, standalone=True, progress=False, **passive["bounds"])
    assert inf.rounds == []  # nothing ran
    Problem.from_arguments(model, **args)  # the model itself is fine at runtime
    assert mV  # units imported for the fixture's sake
