"""The document one window shows, as an object the window's controllers share.

A :class:`Session` holds the current document (or None), announces when it is replaced, and
carries the short messages meant for the status bar. The file, mask and op controllers read and
replace the document through it and never see the window; the window binds its canvas and
panels to :attr:`Session.document_changed`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop.document.document import Document

__all__ = ["Session"]


class Session(QObject):
    """The current document of one window.

    Signals
    -------
    document_changed(object) : the document was replaced (the new one, or None).
    message(str, int) : a transient status message and how long to show it (ms).
    """

    document_changed = Signal(object)
    message = Signal(str, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document: Document | None = None

    @property
    def document(self) -> Document | None:
        """The document being edited, or None for an empty window."""
        return self._document

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` (None: nothing); listeners rebind even when it is the same document."""
        self._document = doc
        self.document_changed.emit(doc)

    def undo(self) -> None:
        """Undo one step of the current document, if any."""
        if self._document is not None:
            self._document.undo()

    def redo(self) -> None:
        """Redo one step of the current document, if any."""
        if self._document is not None:
            self._document.redo()

    def show_message(self, text: str, timeout_ms: int = 4000) -> None:
        """Show ``text`` in the status bar for ``timeout_ms``."""
        self.message.emit(text, int(timeout_ms))
