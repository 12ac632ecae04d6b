"""Atomic file writes: a temporary file in the target's folder, then a rename over the target.

A failure at any point (a full disk, an encoder error, a crash) never leaves a half-written file
and never damages an existing one. The new file gets the old file's permissions, or the usual
ones from the umask for a new file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]


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
