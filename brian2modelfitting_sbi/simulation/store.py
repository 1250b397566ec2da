"""A directory of finished chunks, so that an interrupted run resumes where it stopped.

Layout::

    store/
        store.json                 what the simulations are of: problem fingerprint, feature
                                   names, observed features, prior
        round_001/round.json       the round's settings: n_samples, seed, noise seed, chunk
                                   size, proposal
        round_001/theta.npy        every parameter set of the round, written before simulating
        round_001/chunk_000000000.npz   theta, x, start of one finished chunk

Every file is written to a temporary name, flushed to disk and renamed into place
(``os.replace``), so a killed run leaves only complete files. Arrays are plain ``.npy``/``.npz``
read with ``allow_pickle=False``; metadata is JSON. A store written for another problem,
feature set, prior, seed or chunk size is refused, never mixed in.

Every read is verified. A chunk file holds its format version and the SHA-256 of its arrays
(``round_001/theta.json`` does the same for ``theta.npy``); a chunk that cannot be read
(truncated, not a zip), whose checksum, format, start or shapes are wrong, is reported with a
``RuntimeWarning`` naming the file and simulated again, never half-used. A damaged
``theta.npy`` is drawn again from the seed; chunks that disagree with a redrawn theta are
simulated again too. A damaged ``store.json`` or ``round.json`` (what the store is of) cannot
be recovered: it is refused with :class:`StoreMismatchError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..problem import ProblemError

FORMAT = 1


class StoreMismatchError(ProblemError):
    """A store was written for other simulations than the ones asked for."""


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, sort_keys=True).encode()
    _atomic_write(path, lambda f: f.write(text))


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A store's JSON metadata; damaged or foreign content is refused, naming the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreMismatchError(
            f"store: {str(path)!r} ({what}) is damaged and cannot be read ({exc}); it says what "
            f"the stored simulations are of, so the store cannot be used: delete it or give "
            f"another directory"
        ) from None
    if not isinstance(data, dict):
        raise StoreMismatchError(
            f"store: {str(path)!r} ({what}) holds {type(data).__name__}, not the store's "
            f"metadata; delete it or give another directory"
        )
    return data


def checksum(*arrays: np.ndarray) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (what a chunk file's checksum covers)."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


class DamagedChunk(Exception):
    """A stored chunk failed verification (internal: it is reported and simulated again)."""


def _differences(stored: dict[str, Any], current: dict[str, Any], keys: list[str]) -> list[str]:
    return [
        f"{k}: stored {_short(stored.get(k))}, now {_short(current.get(k))}"
        for k in keys
        if stored.get(k) != current.get(k)
    ]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def store_identity(
    problem_fingerprint: str,
    feature_names: list[str],
    x_o: np.ndarray,
    prior: dict[str, Any],
    measurement: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a store's simulations are of (compared when a store is reopened).

    ``prior`` is the parameter space's plain data (bounds, scales, a user prior);
    ``measurement`` the measurement noise added to the simulations, if any.
    """
    x_o = np.ascontiguousarray(np.asarray(x_o, dtype=float))
    extra = {} if measurement is None else {"measurement": measurement}
    return {
        **extra,
        "format": FORMAT,
        "problem": problem_fingerprint,
        "features": list(feature_names),
        # The observed features change when the feature code does (names alone may not).
        "observed_features": hashlib.sha256(x_o.tobytes()).hexdigest()[:16],
        "prior": prior,
    }


