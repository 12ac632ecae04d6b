"""Before/after comparison: a split view with a draggable divider, and a hold-to-peek key.

Split view: left of the divider the original (the bottom layer) is drawn over the composite, so
the left shows "before" and the right "after". The divider is stored as a fraction of the image
width, so it stays put under zoom and pan; the canvas view drags it.

Peek: while backslash is held, the layers from the active one up are hidden, showing what the
active layer's source looked like (with only one layer active, the original alone).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

__all__ = ["SPLIT_Z", "SplitCompareItem", "peek_index"]

SPLIT_Z = 5_000  # above every layer, below the mask overlay


def peek_index(active_index: int, layer_count: int) -> int | None:
    """The first layer index to hide while peeking (None: nothing to hide)."""
    if layer_count <= 1:
        return None
    return max(active_index, 1)


class SplitCompareItem(QGraphicsItem):
    """Draws the original left of a vertical divider, plus the divider and two labels."""

    def __init__(self) -> None:
        super().__init__()
        self._pixmap = QPixmap()
        self._fraction = 0.5
        self.setZValue(SPLIT_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setVisible(False)

    def set_original(self, pixmap: QPixmap) -> None:
        """The "before" image (shares the bottom layer's pixmap; no copy)."""
        if pixmap.size() != self._pixmap.size():
            self.prepareGeometryChange()
        self._pixmap = pixmap
        self.update()

    @property
    def fraction(self) -> float:
        """Divider position as a fraction of the image width."""
        return self._fraction

    def set_fraction(self, fraction: float) -> None:
        """Move the divider (clamped to the image)."""
        self._fraction = min(max(float(fraction), 0.0), 1.0)
        self.update()

    def position_x(self) -> float:
        """Divider position in image pixels."""
        return self._fraction * self._pixmap.width()

    def set_position_x(self, x: float) -> None:
        """Move the divider to image column ``x``."""
        width = self._pixmap.width()
        if width > 0:
            self.set_fraction(x / width)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self._pixmap.width(), self._pixmap.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._pixmap.isNull():
            return
        x = self.position_x()
        height = self._pixmap.height()
        left = option.exposedRect & QRectF(0, 0, x, height)
        if not left.isEmpty():
            painter.drawPixmap(left, self._pixmap, left)
        pen = QPen(QColor(255, 255, 255), 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        self._labels(painter, x)

    def _labels(self, painter: QPainter, x: float) -> None:
        # Labels keep their on-screen size: draw them in device coordinates.
        top = painter.worldTransform().map(QPointF(x, 0))
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        painter.setFont(font)
        metrics = painter.fontMetrics()
        pad = metrics.height() // 3
        for text, right_side in (("Before", False), ("After", True)):
            width = metrics.horizontalAdvance(text) + 2 * pad
            box = QRectF(top.x() + pad if right_side else top.x() - width - pad,
                         top.y() + pad, width, metrics.height() + pad)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
