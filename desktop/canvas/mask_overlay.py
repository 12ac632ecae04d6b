"""The mask overlay: the document's coverage array shown through a colour table, zero-copy.

``doc.mask.coverage`` (uint8 H×W, C-contiguous) is wrapped in a ``QImage.Format_Indexed8``
whose colour table maps coverage ``i`` to the overlay colour with alpha ``i × opacity``. Painting
a dab writes into the same array, so the overlay only has to repaint the dab's dirty rectangle;
changing the colour or opacity rewrites the 256-entry table, never the pixels. If the mask's
array is replaced (undo of a whole-mask edit, a new document), the wrapper is rebuilt, which is
also free.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, qRgba
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop.qimages import wrap_indexed8

__all__ = ["DEFAULT_COLOUR", "MaskOverlayItem", "colour_table", "rect_from_slices"]

DEFAULT_COLOUR = QColor(255, 40, 80)
OVERLAY_Z = 10_000


def colour_table(colour: QColor, opacity: float) -> list[int]:
    """256 ARGB entries: coverage ``i`` → ``colour`` with alpha ``round(i × opacity)``."""
    opacity = min(max(float(opacity), 0.0), 1.0)
    red, green, blue = colour.red(), colour.green(), colour.blue()
    return [qRgba(red, green, blue, round(i * opacity)) for i in range(256)]


def rect_from_slices(rect: tuple[slice, slice] | None, width: int, height: int) -> QRectF:
    """A ``(rows, cols)`` slice pair as a scene rectangle (the whole image for None)."""
    if rect is None:
        return QRectF(0, 0, width, height)
    rows, cols = rect
    top, bottom, _ = rows.indices(height)
    left, right, _ = cols.indices(width)
    return QRectF(left, top, max(right - left, 0), max(bottom - top, 0))


class MaskOverlayItem(QGraphicsItem):
    """Draws a coverage array as a translucent colour over the image."""

    def __init__(self, coverage: np.ndarray, colour: QColor = DEFAULT_COLOUR,
                 opacity: float = 0.5) -> None:
        super().__init__()
        self._colour = QColor(colour)
        self._opacity = float(opacity)
        self._coverage: np.ndarray | None = None
        self._image = QImage()
        self._painted = QRect()  # holds every covered pixel (may be larger after erasing)
        self.setZValue(OVERLAY_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.bind(coverage)

    @property
    def image(self) -> QImage:
        """The Indexed8 wrapper (shares memory with the coverage array)."""
        return self._image

    @property
    def colour(self) -> QColor:
        """The overlay colour."""
        return QColor(self._colour)

    @property
    def overlay_opacity(self) -> float:
        """Alpha at full coverage, 0–1."""
        return self._opacity

    def bind(self, coverage: np.ndarray) -> None:
        """Wrap ``coverage`` (must be uint8 H×W, C-contiguous); free when it is the same array."""
        if coverage is self._coverage:
            return
        image = wrap_indexed8(coverage, colour_table(self._colour, self._opacity))
        if self._coverage is None or self._coverage.shape != coverage.shape:
            self.prepareGeometryChange()
        self._coverage = coverage  # keeps the buffer alive as long as the QImage wraps it
        self._image = image
        self._painted = self._bbox()
        self.update()

    def _bbox(self) -> QRect:
        """The covered pixels' bounding box (a full scan; only for whole-mask changes)."""
        coverage = self._coverage
        if coverage is None:
            return QRect()
        rows = np.flatnonzero(coverage.any(axis=1))
        if rows.size == 0:
            return QRect()
        cols = np.flatnonzero(coverage[rows[0]:rows[-1] + 1].any(axis=0))
        return QRect(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
                     int(rows[-1] - rows[0] + 1))

    @property
    def painted_rect(self) -> QRect:
        """A rectangle holding every covered pixel (only this part is ever drawn)."""
        return QRect(self._painted)

    def set_style(self, colour: QColor | None = None, opacity: float | None = None) -> None:
        """Change the colour and/or opacity: rewrites the colour table only."""
        if colour is not None:
            self._colour = QColor(colour)
        if opacity is not None:
            self._opacity = min(max(float(opacity), 0.0), 1.0)
        self._image.setColorTable(colour_table(self._colour, self._opacity))
        self.update()

    def changed(self, coverage: np.ndarray, rect: tuple[slice, slice] | None) -> None:
        """The coverage changed inside ``rect`` (None: anywhere); repaint just that."""
        if coverage is not self._coverage:
            self.bind(coverage)
            return
        dirty = rect_from_slices(rect, self._image.width(), self._image.height())
        if rect is None:
            self._painted = self._bbox()
        else:
            self._painted = self._painted.united(dirty.toAlignedRect())
        self.update(dirty)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._image.isNull() or self._opacity <= 0:
            return
        exposed = option.exposedRect.toAlignedRect() & self._painted
        if exposed.isEmpty():
            return
        # Only the exposed, painted part is read; Qt samples Indexed8 through the colour table
        # (no conversion). Nearest sampling when zoomed out: bilinear over a big Indexed8 image
        # costs several times more and a mask tint does not need it.
        smooth = painter.testRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(exposed, self._image, exposed)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
