"""Opening, saving and exporting for one window, with the questions a careful editor asks.

The original image is never overwritten without asking: "Save" writes an OpenRaster session
(.ora, asking where the first time), exports always go through a file dialog (which confirms
replacing a file), and exporting over the file the document was opened from asks once more.
Every method takes an optional path so tests and scripts can skip the dialogs.

The controller works on a :class:`~desktop.session.Session` (the document it opens, saves and
closes, and the status messages) and needs nothing else of the window than a parent widget for
its dialogs.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QWidget

from desktop import dialogs, settings
from desktop.document.document import Document
from desktop.document.export import export_flat, export_layer, export_mask, keeps_alpha
from desktop.document.layer import Layer
from desktop.document.opening import open_document
from desktop.document.ora import save_ora
from desktop.qimages import array_from_qimage
from desktop.session import Session
from engine.core.atomic import stale_temporaries

__all__ = ["IMAGE_FILTER", "FileController", "remove_stale_temporaries", "same_file"]

IMAGE_FILTER = ("Images and sessions (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp *.ora);;"
                "All files (*)")
EXPORT_FILTER = ("PNG (*.png);;TIFF (*.tif *.tiff);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;"
                 "BMP (*.bmp)")
SESSION_FILTER = "OpenRaster session (*.ora)"


def same_file(a: str | os.PathLike[str] | None, b: str | os.PathLike[str] | None) -> bool:
    """True when both paths name the same file (resolving links and relative parts)."""
    if a is None or b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files an earlier, interrupted save of ``path`` left beside it."""
    for stale in stale_temporaries(path.parent):
        if stale.name.startswith(f".{path.name}."):
            with suppress(OSError):
                stale.unlink()


