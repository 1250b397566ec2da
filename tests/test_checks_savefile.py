"""A damaged or foreign save file gets one clear error of the package's own type."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from test_workflow_io import replace_member
from workflow_support import new_inferencer, trained_snpe

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi.errors import (
    Brian2SbiError,
    NotFittedError,
    ProblemError,
    SavedFileError,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("save") / "inference.zip"
    trained_snpe().save(path)
    return path


def _copy(saved, tmp_path, name="copy.zip"):
    path = tmp_path / name
    path.write_bytes(saved.read_bytes())
    return path


def test_saved_file_records_checksums(saved):
    with zipfile.ZipFile(saved) as zf:
        meta = json.loads(zf.read("meta.json"))
    assert set(meta["checksums"]) == {"arrays.npz", "weights.pt"}


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.95])
def test_truncated_file(saved, tmp_path, fraction):
    path = _copy(saved, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(SavedFileError, match="not a saved inference|damaged member"):
        Inferencer.load(path)


def test_flipped_byte_inside_a_member(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("arrays.npz")
    data = bytearray(path.read_bytes())
    # a byte in the middle of the compressed arrays: the zip's CRC-32 catches it
    offset = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SavedFileError, match=r"damaged member arrays\.npz|arrays\.npz: refused"):
        Inferencer.load(path)


def test_member_changed_after_saving_fails_its_checksum(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with zipfile.ZipFile(path) as zf:
        with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    arrays["x"] = arrays["x"] + 1.0  # a valid npz, but not what was saved
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    replace_member(path, "arrays.npz", buf.getvalue())
    with pytest.raises(SavedFileError, match=r"damaged member arrays\.npz \(checksum mismatch"):
        Inferencer.load(path)


def test_foreign_zip(tmp_path):
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(SavedFileError, match=r"not a saved inference \(missing"):
        Inferencer.load(path)


def test_foreign_meta(saved, tmp_path):
    path = _copy(saved, tmp_path)
    replace_member(path, "meta.json", b"[1, 2, 3]")
    with pytest.raises(SavedFileError, match="not a brian2modelfitting-sbi"):
        Inferencer.load(path)
    replace_member(path, "meta.json", b"\xff\xfe")
    with pytest.raises(SavedFileError, match="meta.json: not valid JSON"):
        Inferencer.load(path)


def test_meta_with_a_wrong_value_type(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["space"]["lower"] = ["a", "b"]
    replace_member(path, "meta.json", json.dumps(meta).encode())
    with pytest.raises(Brian2SbiError):
        Inferencer.load(path)


@pytest.mark.parametrize("bad", [None, 3, b"", ""])
def test_load_path_of_the_wrong_type(bad):
    with pytest.raises(ProblemError, match="path: expected a file path"):
        Inferencer.load(bad)


def test_load_missing_file_and_directory(tmp_path):
    with pytest.raises(SavedFileError, match="not a saved inference"):
        Inferencer.load(tmp_path / "nothing.zip")
    with pytest.raises(SavedFileError, match="not a saved inference"):
        Inferencer.load(tmp_path)


def test_save_path_checks(tmp_path):
    inf = trained_snpe()
    with pytest.raises(ProblemError, match="path: the folder .* does not exist"):
        inf.save(tmp_path / "missing" / "x.zip")
    with pytest.raises(ProblemError, match="is a directory"):
        inf.save(tmp_path)
    with pytest.raises(ProblemError, match="path: expected a file path"):
        inf.save(42)


def test_save_before_training():
    with pytest.raises(NotFittedError, match=r"call infer\(\)"):
        new_inferencer().save("never.zip")
