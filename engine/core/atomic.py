"""Atomic file writes: a temporary file in the target's folder, then a rename over the target.

A failure at any point (a full disk, an encoder error, a crash) never leaves a half-written file
and never damages an existing one. The new file gets the old file's permissions, or the usual
ones from the umask for a new file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "stale_temporaries"]


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb", *, encoding: str | None = None
                 ) -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path`` in one step.

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    mode : str
        ``"wb"`` or ``"w"``.
    encoding : str, optional
        Text encoding for ``mode="w"``.

    Raises
    ------
    OSError
        The folder is missing or not writable, or the write or rename failed; the target is
        then untouched and the temporary file removed.
    """
    target = Path(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the `with` below
        mode, encoding=encoding, delete=False, dir=target.parent, prefix=f".{target.name}.",
        suffix=".tmp")
    tmp = handle.name
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        permissions = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_UMASK
        os.chmod(tmp, permissions)
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def stale_temporaries(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Temporary files that :func:`atomic_write` left behind in ``folder`` (a process killed
    between creating and renaming one), for a caller that holds the folder to remove.

    Only names of the shape :func:`atomic_write` makes (``.<target>.<8 random>.tmp``) are
    listed; nothing else in the folder is touched.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    candidates = root.rglob(".*.tmp") if recursive else root.glob(".*.tmp")
    return sorted(path for path in candidates if path.is_file() and _TEMPORARY.match(path.name))
