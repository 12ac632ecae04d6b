"""What a killed PixelMend leaves behind, cleaned at the next start; damaged crash copies set
aside.

A process killed in the middle of an atomic write leaves the write's temporary file
(:func:`engine.core.atomic.stale_temporaries` lists them) next to the file it was replacing:
in the autosave folder, or beside the session it was saving. :func:`clean_leftovers` removes
those whose process is gone, and markers with nothing left to recover, and never touches the
files of a PixelMend that still runs. :func:`set_aside` moves a crash copy that cannot be read
into ``autosave/damaged/``, so it is not offered again and not lost either.
"""

from __future__ import annotations

import re
import time
from contextlib import suppress
from pathlib import Path

from desktop.document.autosave import default_directory, pid_alive, read_marker
from engine.core.atomic import stale_temporaries

__all__ = ["DAMAGED_FOLDER", "clean_leftovers", "set_aside"]

DAMAGED_FOLDER = "damaged"
_OWNER = re.compile(r"^\.(\d+)-[0-9a-f]+\.")  # ".<pid>-<uuid>.ora.<random>.tmp"
_UNOWNED_AGE_S = 3600.0
"""A temporary file whose process cannot be told is removed once it is this old."""


def _owner_alive(name: str, live_sessions: set[str]) -> bool | None:
    """Whether the process that wrote the temporary ``name`` runs (None: cannot tell)."""
    session = name[1:].split(".", 1)[0]
    if session in live_sessions:
        return True
    match = _OWNER.match(name)
    return pid_alive(int(match.group(1))) if match else None


def clean_leftovers(directory: str | Path | None = None) -> list[Path]:
    """Remove what killed processes left in the autosave folder; return the removed paths.

    * temporaries of an interrupted crash copy or marker (their process is gone);
    * temporaries beside a session that was being saved when its process was killed (the
      marker says which file);
    * markers of dead processes whose crash copy is missing (nothing to recover).
    """
    folder = Path(directory) if directory is not None else default_directory()
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    live: set[str] = set()
    for marker in sorted(folder.glob("*.json")):
        try:
            data, pid, ora, _saved_at = read_marker(marker)
        except ValueError:
            continue  # damaged: offered for setting aside, not deleted here
        start = data.get("process_start")
        if pid_alive(pid, start if isinstance(start, str) else None):
            live.add(marker.stem)
            continue
        saving_to = data.get("saving_to")
        if isinstance(saving_to, str) and saving_to:
            target = Path(saving_to)
            for path in stale_temporaries(target.parent):
                if path.name.startswith(f".{target.name}."):
                    removed += _remove(path)
        if not ora.is_file():
            removed += _remove(marker)
    now = time.time()
    for path in stale_temporaries(folder):
        alive = _owner_alive(path.name, live)
        if alive is False or (alive is None and _age(path, now) > _UNOWNED_AGE_S):
            removed += _remove(path)
    return removed


def set_aside(paths: list[Path], directory: str | Path | None = None) -> Path:
    """Move damaged crash-copy files into ``<autosave>/damaged/``; return that folder."""
    folder = Path(directory) if directory is not None else default_directory()
    target = folder / DAMAGED_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        with suppress(OSError):
            path.replace(target / path.name)
    return target


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> list[Path]:
    try:
        path.unlink()
    except OSError:
        return []
    return [path]
