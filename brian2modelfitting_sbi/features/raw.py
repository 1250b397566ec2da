"""Raw traces as features, for learned embeddings (filled in by the features issue)."""

from __future__ import annotations


class RawTraces:  # placeholder
    def __init__(self, *args, **kwargs) -> None:
        raise NotImplementedError("raw-trace features are not implemented yet")
