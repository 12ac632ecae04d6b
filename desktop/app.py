"""Start the editor: the QApplication, the windows, crash recovery and the last-resort error hook.

``main(paths)`` opens the first image in the main window and each further one in a window of its
own, cleans up what a killed run left, offers to recover its crash copies (each is read before it
is offered: a damaged one is set aside with a message, never offered), and installs a
``sys.excepthook``
that shows an unexpected error in a message box instead of ending the program (the autosave
keeps running, so nothing is lost).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop import dialogs
from desktop.document.autosave import default_directory, find_recoveries
from desktop.document.leftovers import clean_leftovers, set_aside
from desktop.main_window import MainWindow, new_window
from engine.core.resources import resources_dir

__all__ = ["create_application", "install_excepthook", "main", "new_window",
           "offer_recoveries", "open_paths"]

log = logging.getLogger(__name__)


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication with the names QSettings uses (HiDPI scaling is on by default in Qt 6)."""
    QCoreApplication.setOrganizationName("PixelMend")
    QCoreApplication.setOrganizationDomain("pixelmend.org")
    QCoreApplication.setApplicationName("PixelMend")
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationDisplayName("PixelMend")
    # Lets Wayland and desktop shells match windows to the installed .desktop entry and icon.
    QGuiApplication.setDesktopFileName("io.pixelmend.PixelMend")
    app.setWindowIcon(_app_icon())
    return app


def _app_icon() -> QIcon:
    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("pixelmend-*.png")):
        icon.addFile(str(path))
    return icon


def open_paths(window: MainWindow, paths: Sequence[str]) -> list[MainWindow]:
    """Open ``paths[0]`` in ``window`` and each further path in a new window."""
    windows = [window]
    for i, path in enumerate(paths):
        target = window if i == 0 else new_window()
        if target is not window:
            windows.append(target)
            target.show()
        target.files.open_path(path, ask=False)
    return windows


def offer_recoveries(window: MainWindow) -> int:
    """Offer every readable crash copy: Recover (open it), Discard (delete it) or Later (keep
    it). What killed runs left half-written is removed first; a crash copy that cannot be read
    is moved to ``autosave/damaged/`` and named in one message instead of being offered.

    Returns the number of documents recovered.
    """
    clean_leftovers()
    damaged_markers: list[Path] = []
    recoveries = find_recoveries(damaged=damaged_markers)
    damaged = [f"{marker.name}: cannot be read" for marker in damaged_markers]
    if damaged_markers:
        set_aside(damaged_markers)
    readable = []
    for recovery in recoveries:
        try:
            readable.append((recovery, recovery.open()))
        except Exception as error:  # a damaged copy: set aside with a message, never a crash
            damaged.append(f"{recovery.title}: {error}")
            set_aside([recovery.path, recovery.marker])
    if damaged:
        dialogs.show_error(window, "Damaged crash copy", (
            "These autosaved copies could not be read and were not offered; they were moved to "
            f"{default_directory() / 'damaged'}:\n\n" + "\n".join(damaged)))
    recovered = 0
    for recovery, doc in readable:
        when = recovery.saved_at.strftime("%Y-%m-%d %H:%M")
        answer = dialogs.ask_recovery(window, recovery.title, when)
        if answer == "discard":
            recovery.discard()
        if answer != "recover":
            continue
        target = window.open_document(doc)
        target.show()
        target.autosave.save_now(wait=True)  # the copy now lives in this session's autosave
        recovery.discard()
        recovered += 1
    return recovered


def install_excepthook() -> None:
    """Show unexpected errors in a message box and keep the program (and the autosave) alive."""
    showing = False

    def hook(kind, error, tb) -> None:
        nonlocal showing
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        text = "".join(traceback.format_exception(kind, error, tb))
        log.error("unexpected error:\n%s", text)
        print(text, file=sys.stderr)
        if showing:
            return
        showing = True
        try:
            QMessageBox.critical(QApplication.activeWindow(), "Unexpected error",
                                 f"{kind.__name__}: {error}\n\nPixelMend keeps running and "
                                 "your work is autosaved; saving now is a good idea.\n\n"
                                 + text[-1500:])
        finally:
            showing = False

    sys.excepthook = hook


def main(paths: Sequence[str]) -> int:
    """Run the editor until the last window closes; return the exit code."""
    app = create_application()
    install_excepthook()
    window = new_window()
    window.show()
    open_paths(window, list(paths))
    QTimer.singleShot(0, lambda: offer_recoveries(window))
    return int(app.exec())
