"""The canvas tools: brush and eraser (see :mod:`desktop.canvas.brush`), lasso and rectangle.

Lasso and rectangle show a preview while dragging and apply one whole-mask edit on release;
holding Alt subtracts instead of adding. ``make_tools`` builds the editor's set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from desktop.canvas.brush import BrushSettings, BrushTool, cosmetic_pen
from desktop.canvas.tool_base import TOOL_Z, Tool

if TYPE_CHECKING:
    from desktop.canvas.scene import DocumentScene

__all__ = ["BrushSettings", "BrushTool", "LassoTool", "RectTool", "Tool", "make_tools"]


class _DragShapeTool(Tool):
    """Shared preview handling of lasso and rectangle."""

    def __init__(self, scene: DocumentScene) -> None:
        super().__init__(scene)
        self._preview: QGraphicsItem | None = None

    def _show(self, item: QGraphicsItem) -> None:
        self._drop_preview()
        item.setZValue(TOOL_Z)
        self._preview = item
        self.scene.addItem(item)

    def _drop_preview(self) -> None:
        if self._preview is not None and self._preview.scene() is not None:
            self.scene.removeItem(self._preview)
        self._preview = None

    def cancel(self) -> None:
        self._drop_preview()


class LassoTool(_DragShapeTool):
    """Free-hand polygon: adds to the mask on release (Alt: removes)."""

    name = "lasso"
    title = "Lasso"

    def __init__(self, scene: DocumentScene) -> None:
        super().__init__(scene)
        self._points: list[tuple[float, float]] = []
        self._path_item: QGraphicsPathItem | None = None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._points = [(pos.x(), pos.y())]
        self._path_item = QGraphicsPathItem()
        self._path_item.setPen(cosmetic_pen(QColor(255, 255, 255), dashed=True))
        self._show(self._path_item)

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if not self._points or self._path_item is None:
            return
        self._points.append((pos.x(), pos.y()))
        path = QPainterPath(QPointF(*self._points[0]))
        for point in self._points[1:]:
            path.lineTo(QPointF(*point))
        path.closeSubpath()
        self._path_item.setPath(path)

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        points, self._points = self._points, []
        self._drop_preview()
        doc = self.scene.document
        if doc is None or len(points) < 3:
            return
        value = 0 if modifiers & Qt.KeyboardModifier.AltModifier else 255
        doc.apply_mask_edit("polygon", points=points, value=value)

    def cancel(self) -> None:
        self._points = []
        super().cancel()


class RectTool(_DragShapeTool):
    """Rubber-band rectangle: adds to the mask on release (Alt: removes)."""

    name = "rect"
    title = "Rectangle"

    def __init__(self, scene: DocumentScene) -> None:
        super().__init__(scene)
        self._origin: QPointF | None = None
        self._rect_item: QGraphicsRectItem | None = None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._origin = QPointF(pos)
        self._rect_item = QGraphicsRectItem(QRectF(pos, pos))
        self._rect_item.setPen(cosmetic_pen(QColor(255, 255, 255), dashed=True))
        self._show(self._rect_item)

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self._origin is not None and self._rect_item is not None:
            self._rect_item.setRect(QRectF(self._origin, pos).normalized())

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        origin, self._origin = self._origin, None
        self._drop_preview()
        doc = self.scene.document
        if doc is None or origin is None:
            return
        rect = QRectF(origin, pos).normalized()
        if rect.width() < 1 or rect.height() < 1:
            return
        value = 0 if modifiers & Qt.KeyboardModifier.AltModifier else 255
        doc.apply_mask_edit("rect", x0=rect.left(), y0=rect.top(), x1=rect.right(),
                            y1=rect.bottom(), value=value)

    def cancel(self) -> None:
        self._origin = None
        super().cancel()


def make_tools(scene: DocumentScene, settings: BrushSettings) -> dict[str, Tool]:
    """The editor's tools by name: brush, eraser, lasso, rect."""
    tools: list[Tool] = [BrushTool(scene, settings), BrushTool(scene, settings, erase=True),
                         LassoTool(scene), RectTool(scene)]
    return {tool.name: tool for tool in tools}
