"""Settings kept between runs, on top of ``QSettings`` (organisation/application set by the app).

One small function per setting so that keys and types live in one place; values read back are
checked, because a hand-edited or older settings file may hold anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

__all__ = [
    "add_recent_file",
    "clear_recent_files",
    "get_float",
    "get_text",
    "last_dir",
    "recent_files",
    "remember_dir",
    "restore_bytes",
    "set_value",
]

MAX_RECENT = 10


def _settings() -> QSettings:
    return QSettings()


def set_value(key: str, value: Any) -> None:
    """Store one value."""
    _settings().setValue(key, value)


def get_float(key: str, default: float, minimum: float, maximum: float) -> float:
    """Read a number, falling back to ``default`` when missing or unreadable, clamped to bounds."""
    raw = _settings().value(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return min(max(value, minimum), maximum)


def get_text(key: str, default: str) -> str:
    """Read a string, falling back to ``default`` when missing or not a string."""
    value = _settings().value(key, default)
    return value if isinstance(value, str) and value else default


def restore_bytes(key: str) -> QByteArray | None:
    """A stored ``QByteArray`` (window geometry/state), or None."""
    value = _settings().value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def recent_files() -> list[str]:
    """Recently opened files that still exist, newest first."""
    value = _settings().value("files/recent", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(path) for path in value if isinstance(path, str) and os.path.exists(path)]


def add_recent_file(path: str | os.PathLike[str]) -> None:
    """Put ``path`` at the top of the recent files."""
    text = str(Path(path).resolve())
    files = [text] + [item for item in recent_files() if item != text]
    _settings().setValue("files/recent", files[:MAX_RECENT])


def clear_recent_files() -> None:
    """Forget the recent files."""
    _settings().setValue("files/recent", [])


def last_dir(kind: str) -> str:
    """The folder the last ``kind`` dialog (open, save, export) used, or the home folder."""
    value = _settings().value(f"dirs/{kind}", "")
    if isinstance(value, str) and value and os.path.isdir(value):
        return value
    return str(Path.home())


def remember_dir(kind: str, path: str | os.PathLike[str]) -> None:
    """Remember the folder of ``path`` for the next ``kind`` dialog."""
    _settings().setValue(f"dirs/{kind}", str(Path(path).resolve().parent))
