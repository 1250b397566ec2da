"""FMPE: flow-matching posterior estimation (sbi's ``FMPE``), single round, amortized."""

from __future__ import annotations

from typing import ClassVar

from ._vector_field import VectorFieldBackend


class FMPEBackend(VectorFieldBackend):
    """Flow matching posterior estimation; samples by solving the probability-flow ODE."""

    description: ClassVar[str] = (
        "Flow matching posterior estimation (sbi FMPE); amortized, single round, ODE sampling"
    )
    trainer_name: ClassVar[str] = "FMPE"
    builder_name: ClassVar[str] = "posterior_flow_nn"
    #: sbi's batch, learning rate and patience (with this package's epoch cap): on the
    #: validation problem they matched the measured defaults' C2ST (1,000 simulations: 0.561
    #: vs 0.575; 10,000: 0.536 vs 0.538) in less time (2.3 vs 3.4 s; 21 vs 24 s): larger
    #: batches do not make the vector-field network's epochs cheaper (docs/benchmarks.rst).
    training_defaults: ClassVar[str] = "sbi"
