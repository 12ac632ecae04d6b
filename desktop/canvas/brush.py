"""The brush and eraser: settings, the size outline under the cursor, and the painting tool.

Brush and eraser paint straight into the document's mask: press begins a stroke, every mouse
move paints the segment from the previous position (``Mask.line``, so fast drags leave no gaps),
release ends the stroke and hands its undo atom to ``doc.mask_stroke_finished``; Escape reverts
the stroke in progress. The mask announces each change's rectangle, so the overlay repaints only
that rectangle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from desktop.canvas.tool_base import TOOL_Z, Tool

if TYPE_CHECKING:
    from desktop.canvas.scene import DocumentScene

__all__ = ["MAX_SIZE", "MIN_SIZE", "BrushCursorItem", "BrushSettings", "BrushTool",
           "cosmetic_pen"]

MIN_SIZE, MAX_SIZE = 1.0, 2000.0


class BrushSettings(QObject):
    """Brush size (diameter in image pixels) and hardness (0 soft … 1 hard)."""

    changed = Signal()

    def __init__(self, size: float = 40.0, hardness: float = 0.8) -> None:
        super().__init__()
        self.size = min(max(float(size), MIN_SIZE), MAX_SIZE)
        self.hardness = min(max(float(hardness), 0.0), 1.0)

    @property
    def radius(self) -> float:
        """Half the size."""
        return self.size / 2.0

    def set(self, size: float | None = None, hardness: float | None = None) -> None:
        """Change size and/or hardness (clamped)."""
        if size is not None:
            self.size = round(min(max(float(size), MIN_SIZE), MAX_SIZE), 1)
        if hardness is not None:
            self.hardness = round(min(max(float(hardness), 0.0), 1.0), 2)
        self.changed.emit()

    def bigger(self) -> None:
        """``]``: about 15 % larger (at least one pixel)."""
        self.set(size=max(self.size * 1.15, self.size + 1))

    def smaller(self) -> None:
        """``[``: about 15 % smaller (at least one pixel)."""
        self.set(size=min(self.size / 1.15, self.size - 1))

    def harder(self) -> None:
        """Shift+``]``."""
        self.set(hardness=self.hardness + 0.1)

    def softer(self) -> None:
        """Shift+``[``."""
        self.set(hardness=self.hardness - 0.1)


def cosmetic_pen(colour: QColor, dashed: bool = False) -> QPen:
    pen = QPen(colour, 1.0)
    pen.setCosmetic(True)  # one screen pixel wide at every zoom and device ratio
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class BrushCursorItem(QGraphicsItem):
    """A circle showing the brush size: black under dashed white, visible on any image."""

    def __init__(self) -> None:
        super().__init__()
        self.radius = 1.0
        self.setZValue(TOOL_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setVisible(False)

    def set_radius(self, radius: float) -> None:
        self.prepareGeometryChange()
        self.radius = radius

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        r = self.radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = QRectF(-self.radius, -self.radius, 2 * self.radius, 2 * self.radius)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(cosmetic_pen(QColor(0, 0, 0)))
        painter.drawEllipse(rect)
        painter.setPen(cosmetic_pen(QColor(255, 255, 255), dashed=True))
        painter.drawEllipse(rect)


class BrushTool(Tool):
    """Paints (or erases) coverage with a round dab along the mouse path."""

    name = "brush"
    title = "Brush"

    def __init__(self, scene: DocumentScene, settings: BrushSettings, erase: bool = False):
        super().__init__(scene)
        self.settings = settings
        self.erase = erase
        if erase:
            self.name, self.title = "eraser", "Eraser"
        self._last: QPointF | None = None
        self._outline = BrushCursorItem()
        settings.changed.connect(self._resize_outline)

    def activate(self) -> None:
        if self._outline.scene() is None:
            self.scene.addItem(self._outline)
        self._resize_outline()

    def deactivate(self) -> None:
        self.cancel()
        self._outline.setVisible(False)

    def _resize_outline(self) -> None:
        self._outline.set_radius(self.settings.radius)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.scene.document
        if doc is None:
            return
        doc.mask.begin_stroke()
        self._last = QPointF(pos)
        # The mask announces each dab's rect; the overlay repaints only that rect.
        doc.mask.dab(pos.x(), pos.y(), self.settings.radius, self.settings.hardness,
                     erase=self.erase)

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.scene.document
        if doc is None or self._last is None:
            return
        last, self._last = self._last, QPointF(pos)
        doc.mask.line(last.x(), last.y(), pos.x(), pos.y(), self.settings.radius,
                      self.settings.hardness, erase=self.erase)

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.scene.document
        if doc is None or self._last is None:
            return
        self._last = None
        edit = doc.mask.end_stroke()
        if edit is not None:
            doc.mask_stroke_finished(edit)

    def cancel(self) -> None:
        """Escape: revert the stroke in progress whole."""
        doc = self.scene.document
        if doc is not None and self._last is not None:
            doc.mask.cancel_stroke()
        self._last = None

    def hover(self, pos: QPointF | None) -> None:
        if pos is None:
            self._outline.setVisible(False)
            return
        if self._outline.scene() is None:
            self.scene.addItem(self._outline)
        self._outline.setPos(pos)
        self._outline.setVisible(True)
