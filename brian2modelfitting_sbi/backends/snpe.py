"""SNPE: neural posterior estimation (sbi's ``NPE_C``, automatic posterior transformation)."""

from __future__ import annotations

from typing import Any, ClassVar

from ._sbi import SbiBackend


class SNPEBackend(SbiBackend):
    """Neural posterior estimation (NPE-C / APT); amortized when single-round."""

    description: ClassVar[str] = (
        "Sequential neural posterior estimation (sbi NPE_C); direct, amortized sampling"
    )
    amortized: ClassVar[bool] = True
    trainer_name: ClassVar[str] = "NPE_C"
    builder_name: ClassVar[str] = "posterior_nn"
    default_estimator: ClassVar[str] = "maf"

    def _proposal_kwargs(self, proposal: Any) -> dict[str, Any]:
        # NPE_C corrects for a proposal other than the prior with its atomic loss.
        return {} if proposal is None else {"proposal": proposal}
