"""Periodic crash copies of the window's document, written off the GUI thread.

Every ``PIXELMEND_AUTOSAVE_S`` seconds (default 60), if the document changed since the last copy
and is not clean, a cheap :func:`~desktop.document.ora.snapshot` is taken on the GUI thread (layer
pixels are immutable and shared; only the mask is copied) and written by a background thread, so
a 24 MP session never blocks painting. A real save or a clean close discards the copy.
"""

from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, QTimer

from desktop.document.autosave import Autosaver
from desktop.document.document import Document
from desktop.document.ora import snapshot

__all__ = ["AutosaveTimer", "autosave_interval_s"]

log = logging.getLogger(__name__)


def autosave_interval_s() -> float:
    """Seconds between crash copies (``PIXELMEND_AUTOSAVE_S``, default 60, at least 1)."""
    try:
        return max(float(os.environ.get("PIXELMEND_AUTOSAVE_S", "60")), 1.0)
    except ValueError:
        return 60.0


class AutosaveTimer(QObject):
    """Keeps one :class:`Autosaver` for whatever document the window shows."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.saver: Autosaver | None = None
        self._changed = False
        self._thread: threading.Thread | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(round(autosave_interval_s() * 1000))
        self._timer.timeout.connect(self.save_now)
        self._timer.start()

    def set_document(self, doc: Document | None) -> None:
        """Follow ``doc``; the previous document's crash copy is discarded."""
        if self.doc is not None:
            self.doc.events.disconnect("history", self._on_history)
            self.doc.events.disconnect("dirty", self._on_dirty)
        self.discard()
        self.doc = doc
        self._changed = doc is not None and doc.dirty
        self.saver = Autosaver() if doc is not None else None
        if doc is not None:
            doc.events.connect("history", self._on_history)
            doc.events.connect("dirty", self._on_dirty)

    def _on_history(self) -> None:
        self._changed = True

    def _on_dirty(self, dirty: bool) -> None:
        if not dirty:  # saved for real (or undone back to the saved state)
            self.discard()

    def save_now(self, wait: bool = False) -> bool:
        """Write a crash copy if there is something new; True when one was started."""
        doc, saver = self.doc, self.saver
        if doc is None or saver is None or not self._changed or not doc.dirty:
            return False
        if doc.mask.in_stroke or (self._thread is not None and self._thread.is_alive()):
            return False  # try again at the next tick
        snap = snapshot(doc)
        self._changed = False

        def write() -> None:
            try:
                saver.save(snap)
            except Exception:  # a full disk must not disturb the person's work
                log.exception("autosave failed")

        self._thread = threading.Thread(target=write, name="pixelmend-autosave", daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return True

    def join(self) -> None:
        """Wait for a crash copy being written."""
        if self._thread is not None:
            self._thread.join()

    def discard(self) -> None:
        """Remove the current document's crash copy (after any write in flight)."""
        self.join()
        if self.saver is not None:
            self.saver.discard()

    def stop(self) -> None:
        """Clean close: stop the timer and remove the crash copy."""
        self._timer.stop()
        self.set_document(None)
