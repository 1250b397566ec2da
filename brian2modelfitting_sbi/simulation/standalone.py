"""The chunk simulator on Brian 2's C++ standalone device: compile once, run many times.

The project is generated and compiled once per process (about 10 s). Each chunk then runs the
compiled binary with its parameter values (and pre-drawn noise) given on the command line
through ``device.run(run_args=...)`` (Brian 2 >= 2.6), so new parameter values never regenerate
nor recompile the project. The binary runs single-threaded (no OpenMP), like the runtime
device; run several workers to use several cores.

Only one standalone project exists per process (Brian's standalone device is global): building
a simulator for other settings replaces the previous one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from multiprocessing.util import Finalize
from typing import ClassVar

import numpy as np
from brian2 import Network, prefs, second, set_device
from brian2.devices.device import all_devices, reset_device

from ..problem import Problem, ProblemError
from .network import ChunkSimulator, Recording, build_parts
from .noise import fill_noise, noise_entropy, plan_noise, uses_brian_random
from .result import SimulationResult


@contextlib.contextmanager
def _no_openmp() -> Iterator[None]:
    old = prefs.devices.cpp_standalone.openmp_threads
    prefs.devices.cpp_standalone.openmp_threads = 0
    try:
        yield
    finally:
        prefs.devices.cpp_standalone.openmp_threads = old


def check_standalone(problem: Problem) -> None:
    """Refuse models whose random numbers standalone runs could not reproduce."""
    if uses_brian_random(problem, plan_noise(problem)):
        raise ProblemError(
            "device: the C++ standalone device cannot reproduce this model's random numbers "
            "(rand()/randn()/poisson() in the model, reset or threshold, or xi noise with "
            f"method={problem.method!r}); use the runtime device, or write the noise with xi "
            "and method='euler' or 'heun'"
        )


class StandaloneChunkSimulator(ChunkSimulator):
    """A :class:`~.network.ChunkSimulator` compiled once as a C++ standalone project."""

    device = "cpp_standalone"
    #: Number of standalone projects compiled in this process.
    n_builds: ClassVar[int] = 0

    def __init__(
        self,
        problem: Problem,
        parameter_names: Sequence[str],
        chunk_size: int,
        recording: Recording,
    ) -> None:
        check_standalone(problem)
        super().__init__(problem, parameter_names, chunk_size, recording, target=None)

    def _build(self) -> None:
        std = all_devices["cpp_standalone"]
        std.reinit()  # forget any earlier project of this process
        self.directory = tempfile.mkdtemp(prefix="sbi_standalone_")
        # multiprocessing's Finalize also runs when a pool worker exits (atexit does not).
        self._cleanup = Finalize(self, shutil.rmtree, args=(self.directory, True), exitpriority=10)
        set_device(std, build_on_run=False)
        try:
            with _no_openmp():
                self.parts = build_parts(self.problem, self.chunk_size, self.recording, self.plan)
                self.network = Network(*self.parts.objects)
                self.network.run(self.problem.duration * second, namespace=self.parts.namespace)
                std.build(directory=self.directory, compile=True, run=False, with_output=False)
        finally:
            reset_device()
        self._device = std
        self._noise_values = [np.zeros_like(t.values) for t in self.parts.noise]

    def run(
        self,
        theta: np.ndarray,
        seed: int | None = None,
        *,
        start: int = 0,
        entropy: int | None = None,
        copy: bool = True,
    ) -> SimulationResult:
        """Run the compiled project for ``theta``; see :meth:`.ChunkSimulator.run`.

        ``seed`` only seeds the ``xi`` noise (when ``entropy`` is None): models that would
        need Brian's generator are refused at build.
        """
        padded, m = self._pad(theta)
        run_args: dict = {}
        for name, value in self.parameter_quantities(padded).items():
            run_args[getattr(self.parts.group, name)] = value
        if self.parts.noise:
            entropy = noise_entropy(seed, entropy)
            fill_noise(self._noise_values, entropy, start, m, self.problem.n_traces)
            for table, values in zip(self.parts.noise, self._noise_values, strict=True):
                run_args[table] = values
        try:
            # Running (and reading results) does not need the standalone device to be active.
            self._device.run(directory=self.directory, with_output=False, run_args=run_args)
            return self._collect(m, copy=True)
        finally:
            self._delete_run_args()

    def _delete_run_args(self) -> None:
        folder = os.path.join(self.directory, "static_arrays")
        for name in self._device.run_args_arrays:
            for path in (os.path.join(folder, name), os.path.join(folder, name + ".lock")):
                with contextlib.suppress(OSError):
                    os.remove(path)
        self._device.run_args_arrays.clear()
