"""The one way to list the images in a folder (the command line, batch runs, benchmarks and
training recipes all use it)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.io.formats import is_supported

__all__ = ["list_images"]


def list_images(folder: str | os.PathLike[str], *, recursive: bool = False,
                limit: int | None = None) -> list[Path]:
    """The supported images in ``folder``, sorted by path.

    Parameters
    ----------
    folder : str or Path
        The folder to list.
    recursive : bool
        Also list the images in its sub-folders, at every level.
    limit : int, optional
        Keep only the first ``limit`` images.

    Returns
    -------
    list of Path
        Regular files with a supported extension (hidden files, whose names start with a dot,
        are left out); possibly empty.

    Raises
    ------
    NotADirectoryError
        ``folder`` does not exist or is not a folder.
    ValueError
        ``limit`` is less than 1.
    """
    path = Path(folder)
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: no such folder")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    candidates = path.rglob("*") if recursive else path.iterdir()
    images = sorted(p for p in candidates
                    if p.is_file() and is_supported(p) and not p.name.startswith("."))
    return images[:limit] if limit is not None else images
