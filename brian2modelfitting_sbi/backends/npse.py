"""NPSE: neural posterior score estimation (sbi's ``NPSE``), single round, amortized."""

from __future__ import annotations

from typing import ClassVar

from ._vector_field import VectorFieldBackend


class NPSEBackend(VectorFieldBackend):
    """Score-based (diffusion) posterior estimation; samples by the reverse SDE.

    ``estimator_options={'sde_type': 've'}`` (sbi's default; ``'vp'``, ``'subvp'``) chooses
    the diffusion.
    """

    description: ClassVar[str] = (
        "Neural posterior score estimation (sbi NPSE); amortized, single round, SDE sampling"
    )
    trainer_name: ClassVar[str] = "NPSE"
    builder_name: ClassVar[str] = "posterior_score_nn"
