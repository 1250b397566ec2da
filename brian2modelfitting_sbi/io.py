"""Compatibility path of the file format (:mod:`.archive`)."""

from .archive.codec import (  # noqa: F401 - re-exported
    dims_from_json,
    dims_json,
    equations_text,
    unit_code,
    value_from_json,
    value_json,
)
from .archive.format import FORMAT, VERSION, read  # noqa: F401
from .archive.saved_features import SavedFeatures  # noqa: F401
from .errors import SavedFileError  # noqa: F401


def save(inferencer: object, path: object, skip_namespace: object = ()) -> None:
    """``inferencer.save(path, skip_namespace=...)`` (kept for the old call form)."""
    inferencer.save(path, skip_namespace=skip_namespace)  # type: ignore[attr-defined]


def load(cls: type, path: object, **options: object) -> object:
    """``cls.load(path, **options)`` (kept for the old call form)."""
    return cls.load(path, **options)  # type: ignore[attr-defined]