class SimulationStore:
    """A store directory for one problem; created on first use, checked when reopened.

    Parameters
    ----------
    path : str or path-like
        The directory (created if missing).
    identity : dict
        From :func:`store_identity`.

    Raises
    ------
    StoreMismatchError
        If the directory holds a store for something else, or other files.
    """

    def __init__(self, path: str | os.PathLike, identity: dict[str, Any]) -> None:
        if not isinstance(path, str | os.PathLike) or not str(os.fspath(path)).strip():
            raise ProblemError(
                f"store: expected a directory path (str or os.PathLike), got {path!r}"
            )
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ProblemError(f"store: {str(self.path)!r} exists and is not a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / "store.json"
        if meta.exists():
            stored = _read_json(meta, "what the store holds")
            diff = _differences(stored, identity, sorted(set(stored) | set(identity)))
            if diff:
                raise StoreMismatchError(
                    f"store: {str(self.path)!r} holds simulations of another problem, refused "
                    f"(not mixed in); differences: {'; '.join(diff)}. Use another directory."
                )
        else:
            if any(p for p in self.path.iterdir() if not p.name.startswith(".")):
                raise StoreMismatchError(
                    f"store: {str(self.path)!r} is not empty and is not a simulation store; "
                    f"give a new or empty directory"
                )
            _write_json(meta, identity)
        self.identity = identity

    def round(
        self,
        index: int,
        *,
        n_samples: int,
        seed: int | None,
        entropy: int,
        chunk_size: int,
        chunk_size_given: bool,
        proposal: str,
    ) -> RoundStore:
        """The store of round ``index`` (0-based), created or checked against these settings.

        An existing round keeps its noise seed (``entropy``) and, unless ``chunk_size_given``,
        its chunk size; any other difference is refused.
        """
        folder = self.path / f"round_{index + 1:03d}"
        meta = folder / "round.json"
        current = {
            "round": index + 1,
            "n_samples": int(n_samples),
            "seed": seed,
            "entropy": int(entropy),
            "chunk_size": int(chunk_size),
            "proposal": proposal,
        }
        if meta.exists():
            stored = _read_json(meta, f"settings of round {index + 1}")
            keys = ["round", "n_samples", "seed", "proposal"]
            if chunk_size_given:
                keys.append("chunk_size")
            if seed is not None:
                keys.append("entropy")
            diff = _differences(stored, current, keys)
            if diff:
                raise StoreMismatchError(
                    f"store: round {index + 1} in {str(self.path)!r} was simulated with other "
                    f"settings, refused (not mixed in); differences: {'; '.join(diff)}"
                )
            current = stored
        else:
            folder.mkdir(exist_ok=True)
            _write_json(meta, current)
        return RoundStore(folder, current, n_features=len(self.identity.get("features", [])))


class RoundStore:
    """The finished chunks of one round; its hooks plug into ``simulate_features``.

    Attributes
    ----------
    loaded : list of int
        Start index of every chunk read back from disk (verified) in this run.
    damaged : list of str
        Files found damaged in this run (reported, then simulated or drawn again).
    """

    def __init__(self, path: Path, meta: dict[str, Any], n_features: int | None = None) -> None:
        self.path = path
        self.meta = meta
        self.n_features = n_features or None
        self._theta: np.ndarray | None = None
        self._theta_redrawn = False
        self.loaded: list[int] = []
        self.damaged: list[str] = []
        for leftover in path.glob("*.tmp*"):  # from a killed run
            leftover.unlink(missing_ok=True)

    @property
    def chunk_size(self) -> int:
        """Parameter sets per chunk."""
        return int(self.meta["chunk_size"])

    @property
    def entropy(self) -> int:
        """The round's noise seed."""
        return int(self.meta["entropy"])

    def _report(self, path: Path, reason: str, action: str) -> None:
        self.damaged.append(path.name)
        warnings.warn(
            f"store: damaged file {str(path)!r} ({reason}); {action}",
            RuntimeWarning,
            stacklevel=3,
        )

    # ------------------------------------------------------------------ theta
    def load_theta(self) -> np.ndarray | None:
        """The round's parameter sets, if they were stored and read back intact."""
        path = self.path / "theta.npy"
        if not path.exists():
            return None
        try:
            theta = np.load(path, allow_pickle=False)
            sums = self.path / "theta.json"
            if sums.exists():  # stores written before checksums have none
                expected = json.loads(sums.read_text()).get("sha256")
                if expected != checksum(theta):
                    raise DamagedChunk("checksum mismatch")
            if theta.ndim != 2 or theta.dtype.kind != "f":
                raise DamagedChunk(f"expected a 2-D float array, got {theta.dtype} {theta.shape}")
        except (OSError, ValueError, EOFError, DamagedChunk) as exc:
            self._report(path, str(exc) or type(exc).__name__, "drawing the parameter sets again")
            self._theta_redrawn = True
            return None
        if len(theta) != self.meta["n_samples"]:
            raise StoreMismatchError(
                f"store: {str(path)!r} holds {len(theta)} parameter sets, expected "
                f"{self.meta['n_samples']}"
            )
        self._theta = theta
        return theta

    def save_theta(self, theta: np.ndarray) -> None:
        """Store the round's parameter sets (before any chunk runs), with their checksum."""
        theta = np.ascontiguousarray(theta, dtype=float)
        _atomic_write(self.path / "theta.npy", lambda f: np.save(f, theta, allow_pickle=False))
        _write_json(self.path / "theta.json", {"format": FORMAT, "sha256": checksum(theta)})
        self._theta = theta

    # ------------------------------------------------------------------ chunks
    def _chunk_path(self, start: int) -> Path:
        return self.path / f"chunk_{start:09d}.npz"

    def finished(self) -> list[int]:
        """First sample index of every stored chunk."""
        return sorted(int(p.stem.split("_")[1]) for p in self.path.glob("chunk_*.npz"))

    def save_chunk(self, start: int, theta: np.ndarray, x: np.ndarray) -> None:
        """Write one finished chunk with its format and checksum (the ``on_chunk`` hook)."""
        theta = np.ascontiguousarray(theta, dtype=float)
        x = np.ascontiguousarray(x, dtype=float)
        arrays = {
            "format": np.array(FORMAT),
            "start": np.array(start),
            "theta": theta,
            "x": x,
            "sha256": np.array(checksum(theta, x)),
        }
        _atomic_write(self._chunk_path(start), lambda f: np.savez(f, **arrays))

    def _read_chunk(self, path: Path, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Theta and x of a chunk file, verified; :class:`DamagedChunk` says what is wrong."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise DamagedChunk(f"unreadable: {type(exc).__name__}: {exc}") from None
        missing = sorted({"start", "theta", "x"} - set(arrays))
        if missing:
            raise DamagedChunk(f"missing arrays {missing}")
        theta, x = arrays["theta"], arrays["x"]
        if "sha256" in arrays:  # chunks written before checksums have none
            if int(arrays.get("format", -1)) != FORMAT:
                raise DamagedChunk(f"format {arrays.get('format')}, expected {FORMAT}")
            if str(arrays["sha256"]) != checksum(theta, x):
                raise DamagedChunk("checksum mismatch")
        if arrays["start"].shape != () or int(arrays["start"]) != start:
            raise DamagedChunk(f"holds start {arrays['start']}, expected {start}")
        m = min(self.chunk_size, int(self.meta["n_samples"]) - start)
        d = None if self._theta is None else self._theta.shape[1]
        if theta.ndim != 2 or len(theta) != m or (d is not None and theta.shape[1] != d):
            raise DamagedChunk(f"theta of shape {theta.shape}, expected ({m}, {d or 'd'})")
        k = self.n_features
        if x.ndim != 2 or len(x) != m or (k is not None and x.shape[1] != k):
            raise DamagedChunk(f"x of shape {x.shape}, expected ({m}, {k or 'n_features'})")
        if theta.dtype.kind != "f" or x.dtype.kind != "f":
            raise DamagedChunk(f"arrays of types {theta.dtype} and {x.dtype}, expected floats")
        return theta, x

    def load_chunk(self, start: int) -> np.ndarray | None:
        """Features of the chunk at ``start`` if stored intact (the ``skip`` hook), else None.

        A damaged chunk is reported (a ``RuntimeWarning`` naming the file) and None is
        returned, so that it is simulated again and rewritten.
        """
        path = self._chunk_path(start)
        if not path.exists():
            return None
        try:
            theta, x = self._read_chunk(path, start)
        except DamagedChunk as exc:
            self._report(path, str(exc), "simulating this chunk again")
            return None
        if self._theta is not None:
            expected = self._theta[start : start + len(theta)]
            if not np.array_equal(theta, expected):
                if self._theta_redrawn:
                    self._report(
                        path,
                        "its parameter sets differ from the redrawn ones",
                        "simulating this chunk again",
                    )
                    return None
                raise StoreMismatchError(
                    f"store: chunk {str(path)!r} holds other parameter sets than the round's; "
                    f"the store is inconsistent, refused"
                )
        self.loaded.append(start)
        return x
