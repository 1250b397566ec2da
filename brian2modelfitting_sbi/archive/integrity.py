"""Integrity of a saved inference: path checks, member reads and SHA-256 checksums.

:func:`~brian2modelfitting_sbi.archive.format.save` records the SHA-256 of each binary member
in ``meta.json`` (:func:`checksums`); :func:`~brian2modelfitting_sbi.archive.format.read`
reads every member through :func:`read_member` (the zip's CRC-32 is checked there) and
compares it with the recorded checksum (:func:`verify_member`). Any damage is one
:class:`~brian2modelfitting_sbi.errors.SavedFileError` that names the file and the member.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ProblemError, SavedFileError

#: What reading a damaged zip member can raise (truncated data, bad CRC, bad deflate stream).
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


def check_path(path: Any) -> str:
    """``path`` as a string, if it is a non-empty ``str`` or ``os.PathLike``."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ProblemError(f"path: expected a file path (str or os.PathLike), got {path!r}")
    return os.fspath(path)


def check_save_path(path: Any) -> str:
    """A file path whose folder exists and that is not a folder itself."""
    where = check_path(path)
    target = os.path.abspath(where)
    if os.path.isdir(target):
        raise ProblemError(f"path: {where!r} is a directory; give a file name")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ProblemError(f"path: the folder {folder!r} does not exist")
    return where


def checksums(members: Mapping[str, bytes]) -> dict[str, str]:
    """The SHA-256 (hex) of each member's bytes, as ``meta.json`` records them."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}


def read_member(zf: zipfile.ZipFile, name: str, path: str) -> bytes:
    """The bytes of one member (the zip's CRC-32 is checked on reading)."""
    try:
        return zf.read(name)
    except READ_ERRORS as exc:
        raise SavedFileError(
            f"{path}: damaged member {name} ({type(exc).__name__}: {exc})"
        ) from exc


def verify_member(name: str, data: bytes, meta: Mapping[str, Any], path: str) -> None:
    """Compare a member with the SHA-256 recorded at save time (older files have none)."""
    sums = meta.get("checksums")
    expected = sums.get(name) if isinstance(sums, dict) else None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise SavedFileError(
            f"{path}: damaged member {name} (checksum mismatch: it changed after saving)"
        )


def check_unsaved(
    namespace: Mapping[str, Any], unsaved: Sequence[str], skip: Sequence[str] | str
) -> None:
    """Refuse, at save time, namespace values the file cannot hold (unless in ``skip``)."""
    skip = [skip] if isinstance(skip, str) else list(skip)
    stray = sorted(set(skip) - set(unsaved))
    if stray:
        raise ProblemError(
            f"skip_namespace: {stray} are not unsaveable namespace values (those are "
            f"{sorted(unsaved)})"
        )
    left = [name for name in unsaved if name not in skip]
    if left:
        kinds = ", ".join(f"{n}: {type(namespace[n]).__name__}" for n in left)
        raise SavedFileError(
            f"save: the model uses {left} ({kinds}), which cannot be stored in the file (only "
            f"numbers, arrays and quantities can); save with save(path, skip_namespace={left!r}) "
            f"and give them again when loading: Inferencer.load(path, namespace={{...}})"
        )
