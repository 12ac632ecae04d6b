"""The batch journal: what has been finished, so that a run killed at any moment continues.

The journal is an append-only JSON-lines file in the output folder's ``.pixelmend-batch``
folder. The driver appends one line per file as it finishes (written, flushed and synced to
disk after the output itself is in place), so after a ``kill -9`` the journal lists exactly
the outputs that are complete; a line cut short by the kill is ignored when read back. Each
line records the input's SHA-256 and size and modification time, and the recipe's digest: a
finished file is skipped only while its input, its recipe and its output are unchanged.

A lock on the folder (``flock``) keeps two runs from writing into one output folder at once,
which is also what makes it safe to remove the temporary files an interrupted save left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["JOURNAL_DIR", "BatchLocked", "Journal", "Record", "file_digest", "new_record",
           "read_records", "recipe_digest"]

JOURNAL_DIR = ".pixelmend-batch"
_JOURNAL = "journal.jsonl"
_LOCK = "lock"


class BatchLocked(RuntimeError):
    """Another run is writing into the same output folder."""


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def recipe_digest(recipe: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """Hex SHA-256 of a recipe's steps (its name and engine version aside) and of whatever
    else decides the output (``extra``: the mask file's digest, the output format)."""
    steps = recipe.get("steps") or [{"op": recipe.get("op"), "params": recipe.get("params", {})}]
    text = json.dumps({"steps": steps, "extra": dict(extra or {})}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Record:
    """One finished (or failed) file.

    Attributes
    ----------
    input : str
        The input's path relative to the folder it came from (the key of the record).
    status : str
        ``"done"`` or ``"failed"``.
    output : str
        The written file, relative to the output folder (``""`` when it failed).
    input_sha256, recipe_sha256 : str
        What the output was made from.
    size, mtime_ns : int
        The input's size and modification time when it was hashed.
    seconds : float
        Wall time of the file.
    error : str
        Why it failed (``""`` when done).
    finished : float
        When (seconds since the epoch).
    note : str
        What the summary should say of a finished file (a skipped step, flattened alpha).
    """

    input: str
    status: str
    output: str
    input_sha256: str
    recipe_sha256: str
    size: int
    mtime_ns: int
    seconds: float = 0.0
    error: str = ""
    finished: float = 0.0
    note: str = ""


class Journal:
    """The journal of one output folder, held (locked) while a run writes into it.

    Use as a context manager; :meth:`records` are the last record of each input read back at
    opening, :meth:`append` adds one durably.

    Raises
    ------
    BatchLocked
        When another run holds the folder.
    """

    def __init__(self, out_dir: Path) -> None:
        self.folder = Path(out_dir) / JOURNAL_DIR
        self.path = self.folder / _JOURNAL
        self._lock: IO[str] | None = None
        self._handle: IO[str] | None = None
        self.records: dict[str, Record] = {}

    def __enter__(self) -> Journal:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.folder / _LOCK, "a+", encoding="utf-8")  # noqa: SIM115
        if not _try_lock(self._lock):
            self._lock.close()
            raise BatchLocked(f"another batch run is writing into {self.folder.parent}; wait "
                              "for it to finish or choose another output folder")
        self.records = dict(read_records(self.path))
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock

    def append(self, record: Record) -> None:
        """Write ``record`` as one line, flushed and synced before returning."""
        assert self._handle is not None, "the journal is not open"
        self._handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records[record.input] = record

    def finished(self, relative: str, source: Path, recipe_sha256: str, out_dir: Path
                 ) -> tuple[bool, str]:
        """Whether ``relative`` is done with this recipe and unchanged input, and why not.

        Returns
        -------
        done : bool
        reason : str
            ``"done"``, ``"new"``, ``"failed before"``, ``"recipe changed"``,
            ``"input changed"`` or ``"output missing"``.
        """
        record = self.records.get(relative)
        if record is None:
            return False, "new"
        if record.status != "done":
            return False, "failed before"
        if record.recipe_sha256 != recipe_sha256:
            return False, "recipe changed"
        stat = source.stat()
        if (stat.st_size, stat.st_mtime_ns) != (record.size, record.mtime_ns) and \
                file_digest(source) != record.input_sha256:
            return False, "input changed"
        if not (out_dir / record.output).is_file():
            return False, "output missing"
        return True, "done"


def read_records(path: Path) -> Iterator[tuple[str, Record]]:
    """The records of a journal file in order; unreadable lines (one cut short) are skipped."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                data = json.loads(line)
                record = Record(**data)
            except (json.JSONDecodeError, TypeError):
                continue
            yield record.input, record


def new_record(relative: str, source: Path, recipe_sha256: str, *, status: str,
               output: str = "", seconds: float = 0.0, error: str = "", note: str = ""
               ) -> Record:
    """A record for ``source`` as it is now (its digest, size and time)."""
    stat = source.stat()
    return Record(input=relative, status=status, output=output,
                  input_sha256=file_digest(source), recipe_sha256=recipe_sha256,
                  size=stat.st_size, mtime_ns=stat.st_mtime_ns, seconds=round(seconds, 3),
                  error=error, finished=time.time(), note=note)


def _try_lock(handle: IO[str]) -> bool:
    """An exclusive, non-blocking lock on ``handle``'s file (released when it is closed)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    return False
