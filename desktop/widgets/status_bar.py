"""The status bar: device in use, image size and depth, zoom, cursor position and pixel value.

The device name needs torch, whose import takes seconds; it is looked up on a background thread
at start-up and delivered through a queued signal, so the window appears at once.
"""

from __future__ import annotations

import threading
from contextlib import suppress

from PySide6.QtCore import QPointF, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from desktop.document.document import Document

DEVICE_LOOKUP_DELAY_MS = 1500

__all__ = ["StatusBar", "describe_pixel"]


def describe_pixel(doc: Document, x: int, y: int) -> str:
    """``x, y`` and the active layer's value there, plus the mask coverage."""
    layer = doc.active_layer
    values = [int(v) for v in layer.pixels[y, x]]
    names = ("Y",) if layer.channels == 1 else ("R", "G", "B")
    if layer.has_alpha:
        names = (*names, "A")
    pixel = " ".join(f"{name} {value}" for name, value in zip(names, values, strict=False))
    mask = int(doc.mask.coverage[y, x])
    return f"{x}, {y}   {pixel}" + (f"   mask {round(mask / 2.55)} %" if mask else "")


class StatusBar(QStatusBar):
    """Permanent fields on the right, transient messages on the left."""

    _device_found = Signal(str, str)

    def __init__(self, parent: QWidget | None = None, *, look_up_device: bool = True) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.cursor_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.device_label = QLabel("Device: …")
        self.device_label.setToolTip("Where ops run (set PIXELMEND_DEVICE=cpu|cuda|mps to choose)")
        for label in (self.cursor_label, self.size_label, self.zoom_label, self.device_label):
            self.addPermanentWidget(label)
        self._device_found.connect(self._show_device)
        self.device_thread: threading.Thread | None = None
        if look_up_device:
            # Naming the device imports torch (seconds on a small CPU): start it once the window
            # is on screen, so start-up does not share the cores with it.
            self.device_thread = threading.Thread(target=self._look_up_device,
                                                  name="pixelmend-device", daemon=True)
            QTimer.singleShot(DEVICE_LOOKUP_DELAY_MS, self.device_thread.start)

    def _look_up_device(self) -> None:
        tip = ""
        try:
            from engine.core.device import describe_device

            text = describe_device()
        except Exception as error:  # a bad PIXELMEND_DEVICE or a broken torch: say so, go on
            text, tip = f"unavailable ({type(error).__name__})", str(error)
        with suppress(RuntimeError):  # the window closed before torch finished importing
            self._device_found.emit(text, tip)

    def _show_device(self, text: str, tip: str) -> None:
        self.device_label.setText(f"Device: {text}")
        if tip:
            self.device_label.setToolTip(tip)

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc``'s size and depth."""
        self.doc = doc
        self.cursor_label.clear()
        if doc is None:
            self.size_label.clear()
            return
        layer = doc.layers[0]
        kind = "RGB" if layer.channels == 3 else "gray"
        self.size_label.setText(f"{doc.width}×{doc.height}  {doc.bit_depth}-bit {kind}")

    def set_zoom(self, percent: float) -> None:
        """Show the zoom."""
        self.zoom_label.setText(f"{percent:.0f} %" if percent >= 10 else f"{percent:.1f} %")

    def set_cursor(self, pos: QPointF | None) -> None:
        """Show the image position under the cursor and its value (None: cursor left)."""
        doc = self.doc
        if doc is None or pos is None:
            self.cursor_label.clear()
            return
        x, y = int(pos.x() // 1), int(pos.y() // 1)
        if 0 <= x < doc.width and 0 <= y < doc.height:
            self.cursor_label.setText(describe_pixel(doc, x, y))
        else:
            self.cursor_label.clear()
