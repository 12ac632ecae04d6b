"""Driving the real editor window from a script, for the chaos and crash benchmarks and tests.

* :func:`isolated` points the settings and the state folder at a scratch folder, so a run never
  touches the person's configuration, recent files or crash copies;
* :class:`ErrorTrap` records every exception that reaches ``sys.excepthook`` (an exception in a
  slot or an event handler) and every critical Qt message;
* :class:`DialogRecorder` answers the message boxes and the recovery question instead of a
  person (a modal box would stop an unattended run) and keeps what they said;
* :func:`drag` sends a real mouse drag to the canvas (press, moves, release), the path a
  person's brush, lasso or rectangle takes;
* :func:`state_hash` fingerprints what a document holds (layers, their look and pixels, the
  mask), so two documents, or a document and its saved file, can be compared.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DialogRecorder", "ErrorTrap", "drag", "isolated", "layer_signature", "state_hash"]


def isolated(folder: str | os.PathLike[str]) -> None:
    """Keep settings and state (autosave, recovery) of this process under ``folder``."""
    from PySide6.QtCore import QCoreApplication, QSettings

    folder = Path(folder)
    os.environ["PIXELMEND_STATE_DIR"] = str(folder / "state")
    QCoreApplication.setOrganizationName("PixelMendBench")
    QCoreApplication.setApplicationName("PixelMendBench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(folder / "settings"))


class ErrorTrap:
    """Collects unexpected exceptions and critical Qt messages while installed; ``on_error``
    is called with each one's text as it happens."""

    def __init__(self, on_error: Any = None) -> None:
        self.errors: list[str] = []
        self.on_error = on_error
        self._old_hook: Any = None
        self._old_qt: Any = None

    def _record(self, text: str) -> None:
        self.errors.append(text)
        if self.on_error is not None:
            self.on_error(text)

    def install(self) -> ErrorTrap:
        """Replace ``sys.excepthook`` and the Qt message handler."""
        from PySide6.QtCore import QtMsgType, qInstallMessageHandler

        self._old_hook = sys.excepthook

        def hook(kind, error, tb) -> None:
            self._record("".join(traceback.format_exception(kind, error, tb)))

        def qt_messages(kind, _context, message) -> None:
            if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
                self._record(f"Qt: {message}")

        sys.excepthook = hook
        self._old_qt = qInstallMessageHandler(qt_messages)
        return self

    def uninstall(self) -> None:
        """Put the previous hooks back."""
        from PySide6.QtCore import qInstallMessageHandler

        if self._old_hook is not None:
            sys.excepthook = self._old_hook
        qInstallMessageHandler(self._old_qt)


class DialogRecorder:
    """Stands in for a person at the message boxes: records them, answers "No"/"Ok", recovers
    every crash copy offered."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.offered: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> DialogRecorder:
        from PySide6.QtWidgets import QMessageBox

        from desktop import dialogs

        def recorder(kind: str):
            def show(_parent, title, text, *_args, **_kwargs):
                self.messages.append((kind, str(title), str(text)))
                return (QMessageBox.StandardButton.No if kind == "question"
                        else QMessageBox.StandardButton.Ok)

            return staticmethod(show)

        for kind in ("warning", "critical", "information", "question", "about"):
            self._saved.append((QMessageBox, kind, QMessageBox.__dict__[kind]))
            setattr(QMessageBox, kind, recorder(kind))

        def recovery(_parent, title, _when) -> str:
            self.offered.append(str(title))
            return "recover"

        self._saved.append((dialogs, "ask_recovery", dialogs.ask_recovery))
        dialogs.ask_recovery = recovery
        return self

    def uninstall(self) -> None:
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        self._saved.clear()


def drag(window: Any, points: Sequence[tuple[float, float]], *, alt: bool = False) -> None:
    """Drag the left button through image positions ``points`` on the window's canvas."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    view = window.view
    viewport = view.viewport()
    left, nothing = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    modifiers = Qt.KeyboardModifier.AltModifier if alt else Qt.KeyboardModifier.NoModifier

    def send(kind: QEvent.Type, scene_point: tuple[float, float], button, buttons) -> None:
        point = QPointF(view.mapFromScene(QPointF(*scene_point)))
        global_point = QPointF(viewport.mapToGlobal(point.toPoint()))
        QApplication.sendEvent(viewport, QMouseEvent(kind, point, global_point, button,
                                                     buttons, modifiers))

    send(QEvent.Type.MouseButtonPress, points[0], left, left)
    for point in points[1:]:
        send(QEvent.Type.MouseMove, point, nothing, left)
    send(QEvent.Type.MouseButtonRelease, points[-1], left, nothing)
    QApplication.processEvents()


def layer_signature(layer: Any) -> tuple:
    """What a layer looks like and holds, for comparisons (not its id)."""
    return (layer.name, bool(layer.visible), round(float(layer.opacity), 3),
            hashlib.sha1(layer.pixels.tobytes()).hexdigest(), layer.pixels.shape,
            str(layer.pixels.dtype))


def state_hash(doc: Any) -> str | None:
    """A fingerprint of a document's (or an :class:`~desktop.document.ora.OraSnapshot`'s)
    layers and mask; None for no document."""
    if doc is None:
        return None
    digest = hashlib.sha1()
    for layer in doc.layers:
        digest.update(repr(layer_signature(layer)).encode())
    coverage = doc.coverage if hasattr(doc, "coverage") else doc.mask.coverage
    digest.update(coverage.tobytes())
    return digest.hexdigest()
