"""Periodic crash copies of the window's document, written off the GUI thread.

Every :func:`autosave_interval_s` seconds (Edit → Preferences, the ``autosave/interval_s``
setting, default 30; ``PIXELMEND_AUTOSAVE_S`` overrides it), if the document changed since the
last copy and is not clean, a cheap :func:`~desktop.document.ora.snapshot` is taken on the GUI
thread (layer pixels are immutable and shared; only the mask is copied) and written by a
background thread, so a 24 MP session never blocks painting. A tick that finds a stroke in
progress or the previous copy still being written tries again a quarter of a second later, so a
crash loses at most the interval plus the time one copy takes to write. A real save or a clean
close discards the copy.
"""

from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, QTimer

from desktop import settings
from desktop.document.autosave import Autosaver
from desktop.document.document import Document
from desktop.document.ora import snapshot

__all__ = ["DEFAULT_INTERVAL_S", "INTERVAL_KEY", "AutosaveTimer", "autosave_interval_s",
           "interval_override"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 30.0
INTERVAL_KEY = "autosave/interval_s"
MIN_INTERVAL_S, MAX_INTERVAL_S = 1.0, 3600.0
_RETRY_MS = 250


def interval_override() -> float | None:
    """The interval ``PIXELMEND_AUTOSAVE_S`` sets (seconds, 1–3600), or None when unset."""
    text = os.environ.get("PIXELMEND_AUTOSAVE_S", "").strip()
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return None if value is None else min(max(value, MIN_INTERVAL_S), MAX_INTERVAL_S)


def autosave_interval_s() -> float:
    """Seconds between crash copies: ``PIXELMEND_AUTOSAVE_S`` if set, else the
    ``autosave/interval_s`` setting, else 30."""
    override = interval_override()
    if override is not None:
        return override
    return settings.get_float(INTERVAL_KEY, DEFAULT_INTERVAL_S, MIN_INTERVAL_S, MAX_INTERVAL_S)


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
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(_RETRY_MS)
        self._retry.timeout.connect(self.save_now)

    @property
    def interval_s(self) -> float:
        """Seconds between crash copies."""
        return self._timer.interval() / 1000

    def set_interval(self, seconds: float) -> None:
        """Write crash copies every ``seconds`` from now on."""
        seconds = min(max(float(seconds), MIN_INTERVAL_S), MAX_INTERVAL_S)
        self._timer.start(round(seconds * 1000))

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
            self._retry.start()  # soon, not a whole interval later
            return False
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

    def note_saving(self, path: object) -> None:
        """The document is being saved to ``path`` (None: that save is over); the crash copy's
        marker records it so a kill in the middle can be cleaned up after."""
        if self.saver is None:
            return
        try:
            self.saver.note_saving(path)  # type: ignore[arg-type]
        except OSError:
            log.exception("cannot note the save in the autosave marker")

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
        self._retry.stop()
        self.set_document(None)
