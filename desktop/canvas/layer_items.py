"""One pixmap item per visible layer, built once per change of the layer's pixels.

A layer's pixels never change in place (an edit assigns a new array), so the item remembers the
array it was built from and converts again only when ``layer.pixels`` is a different object.
Opacity, order and visibility changes touch only the item, never the pixels. A 24 MP layer is
converted once (a ``QImage`` wrapping the layer's buffer → ``QPixmap``, see
:func:`desktop.qimages.pixmap_from_pixels`), never per mouse event or repaint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene

from desktop.document.layer import Layer
from desktop.qimages import pixmap_from_pixels

__all__ = ["LayerItem", "LayerStack", "layer_pixmap"]


def layer_pixmap(layer: Layer) -> QPixmap:
    """The canvas pixmap of ``layer``, converted once.

    8-bit layers (gray, RGB, RGBA) are wrapped as they are, without going through
    ``display_rgba8()``: that cache would keep another 4 bytes per pixel alive for the layer's
    lifetime (96 MB at 24 MP) although the pixmap is the only copy the canvas needs. 16-bit
    layers go through ``display_rgba8()``.
    """
    if layer.pixels.dtype == np.uint8:
        return pixmap_from_pixels(layer.pixels)  # a copy only for a strided view
    return pixmap_from_pixels(layer.display_rgba8(), opaque=not layer.has_alpha)


class LayerItem(QGraphicsPixmapItem):
    """The canvas item of one layer; knows which pixel array its pixmap came from."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        self.layer_id = layer.id
        self.source: np.ndarray | None = None
        self.opaque = False  # no alpha and full opacity: hides every layer below
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.refresh(layer)

    def refresh(self, layer: Layer) -> bool:
        """Rebuild the pixmap if the layer's pixels changed; True when it did."""
        if self.source is layer.pixels:
            return False
        self.setPixmap(layer_pixmap(layer))
        self.source = layer.pixels
        return True


class LayerStack:
    """Keeps one :class:`LayerItem` per visible layer of a document in a scene, in order.

    Hidden layers drop their pixmap (a 24 MP pixmap is about 96 MB); showing one again converts
    it once. ``peek_below`` hides every layer from a given index up, for the before/after key.
    """

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._items: dict[str, LayerItem] = {}
        self._smooth = False
        self._peek_from: int | None = None
        self.conversions = 0  # pixmaps built so far (the benchmark and tests read it)

    def item(self, layer_id: str) -> LayerItem | None:
        """The item showing ``layer_id``, or None when that layer is hidden or unknown."""
        return self._items.get(layer_id)

    def items(self) -> list[LayerItem]:
        """Items bottom to top."""
        return sorted(self._items.values(), key=lambda item: item.zValue())

    def clear(self) -> None:
        """Remove every item."""
        for item in self._items.values():
            self._scene.removeItem(item)
        self._items.clear()

    def set_smooth(self, smooth: bool) -> None:
        """Filter pixmaps smoothly (zoomed out) or show crisp pixels (zoomed in)."""
        self._smooth = smooth
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        for item in self._items.values():
            item.setTransformationMode(mode)

    def peek_below(self, index: int | None) -> None:
        """Hide layers from ``index`` up (None shows all visible layers again)."""
        self._peek_from = index
        self._update_shown()

    def _update_shown(self) -> None:
        # Below an opaque layer at full opacity nothing shows through: such layers are not
        # drawn at all, so a repaint costs the same with one result layer or ten.
        covered = False
        for item in sorted(self._items.values(), key=lambda it: it.zValue(), reverse=True):
            peeked_away = self._peek_from is not None and item.zValue() >= self._peek_from
            item.setVisible(not peeked_away and not covered)
            if not peeked_away and item.opaque:
                covered = True

    def sync(self, layers: Sequence[Layer]) -> None:
        """Match the items to ``layers`` (bottom→top): add, drop, reorder, restyle, reconvert."""
        wanted = {layer.id for layer in layers if layer.visible}
        for layer_id in list(self._items):
            if layer_id not in wanted:
                self._scene.removeItem(self._items.pop(layer_id))
        for z, layer in enumerate(layers):
            if not layer.visible:
                continue
            item = self._items.get(layer.id)
            if item is None:
                item = LayerItem(layer)
                self.conversions += 1
                self._items[layer.id] = item
                self._scene.addItem(item)
            elif item.refresh(layer):
                self.conversions += 1
            item.setZValue(z)
            item.setOpacity(layer.opacity)
            item.opaque = not layer.has_alpha and layer.opacity >= 1.0
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation if self._smooth
                                       else Qt.TransformationMode.FastTransformation)
        self.peek_below(self._peek_from)
