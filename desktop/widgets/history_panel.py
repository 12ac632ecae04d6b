"""The history panel: every undo step in a list; clicking a row goes to that state.

Row 0 is the state the document was opened in; row ``i`` is the state after the ``i``-th
entry. Undone entries are shown greyed. The list follows the document's ``history`` event with
its signals blocked, so rebuilding it never triggers a jump.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop.document.document import Document

__all__ = ["HistoryPanel"]

INITIAL_TEXT = "Opened"


class HistoryPanel(QWidget):
    """Binds a ``QListWidget`` to ``doc.history.entries()`` and ``doc.history.index``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.list = QListWidget()
        self.list.setObjectName("history_list")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self.list.currentRowChanged.connect(self._row_changed)

    def set_document(self, doc: Document | None) -> None:
        """Follow ``doc``'s history (None: empty)."""
        if self.doc is not None:
            self.doc.events.disconnect("history", self.refresh)
        self.doc = doc
        if doc is not None:
            doc.events.connect("history", self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        """Rebuild the rows and select the current state."""
        self.list.blockSignals(True)
        try:
            self.list.clear()
            if self.doc is None:
                return
            history = self.doc.history
            dropped = getattr(history, "dropped", 0)
            first = INITIAL_TEXT if not dropped else f"(oldest {dropped} steps dropped)"
            undone = QBrush(self.palette().color(QPalette.ColorGroup.Disabled,
                                                 QPalette.ColorRole.Text))
            for row, text in enumerate([first, *history.entries()]):
                item = QListWidgetItem(text)
                if row > history.index:
                    item.setForeground(undone)
                self.list.addItem(item)
            self.list.setCurrentRow(history.index)
            self.list.scrollToItem(self.list.currentItem())
        finally:
            self.list.blockSignals(False)

    def _row_changed(self, row: int) -> None:
        if self.doc is None or row < 0 or row == self.doc.history.index:
            return
        if self.doc.mask.in_stroke:
            self.doc.mask_stroke_finished(self.doc.mask.end_stroke())
        self.doc.history.goto(row)
