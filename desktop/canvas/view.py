"""The canvas view: zoom around the cursor, pan, fit, 100 %, and mouse input for the tools.

Zoom is stored as the view's scale; "100 %" means one image pixel per *device* pixel, so on a
HiDPI screen the view scale at 100 % is ``1 / devicePixelRatio``. Pixmaps are drawn with smooth
filtering only when zoomed out (below 100 %); zoomed in, pixels stay crisp squares.
"""

from __future__ import annotations

import math
from typing import Protocol

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

__all__ = ["CanvasView", "ViewTool"]

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
_WHEEL_BASE = 1.0015  # per 1/8 degree: one notch (120) zooms by about 20 %


class ViewTool(Protocol):
    """What the view asks of the current tool (see :mod:`desktop.canvas.tools`)."""

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def hover(self, pos: QPointF | None) -> None: ...
    def cancel(self) -> None: ...


class CanvasView(QGraphicsView):
    """A ``QGraphicsView`` for one document scene.

    Signals
    -------
    zoom_changed(float) : the zoom in percent (device pixels per image pixel × 100).
    cursor_moved(object) : the image position under the cursor as ``QPointF``, or None when
        the cursor left the view.
    peek(bool) : the compare key (backslash) went down (True) or up (False).
    """

    zoom_changed = Signal(float)
    cursor_moved = Signal(object)
    peek = Signal(bool)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.tool: ViewTool | None = None
        self.divider = None  # a compare.SplitCompareItem while the split view is on
        self._space = False
        self._pan_from: QPoint | None = None
        self._dragging_divider = False
        self._tool_down = False
        self._fit_mode = True
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState
                                  | QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self._checker = self._checker_brush()

    # -- zoom -------------------------------------------------------------------------------

    def device_ratio(self) -> float:
        """Device pixels per logical pixel of this view's screen."""
        return max(self.devicePixelRatioF(), 1e-3)

    def zoom(self) -> float:
        """Device pixels per image pixel (1.0 = 100 %)."""
        return self.transform().m11() * self.device_ratio()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom to ``zoom`` (1.0 = 100 %) keeping the image point under ``anchor`` in place."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        scale = zoom / self.device_ratio()
        self.setTransform(QTransform.fromScale(scale, scale))
        moved = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._fit_mode = False
        self._zoom_updated()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Multiply the zoom by ``factor`` around ``anchor`` (the viewport centre by default)."""
        self.set_zoom(self.zoom() * factor, anchor)

    def zoom_in(self) -> None:
        """One step closer."""
        self.zoom_by(math.sqrt(2))

    def zoom_out(self) -> None:
        """One step further."""
        self.zoom_by(1 / math.sqrt(2))

    def actual_pixels(self) -> None:
        """100 %: one image pixel per device pixel, keeping the view's centre."""
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Show the whole image; stays fitted when the window is resized."""
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_mode = True
        self._zoom_updated()

    def _zoom_updated(self) -> None:
        smooth = self.zoom() < 1.0 - 1e-6
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        scene = self.scene()
        if hasattr(scene, "set_smooth"):
            scene.set_smooth(smooth)
        self.zoom_changed.emit(self.zoom() * 100.0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta().y() or event.pixelDelta().y()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # Shift+wheel scrolls
            return
        if delta:
            self.zoom_by(_WHEEL_BASE ** delta, event.position().toPoint())
        event.accept()

    # -- background -----------------------------------------------------------------------

    def _checker_brush(self) -> QBrush:
        tile = QPixmap(16, 16)
        tile.fill(QColor(200, 200, 200))
        painter = QPainter(tile)
        painter.fillRect(0, 0, 8, 8, QColor(160, 160, 160))
        painter.fillRect(8, 8, 8, 8, QColor(160, 160, 160))
        painter.end()
        return QBrush(tile)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, self.palette().color(QPalette.ColorRole.Dark))
        image = self.sceneRect() & rect
        opaque = getattr(self.scene(), "is_opaque", None)
        if not image.isEmpty() and not (opaque is not None and opaque()):
            # The checkerboard keeps a constant on-screen size, whatever the zoom.
            brush = QBrush(self._checker)
            brush.setTransform(QTransform.fromScale(1 / self.transform().m11(),
                                                    1 / self.transform().m22()))
            painter.fillRect(image, brush)

    # -- keys and mouse ---------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.peek.emit(True)
        elif event.key() == Qt.Key.Key_Escape and self.tool is not None:
            self.tool.cancel()
            self._tool_down = False
        elif event.key() not in (Qt.Key.Key_Space, Qt.Key.Key_Backslash):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.isAutoRepeat():
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = False
            self.viewport().unsetCursor()
        elif event.key() == Qt.Key.Key_Backslash:
            self.peek.emit(False)
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 - a lost key release must not stick
        if self._space:
            self._space = False
            self.viewport().unsetCursor()
        self.peek.emit(False)
        super().focusOutEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton and self._near_divider(event.position()):
            self._dragging_divider = True
        elif button == Qt.MouseButton.LeftButton and self.tool is not None:
            self._tool_down = True
            self.tool.press(self._scene_pos(event), event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = self._scene_pos(event)
        self.cursor_moved.emit(pos)
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self._dragging_divider and self.divider is not None:
            self.divider.set_position_x(pos.x())
        elif self._tool_down and self.tool is not None:
            self.tool.move(pos, event.modifiers())
        if self.tool is not None:
            self.tool.hover(pos)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None and event.button() in (
                Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
        elif self._dragging_divider:
            self._dragging_divider = False
        elif self._tool_down and event.button() == Qt.MouseButton.LeftButton:
            self._tool_down = False
            if self.tool is not None:
                self.tool.release(self._scene_pos(event), event.modifiers())
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.cursor_moved.emit(None)
        if self.tool is not None:
            self.tool.hover(None)
        super().leaveEvent(event)

    def _scene_pos(self, event: QMouseEvent) -> QPointF:
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(event.position())

    def _near_divider(self, viewport_pos: QPointF) -> bool:
        if self.divider is None or not self.divider.isVisible():
            return False
        x = self.mapFromScene(QPointF(self.divider.position_x(), 0)).x()
        return abs(viewport_pos.x() - x) <= 6 * max(1.0, self.device_ratio() / 2)
