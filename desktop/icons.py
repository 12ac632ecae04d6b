"""Icons: the style's standard icons where one fits, simple drawn icons for the mask tools.

Drawn icons are painted in a unit square and rendered at several sizes, so ``QIcon`` picks a
sharp pixmap for any toolbar size and device pixel ratio; nothing is downloaded or shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

__all__ = ["drawn_icon", "standard_icon"]

_SIZES = (16, 20, 24, 32, 40, 48, 64, 96)


def standard_icon(pixmap: QStyle.StandardPixmap) -> QIcon:
    """The current style's icon for ``pixmap``."""
    return QApplication.style().standardIcon(pixmap)


def _pen(width: float) -> QPen:
    colour = QApplication.palette().color(QApplication.palette().ColorRole.WindowText)
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _brush(p: QPainter) -> None:
    p.setPen(_pen(0.08))
    p.setBrush(QColor(255, 40, 80))
    p.drawEllipse(QPointF(0.35, 0.65), 0.2, 0.2)
    p.drawLine(QPointF(0.5, 0.5), QPointF(0.88, 0.12))


def _eraser(p: QPainter) -> None:
    p.setPen(_pen(0.08))
    path = QPainterPath()
    path.moveTo(0.15, 0.62)
    path.lineTo(0.55, 0.22)
    path.lineTo(0.85, 0.52)
    path.lineTo(0.45, 0.92)
    path.closeSubpath()
    p.setBrush(QColor(240, 240, 240))
    p.drawPath(path)
    p.drawLine(QPointF(0.3, 0.47), QPointF(0.6, 0.77))


def _lasso(p: QPainter) -> None:
    pen = _pen(0.07)
    pen.setStyle(Qt.PenStyle.DashLine)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    path = QPainterPath()
    path.moveTo(0.2, 0.55)
    path.cubicTo(0.05, 0.2, 0.7, 0.05, 0.85, 0.35)
    path.cubicTo(0.95, 0.6, 0.55, 0.7, 0.4, 0.62)
    path.lineTo(0.3, 0.9)
    p.drawPath(path)


def _rect(p: QPainter) -> None:
    pen = _pen(0.07)
    pen.setStyle(Qt.PenStyle.DashLine)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(QRectF(0.15, 0.25, 0.7, 0.5))


def _split(p: QPainter) -> None:
    p.setPen(_pen(0.07))
    p.setBrush(QColor(128, 128, 128))
    p.drawRect(QRectF(0.12, 0.2, 0.38, 0.6))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(QRectF(0.12, 0.2, 0.76, 0.6))
    p.drawLine(QPointF(0.5, 0.1), QPointF(0.5, 0.9))


_PAINTERS: dict[str, Callable[[QPainter], None]] = {
    "brush": _brush, "eraser": _eraser, "lasso": _lasso, "rect": _rect, "split": _split,
}


def drawn_icon(kind: str) -> QIcon:
    """A simple vector icon (``brush``, ``eraser``, ``lasso``, ``rect``, ``split``)."""
    draw = _PAINTERS[kind]
    icon = QIcon()
    for size in _SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.scale(size, size)
        draw(painter)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
