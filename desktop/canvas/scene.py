"""The scene of one document: layer items, mask overlay, split compare, bound to document events.

The scene only listens: the document announces ``layers``, ``layer_pixels``, ``mask`` and
``active`` and the scene updates the matching items. Switching documents disconnects from the
old one, so a closed document is not kept alive by the canvas.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QGraphicsScene

from desktop.canvas.compare import SplitCompareItem, peek_index
from desktop.canvas.layer_items import LayerStack, layer_pixmap
from desktop.canvas.mask_overlay import DEFAULT_COLOUR, MaskOverlayItem
from desktop.document.document import Document

__all__ = ["DocumentScene"]


class DocumentScene(QGraphicsScene):
    """Shows a :class:`Document`; ``document`` is None for an empty window."""

    document_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.document: Document | None = None
        self.layers = LayerStack(self)
        self.overlay: MaskOverlayItem | None = None
        self.split = SplitCompareItem()
        self.addItem(self.split)
        self._overlay_colour = QColor(DEFAULT_COLOUR)
        self._overlay_opacity = 0.5
        self._overlay_visible = True
        self._peeking = False
        self._original_source = None

    # -- binding --------------------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` (None: nothing); disconnects from the previous document."""
        old = self.document
        if old is not None:
            for event, callback in self._callbacks():
                old.events.disconnect(event, callback)
        self.layers.clear()
        if self.overlay is not None:
            self.removeItem(self.overlay)
            self.overlay = None
        self.document = doc
        self._original_source = None
        if doc is None:
            self.setSceneRect(QRectF())
            self.split.set_original(QPixmap())
        else:
            self.setSceneRect(QRectF(0, 0, doc.width, doc.height))
            self.overlay = MaskOverlayItem(doc.mask.coverage, self._overlay_colour,
                                           self._overlay_opacity)
            self.overlay.setVisible(self._overlay_visible)
            self.addItem(self.overlay)
            for event, callback in self._callbacks():
                doc.events.connect(event, callback)
            self._on_layers()
        self.document_changed.emit(doc)

    def _callbacks(self):
        return (("layers", self._on_layers), ("layer_pixels", self._on_layer_pixels),
                ("mask", self._on_mask), ("active", self._on_active))

    # -- document events ----------------------------------------------------------------

    def _on_layers(self, *_args) -> None:
        doc = self.document
        if doc is None:
            return
        self.layers.sync(doc.layers)
        if self.split.isVisible():
            self._refresh_original()
        if self._peeking:
            self.set_peek(True)

    def _on_layer_pixels(self, _layer_id: str, _rect=None) -> None:
        self._on_layers()

    def _on_mask(self, rect=None) -> None:
        if self.overlay is not None and self.document is not None:
            self.overlay.changed(self.document.mask.coverage, rect)

    def _on_active(self, *_args) -> None:
        if self._peeking:
            self.set_peek(True)

    # -- display options ----------------------------------------------------------------

    def set_smooth(self, smooth: bool) -> None:
        """Smooth filtering when zoomed out (the view calls this on zoom)."""
        self.layers.set_smooth(smooth)

    def set_overlay_style(self, colour: QColor | None = None,
                          opacity: float | None = None) -> None:
        """Mask overlay colour and opacity (only the overlay's colour table changes)."""
        if colour is not None:
            self._overlay_colour = QColor(colour)
        if opacity is not None:
            self._overlay_opacity = float(opacity)
        if self.overlay is not None:
            self.overlay.set_style(colour, opacity)

    def set_overlay_visible(self, on: bool) -> None:
        """Show or hide the mask overlay (kept across documents)."""
        self._overlay_visible = bool(on)
        if self.overlay is not None:
            self.overlay.setVisible(self._overlay_visible)

    def is_opaque(self) -> bool:
        """True when the bottom visible layer covers the canvas (no checkerboard needed)."""
        doc = self.document
        if doc is None:
            return False
        for layer in doc.layers:
            if layer.visible:
                return not layer.has_alpha and layer.opacity >= 1.0
        return False

    def set_peek(self, on: bool) -> None:
        """Hold-to-compare: hide the layers from the active one up while ``on``."""
        self._peeking = on
        doc = self.document
        index = peek_index(doc.active_index, len(doc.layers)) if (doc and on) else None
        self.layers.peek_below(index)

    def set_split(self, on: bool) -> None:
        """Show or hide the split before/after view."""
        if on:
            self._refresh_original()
        self.split.setVisible(on and self.document is not None)

    def _refresh_original(self) -> None:
        doc = self.document
        if doc is None or not doc.layers:
            return
        bottom = doc.layers[0]
        if self._original_source is bottom.pixels:
            return
        self._original_source = bottom.pixels
        item = self.layers.item(bottom.id)
        if item is not None and item.source is bottom.pixels:
            self.split.set_original(item.pixmap())
        else:  # the original is hidden: convert it for the comparison
            self.split.set_original(layer_pixmap(bottom))
