"""Desktop test setup: offscreen Qt, a private state dir and settings per test, no real dialogs.

Every test gets its own ``PIXELMEND_STATE_DIR`` (autosave, recovery) and its own QSettings ini
file, so no test reads or writes the real user configuration. ``QMessageBox``'s static methods
and the recovery question are replaced by recorders: a test reads what would have been shown in
``dialog_log.messages`` and queues answers in ``dialog_log.answers``.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@dataclass
class DialogLog:
    """What the code under test tried to show, and the answers to give it."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)
    answers: list[object] = field(default_factory=list)
    recovery_answers: list[str] = field(default_factory=list)

    def texts(self, kind: str | None = None) -> list[str]:
        return [text for k, _title, text in self.messages if kind is None or k == kind]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELMEND_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PIXELMEND_AUTOSAVE_S", "3600")
    monkeypatch.setenv("PIXELMEND_DEVICE", "cpu")
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("PixelMendTests")
    QCoreApplication.setApplicationName("PixelMendTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "settings"))


@pytest.fixture(autouse=True)
def dialog_log(monkeypatch: pytest.MonkeyPatch) -> DialogLog:
    """Replace modal message boxes with a recorder (a modal box would hang a test)."""
    from PySide6.QtWidgets import QMessageBox

    from desktop import dialogs

    log = DialogLog()

    def recorder(kind: str):
        def show(parent, title, text, *args, **kwargs):
            log.messages.append((kind, title, text))
            if kind == "question":
                return log.answers.pop(0) if log.answers else QMessageBox.StandardButton.No
            return QMessageBox.StandardButton.Ok

        return staticmethod(show)

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, recorder(kind))
    monkeypatch.setattr(QMessageBox, "about", recorder("about"))

    def recovery(parent, title, when):
        log.messages.append(("recovery", title, when))
        return log.recovery_answers.pop(0) if log.recovery_answers else "later"

    monkeypatch.setattr(dialogs, "ask_recovery", recovery)
    return log


@pytest.fixture
def window(qtbot):
    """A real editor window, shown offscreen; closed without questions at the end."""
    from desktop.main_window import MainWindow

    win = MainWindow(look_up_device=False)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()
    if win.document is not None:
        win.document.mark_saved()


def make_photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth synthetic RGB uint8 image with salt-and-pepper specks (something to repair)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 9.0) * np.cos(y / 7.0)], -1)
    pixels = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    specks = rng.random((height, width)) < 0.08
    pixels[specks] = rng.choice([0, 255], size=(int(specks.sum()), 1)).astype(np.uint8)
    return pixels


@pytest.fixture
def photo_path(tmp_path: Path) -> Path:
    """A PNG of :func:`make_photo` on disk."""
    from engine import io

    path = tmp_path / "photo.png"
    io.save(path, make_photo())
    return path