class FileController(QObject):
    """File menu behaviour for one session.

    Parameters
    ----------
    session : Session
        Whose document is opened, saved, exported and closed.
    parent : QWidget, optional
        The window the dialogs belong to.

    Signals
    -------
    saving(object) : a session file is about to be written (its path), or that write is over
        (None); the autosave notes it, so that a kill in the middle can be cleaned up after.
    """

    saving = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._owner = parent

    @property
    def doc(self) -> Document | None:
        """The session's document."""
        return self.session.document

    # -- opening ----------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the current document."""
        doc = self.doc
        if doc is None or not doc.dirty:
            return True
        answer = dialogs.ask_unsaved(self._owner, doc.title)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def open_dialog(self) -> None:
        """File → Open…"""
        path, _ = QFileDialog.getOpenFileName(self._owner, "Open image", settings.last_dir("open"),
                                              IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | os.PathLike[str], *, ask: bool = True) -> bool:
        """Open ``path`` in this window (asking about unsaved changes); True on success."""
        if ask and not self.confirm_discard():
            return False
        path = Path(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            doc = open_document(path)
        except MemoryError:
            error_text = "there is not enough memory to open it"
        except Exception as error:  # corrupt, truncated, unsupported: a message, not a crash
            error_text = str(error) or type(error).__name__
        else:
            error_text = ""
        finally:
            QApplication.restoreOverrideCursor()
        if error_text:
            prefix = f"Cannot open {path.name}: "  # the engine's messages name the file already
            cause = error_text.removeprefix(prefix)
            dialogs.show_error(self._owner, "Cannot open file", f"Cannot open {path.name}:\n\n"
                               f"{cause}")
            return False
        self.session.set_document(doc)
        settings.add_recent_file(path)
        settings.remember_dir("open", path)
        return True

    def fill_recent_menu(self, menu: QMenu) -> None:
        """Rebuild File → Open Recent in ``menu``."""
        menu.clear()
        recent = settings.recent_files()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", settings.clear_recent_files)

    def paste(self) -> bool:
        """File → Paste: the clipboard's image (or copied file) as a new document."""
        clipboard = QGuiApplication.clipboard()
        data = clipboard.mimeData()
        if data is not None and data.hasUrls():
            files = [url.toLocalFile() for url in data.urls() if url.isLocalFile()]
            if files:
                return self.open_path(files[0])
        image = clipboard.image()
        if image.isNull():
            self.session.show_message("The clipboard holds no image", 4000)
            return False
        if not self.confirm_discard():
            return False
        doc = Document([Layer(array_from_qimage(image), name="Pasted")],
                       title="Pasted image")
        self.session.set_document(doc)
        return True

    def close_document(self) -> bool:
        """File → Close: drop the document (asking first), keep the window."""
        if not self.confirm_discard():
            return False
        self.session.set_document(None)
        return True

    # -- saving -----------------------------------------------------------------------------

    def save(self) -> bool:
        """Save the session to its .ora, or ask where (never over the source image)."""
        doc = self.doc
        if doc is None:
            return False
        if doc.save_path is None or doc.save_path.suffix.lower() != ".ora":
            return self.save_as()
        return self._write_session(doc.save_path)

    def save_as(self, path: str | os.PathLike[str] | None = None) -> bool:
        """Save the session as a new .ora file."""
        doc = self.doc
        if doc is None:
            return False
        if path is None:
            start = self._suggest(doc, "save", ".ora")
            path, _ = QFileDialog.getSaveFileName(self._owner, "Save session", start,
                                                  SESSION_FILTER)
            if not path:
                return False
        path = Path(path)
        if path.suffix.lower() != ".ora":
            path = path.with_name(path.name + ".ora")
        return self._write_session(path)

    def _write_session(self, path: Path) -> bool:
        doc = self.doc
        remove_stale_temporaries(path)
        self.saving.emit(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            save_ora(doc, path)
        except Exception as error:
            QApplication.restoreOverrideCursor()
            self.saving.emit(None)
            dialogs.show_error(self._owner, "Cannot save", str(error))
            return False
        QApplication.restoreOverrideCursor()
        doc.mark_saved(path)  # "dirty" goes False: the title updates, the crash copy goes
        self.saving.emit(None)
        settings.add_recent_file(path)
        settings.remember_dir("save", path)
        self.session.show_message(f"Saved {path.name}", 4000)
        return True

    # -- exporting --------------------------------------------------------------------------

    def export_image(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Export the visible layers flattened."""
        return self._export("image", "_repaired", path, lambda p: export_flat(self.doc, p,
                                                                              overwrite=True))

    def export_layer(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Export the active layer as it is."""
        doc = self.doc
        index = doc.active_index if doc else 0
        return self._export("layer", "_layer", path,
                            lambda p: export_layer(self.doc, index, p, overwrite=True))

    def export_mask(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Export the mask as 8-bit gray PNG (white = repair)."""
        return self._export("mask", "_mask", path,
                            lambda p: export_mask(self.doc, p, overwrite=True), "PNG (*.png)")

    def _export(self, what: str, suffix: str, path, write, filters: str = EXPORT_FILTER):
        doc = self.doc
        if doc is None:
            return None
        if path is None:
            start = self._suggest(doc, "export", ".png", suffix)
            path, _ = QFileDialog.getSaveFileName(self._owner, f"Export {what}", start, filters)
            if not path:
                return None  # the dialog itself confirmed replacing an existing file
        elif Path(path).exists() and not dialogs.confirm(
                self._owner, "Replace file?", f"{Path(path).name} exists. Replace it?"):
            return None
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".png")
        if same_file(path, doc.source_path) and not dialogs.confirm(
                self._owner, "Replace the original?",
                f"{path.name} is the image this document was opened from.\n\nExporting over it "
                "replaces the original pixels for good. Replace the original file?"):
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = write(path)
        except Exception as error:
            QApplication.restoreOverrideCursor()
            dialogs.show_error(self._owner, f"Cannot export {what}", str(error))
            return None
        QApplication.restoreOverrideCursor()
        settings.remember_dir("export", written)
        flattened = not keeps_alpha(written) and any(
            layer.has_alpha for layer in doc.layers if layer.visible)
        note = " (transparency flattened onto white)" if flattened else ""
        self.session.show_message(f"Exported {written.name}{note}", 6000)
        return written

    @staticmethod
    def _suggest(doc: Document, kind: str, extension: str, suffix: str = "") -> str:
        base = doc.save_path or doc.source_path
        stem = (base.stem if base else Path(doc.title).stem) or "untitled"
        folder = str(base.parent) if base else settings.last_dir(kind)
        return str(Path(folder) / f"{stem}{suffix}{extension}")
