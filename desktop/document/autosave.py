"""Autosave and crash recovery.

Each open document has an :class:`Autosaver` that writes ``<session>.ora`` plus a small JSON
marker ``<session>.json`` (pid, time, original path, title) into the autosave folder. A clean
close or a real save calls :meth:`Autosaver.discard`. After a crash the marker stays behind with
a pid that no longer runs: :func:`find_recoveries` lists those, and the UI offers to reopen them.

Both files are written atomically (a temporary file, then a rename), so a kill at any moment
leaves the previous crash copy or the new one, never half of one. The marker is written before
the first crash copy, and the session's name starts with the pid of its process, so whatever a
killed process leaves in the folder can be traced to it
(:func:`desktop.document.leftovers.clean_leftovers` removes it at the next start). Before a real
save, :meth:`Autosaver.note_saving` records the file being written, so the temporary file a kill
in the middle of that save leaves beside it can be found too.

The folder is ``state_dir() / "autosave"``; :func:`state_dir` honours ``PIXELMEND_STATE_DIR``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.document.ora import OraSnapshot, load_ora, save_ora, snapshot
from engine.core.atomic import atomic_write

if TYPE_CHECKING:
    from desktop.document.document import Document

__all__ = ["Autosaver", "Recovery", "default_directory", "find_recoveries", "pid_alive",
           "read_marker", "state_dir"]

_MARKER_VERSION = 1


def state_dir() -> Path:
    """Where PixelMend keeps state between runs (not created here).

    ``PIXELMEND_STATE_DIR`` if set; else ``%LOCALAPPDATA%\\PixelMend`` on Windows,
    ``~/Library/Application Support/PixelMend`` on macOS, and ``$XDG_STATE_HOME/pixelmend`` or
    ``~/.local/state/pixelmend`` elsewhere.
    """
    override = os.environ.get("PIXELMEND_STATE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "").strip()
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "PixelMend"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "PixelMend"
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "pixelmend"


def default_directory() -> Path:
    return state_dir() / "autosave"


def _process_start(pid: int) -> str | None:
    """A token that changes when ``pid`` is reused (Linux: the start time in jiffies)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def pid_alive(pid: int, start: str | None = None) -> bool:
    """True when process ``pid`` runs (and, where known, is the one that started at ``start``).
    """
    if not isinstance(pid, int) or pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    if start is not None:
        now = _process_start(pid)
        if now is not None and now != start:
            return False  # the pid was reused by another program
    return True


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)


class Autosaver:
    """Keeps one document's crash copy.

    Parameters
    ----------
    session_id : str, optional
        Names the files; by default this process's pid and a fresh uuid (one per open
        document), ``<pid>-<uuid>``.
    directory : path, optional
        Default ``state_dir() / "autosave"``; created on the first save.
    """

    def __init__(self, session_id: str | None = None,
                 directory: str | Path | None = None) -> None:
        self.session_id = session_id or f"{os.getpid()}-{uuid.uuid4().hex}"
        self.directory = Path(directory) if directory is not None else default_directory()
        self.last_saved: float | None = None
        self._marker: dict[str, Any] = {}
        self._lock = threading.Lock()  # the GUI thread and the writer both update the marker

    @property
    def ora_path(self) -> Path:
        """The crash copy."""
        return self.directory / f"{self.session_id}.ora"

    @property
    def marker_path(self) -> Path:
        """The JSON marker beside it."""
        return self.directory / f"{self.session_id}.json"

    def save(self, doc: Document | OraSnapshot) -> Path:
        """Write the crash copy and its marker (both atomically); return the .ora path.

        Pass an :func:`~desktop.document.ora.snapshot` to do the writing on a worker thread.
        """
        snap = doc if isinstance(doc, OraSnapshot) else snapshot(doc)
        self.directory.mkdir(parents=True, exist_ok=True)
        fields = {"source_path": snap.source_path, "save_path": snap.save_path,
                  "title": snap.title}
        if not self.marker_path.exists():  # first: whatever follows is traced to this process
            self._update_marker(**fields)
        save_ora(snap, self.ora_path)
        now = time.time()
        self._update_marker(saved_at=now, **fields)
        self.last_saved = now
        return self.ora_path

    def note_saving(self, path: str | os.PathLike[str] | None) -> None:
        """Record that the document is being saved to ``path`` (None: that save is over)."""
        if path is None and "saving_to" not in self._marker:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self._update_marker(saving_to=None if path is None else str(Path(path).resolve()))

    def _update_marker(self, **fields: Any) -> None:
        pid = os.getpid()
        with self._lock:
            self._marker.update(fields, version=_MARKER_VERSION, pid=pid,
                                process_start=_process_start(pid), ora=self.ora_path.name)
            if self._marker.get("saving_to") is None:
                self._marker.pop("saving_to", None)
            self._marker.setdefault("saved_at", time.time())
            _write_json(self.marker_path, dict(self._marker))

    def discard(self) -> None:
        """Remove the crash copy and its marker (clean close, or saved for real)."""
        with self._lock:
            for path in (self.ora_path, self.marker_path):  # a marker never outlives nothing
                with suppress(OSError):
                    path.unlink()
            self._marker.clear()
        self.last_saved = None


@dataclass
class Recovery:
    """A crash copy left by a process that is gone."""

    path: Path
    marker: Path
    title: str
    saved_at: datetime
    source_path: Path | None
    save_path: Path | None = None

    def open(self) -> Document:
        """Load the crash copy as an unsaved document with its original title and paths."""
        doc = load_ora(self.path)
        doc.title = self.title
        doc.source_path = self.source_path
        doc.save_path = self.save_path
        doc.mark_unsaved()
        return doc

    def discard(self) -> None:
        """Delete the crash copy and its marker."""
        for path in (self.marker, self.path):
            with suppress(OSError):
                path.unlink()


def read_marker(marker: Path) -> tuple[dict[str, Any], int, Path, datetime]:
    """A marker's data, pid, crash copy path and time; ValueError when it cannot be read."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        pid = int(data["pid"])
        ora = marker.parent / Path(str(data.get("ora") or f"{marker.stem}.ora")).name
        saved_at = datetime.fromtimestamp(float(data.get("saved_at", 0.0)))
    except (OSError, ValueError, KeyError, TypeError, OverflowError, AttributeError) as error:
        raise ValueError(f"{marker.name}: unreadable autosave marker ({error})") from None
    return data, pid, ora, saved_at


def find_recoveries(directory: str | Path | None = None, *,
                    damaged: list[Path] | None = None) -> list[Recovery]:
    """Crash copies whose process is no longer running, newest first.

    Markers of running processes (another open PixelMend, or this one) are skipped, as are
    markers whose .ora is missing. Markers that cannot be read are skipped too, and appended to
    ``damaged`` when it is given.
    """
    folder = Path(directory) if directory is not None else default_directory()
    found: list[Recovery] = []
    if not folder.is_dir():
        return found
    for marker in folder.glob("*.json"):
        try:
            data, pid, ora, saved_at = read_marker(marker)
        except ValueError:
            if damaged is not None:
                damaged.append(marker)
            continue
        start = data.get("process_start")
        if pid_alive(pid, start if isinstance(start, str) else None) or not ora.is_file():
            continue
        source = data.get("source_path")
        save_path = data.get("save_path")
        found.append(Recovery(
            path=ora, marker=marker, title=str(data.get("title") or ora.stem), saved_at=saved_at,
            source_path=Path(source) if source else None,
            save_path=Path(save_path) if save_path else None))
    found.sort(key=lambda recovery: recovery.saved_at, reverse=True)
    return found
