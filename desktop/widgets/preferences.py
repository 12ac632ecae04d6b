"""Edit → Preferences: the settings a person may want to change (for now, how often the
session is autosaved)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

__all__ = ["PreferencesDialog"]


class PreferencesDialog(QDialog):
    """Asks for the autosave interval.

    Parameters
    ----------
    interval_s : float
        The current interval, in seconds.
    minimum, maximum : float
        Its bounds.
    override : float, optional
        The interval ``PIXELMEND_AUTOSAVE_S`` forces (shown, so a change is not a surprise).
    """

    def __init__(self, interval_s: float, minimum: float, maximum: float,
                 override: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.interval = QDoubleSpinBox()
        self.interval.setObjectName("autosave_interval")
        self.interval.setRange(minimum, maximum)
        self.interval.setDecimals(0)
        self.interval.setSuffix(" s")
        self.interval.setValue(interval_s)
        self.interval.setToolTip("How often unsaved work is copied to the autosave folder; "
                                 "after a crash at most this much work is lost")
        form = QFormLayout()
        form.addRow("Autosave every", self.interval)
        note = QLabel("After a crash, the next start offers to recover the work from the last "
                      "autosave.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        if override is not None:
            forced = QLabel(f"PIXELMEND_AUTOSAVE_S is set: {override:g} s is used while it is.")
            forced.setWordWrap(True)
            layout.addWidget(forced)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
