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
