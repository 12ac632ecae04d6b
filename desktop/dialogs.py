"""The questions and messages the editor shows, in one place (tests replace ``QMessageBox``).

Every function looks ``QMessageBox`` up at call time, so a test can monkeypatch its static
methods (``warning``, ``question``, ``critical``) to capture the text and choose an answer.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["ask_recovery", "ask_unsaved", "confirm", "show_about", "show_error", "show_info"]

Button = QMessageBox.StandardButton


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """Tell the person something went wrong; the window stays usable afterwards."""
    QMessageBox.warning(parent, title, text)


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    """Tell the person something worth knowing."""
    QMessageBox.information(parent, title, text)


def show_about(parent: QWidget | None) -> None:
    """Help → About: what PixelMend is and its keys."""
    QMessageBox.about(parent, "About PixelMend", (
        "<h3>PixelMend</h3><p>Offline image repair: paint a mask, pick an op, get a new "
        "layer.</p><p>B brush · E eraser · L lasso · M rectangle · [ ] size · "
        "Shift+[ ] hardness · Ctrl+I invert · Ctrl+Z / Ctrl+Shift+Z undo/redo · "
        "Ctrl+0 fit · Ctrl+1 100 % · Space-drag pan · hold \\ to compare</p>"))


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask a yes/no question whose safe answer is no."""
    answer = QMessageBox.question(parent, title, text, Button.Yes | Button.No, Button.No)
    return answer == Button.Yes


def ask_unsaved(parent: QWidget | None, title: str) -> str:
    """Ask what to do with unsaved changes: ``"save"``, ``"discard"`` or ``"cancel"``."""
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        f"“{title}” has changes that are not saved.\n\nSave them as a session (.ora) first?",
        Button.Save | Button.Discard | Button.Cancel,
        Button.Save,
    )
    if answer == Button.Save:
        return "save"
    if answer == Button.Discard:
        return "discard"
    return "cancel"


def ask_recovery(parent: QWidget | None, title: str, when: str) -> str:
    """Offer a crash copy: ``"recover"``, ``"discard"`` or ``"later"``."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work?")
    box.setText(f"Recover “{title}” from {when}?")
    box.setInformativeText("PixelMend did not close properly last time; this copy was saved "
                           "automatically. “Later” keeps it for the next start.")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(recover)
    box.exec()
    clicked = box.clickedButton()
    if clicked is recover:
        return "recover"
    if clicked is discard:
        return "discard"
    return "later"
