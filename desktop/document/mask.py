"""The repair mask: soft ``uint8`` coverage painted with a round brush, region by region.

Coordinates are image pixels as floats: pixel ``(col, row)`` covers ``[col, col+1) × [row,
row+1)``, so ``(10.5, 20.5)`` is the centre of the pixel in column 10, row 20 (a canvas maps its
scene coordinates straight onto this). Rectangles are ``(rows, cols)`` slice pairs.

Every paint operation touches only its bounding box: a dab computes its falloff on the dab's
box, a stroke remembers the 64×64 tiles it touched the first time it touches them, and whole-mask
edits (grow, shrink, feather) work on the mask's bounding box plus their reach. The pixel maths
is in :mod:`~desktop.document.mask_raster`; the undo steps the edits return are in
:mod:`~desktop.document.mask_edits`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from desktop.document import mask_raster
from desktop.document.events import Emitter
from desktop.document.mask_edits import MaskInvertEdit, MaskPatchEdit, MaskReplaceEdit, MaskTile
from desktop.document.regions import Rect, union_rect
from engine.core.masks import as_bool_mask, mask_bbox
from engine.core.pixels import from_float, to_float

__all__ = ["TILE", "Mask", "Rect"]

TILE = 64
"""Side of the square tiles a stroke's undo patch is made of."""
_SEGMENT = 64.0  # a long line is painted in pieces about this long (plus the brush) at a time


class Mask:
    """Soft coverage ``uint8 H×W``: 0 = keep, 255 = repair, values between from soft brushes.

    Parameters
    ----------
    height, width : int
        The canvas size.
    coverage : ndarray, optional
        Initial ``uint8 H×W`` coverage (copied); empty by default.
    events : Emitter, optional
        Receives ``"mask"`` with the changed rect (None = everywhere) after every change.
    """

    def __init__(self, height: int, width: int, *, coverage: np.ndarray | None = None,
                 events: Emitter | None = None) -> None:
        if height < 1 or width < 1:
            raise ValueError(f"a mask needs a positive size, got {width}×{height}")
        self._coverage = np.zeros((int(height), int(width)), np.uint8)
        self.events = events
        self._stroke: dict[tuple[int, int], np.ndarray] | None = None
        self._stroke_erases: set[bool] = set()
        if coverage is not None:
            self._coverage[...] = self._checked(coverage)

    # ------------------------------------------------------------------ reading

    @property
    def coverage(self) -> np.ndarray:
        """The live ``uint8 H×W`` C-contiguous coverage: the same array for the mask's lifetime
        (a canvas may wrap its buffer). Read it; change it only through the methods here."""
        return self._coverage

    @property
    def height(self) -> int:
        """Rows."""
        return int(self._coverage.shape[0])

    @property
    def width(self) -> int:
        """Columns."""
        return int(self._coverage.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    def as_bool(self) -> np.ndarray:
        """``bool H×W``, True where coverage > 0: what the engine receives."""
        return self._coverage > 0

    def is_empty(self) -> bool:
        """True when nothing is painted."""
        return not self._coverage.any()

    def bbox(self, margin: int = 0) -> Rect | None:
        """Bounding box of the painted pixels grown by ``margin``, or None when empty."""
        return mask_bbox(self._coverage > 0, margin)

    def snapshot(self) -> np.ndarray:
        """A copy of the coverage (for a job that must not see later strokes)."""
        return self._coverage.copy()

    # ------------------------------------------------------------------ strokes

    @property
    def in_stroke(self) -> bool:
        """True between :meth:`begin_stroke` and :meth:`end_stroke`."""
        return self._stroke is not None

    def begin_stroke(self) -> None:
        """Start collecting the tiles the following dabs touch into one undo step."""
        self._stroke = {}
        self._stroke_erases = set()

    def dab(self, x: float, y: float, radius: float, hardness: float,
            erase: bool = False) -> Rect | None:
        """Paint (or erase) one round dab and return the changed rect.

        Parameters
        ----------
        x, y : float
            Centre in image coordinates (see the module docstring).
        radius : float
            In pixels; the dab reaches ``radius + 0.5`` at most.
        hardness : float
            1 = hard edge (anti-aliased over one pixel), 0 = soft falloff from the centre.
        erase : bool
            Lower the coverage instead of raising it.

        Returns
        -------
        tuple of slice or None
            ``(rows, cols)`` of the touched box, None when the dab misses the canvas.

        Notes
        -----
        Painting keeps the maximum of the old and the dab's coverage, erasing the minimum of the
        old and the dab's complement. A dab outside a stroke starts one.
        """
        if not all(map(math.isfinite, (x, y, radius, hardness))):
            return None  # a glitching tablet must not break the stroke
        radius = max(float(radius), 0.5)
        rect = self._box(x - radius - 0.5, y - radius - 0.5, x + radius + 0.5, y + radius + 0.5)
        if rect is None:
            return None
        distance = mask_raster.dab_distance(rect, x, y)
        self._paint(rect, mask_raster.brush_profile(distance, radius, hardness), erase)
        return rect

    def line(self, x0: float, y0: float, x1: float, y1: float, radius: float, hardness: float,
             erase: bool = False, spacing: float = 0.25) -> Rect | None:
        """Paint the brush swept from ``(x0, y0)`` to ``(x1, y1)``; return the changed rect.

        The sweep is painted exactly (coverage from each pixel's distance to the segment), which
        is what dabs at vanishing spacing give, so fast strokes never bead. ``spacing`` is kept
        for API compatibility and has no effect. Long segments are painted in short pieces so
        that no piece touches more than its own box.
        """
        del spacing
        if not all(map(math.isfinite, (x0, y0, x1, y1, radius, hardness))):
            return None
        radius = max(float(radius), 0.5)
        length = math.hypot(x1 - x0, y1 - y0)
        pieces = max(1, math.ceil(length / max(_SEGMENT, 4.0 * radius)))
        changed: Rect | None = None
        for i in range(pieces):
            a, b = i / pieces, (i + 1) / pieces
            changed = union_rect(changed, self._segment(
                x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b,
                radius, hardness, erase))
        return changed

    def end_stroke(self) -> MaskPatchEdit | None:
        """Finish the stroke: its undo step, holding before/after of the changed tiles only.

        Returns None when the stroke changed nothing (or none was started).
        """
        stroke, self._stroke = self._stroke, None
        if not stroke:
            return None
        tiles = []
        for (ty, tx), before in sorted(stroke.items()):
            rows, cols = self._tile(ty, tx)
            after = self._coverage[rows, cols]
            if not np.array_equal(before, after):
                tiles.append(MaskTile(rows, cols, before, after.copy()))
        if not tiles:
            return None
        text = "Erase mask" if self._stroke_erases == {True} else "Paint mask"
        return MaskPatchEdit(tiles, text)

    def cancel_stroke(self) -> Rect | None:
        """Revert the current stroke whole (e.g. on Escape); return the restored rect."""
        stroke, self._stroke = self._stroke, None
        rect: Rect | None = None
        for (ty, tx), before in (stroke or {}).items():
            rows, cols = self._tile(ty, tx)
            self._coverage[rows, cols] = before
            rect = union_rect(rect, (rows, cols))
        if rect is not None:
            self._emit(rect)
        return rect

    # ------------------------------------------------------------------ whole-mask edits
    # Each applies the change at once and returns its undo step (None when nothing changed).

    def fill_polygon(self, points: Iterable[Sequence[float]],
                     value: int = 255) -> MaskReplaceEdit | None:
        """Set the coverage inside a closed polygon (a lasso) to ``value`` (0 erases).

        A pixel is inside when its centre is; ``points`` are ``(x, y)`` image coordinates.
        """
        pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3:
            return None
        rect = self._box(pts[:, 0].min() - 1, pts[:, 1].min() - 1,
                         pts[:, 0].max() + 1, pts[:, 1].max() + 1)
        if rect is None:
            return None
        inside = mask_raster.polygon_inside(pts, rect)
        new = np.where(inside, np.uint8(self._value(value)), self._coverage[rect])
        text = "Lasso" if value else "Lasso erase"
        return self._replace(rect, new, text)

    def fill_rect(self, x0: float, y0: float, x1: float, y1: float,
                  value: int = 255) -> MaskReplaceEdit | None:
        """Set the coverage of the pixels whose centres lie in the rectangle to ``value``."""
        left, right = sorted((x0, x1))
        top, bottom = sorted((y0, y1))
        c0, c1 = math.ceil(left - 0.5), math.ceil(right - 0.5)
        r0, r1 = math.ceil(top - 0.5), math.ceil(bottom - 0.5)
        rows = slice(max(r0, 0), min(r1, self.height))
        cols = slice(max(c0, 0), min(c1, self.width))
        if rows.stop <= rows.start or cols.stop <= cols.start:
            return None
        new = np.full((rows.stop - rows.start, cols.stop - cols.start), self._value(value),
                      np.uint8)
        return self._replace((rows, cols), new, "Rectangle" if value else "Rectangle erase")

    def invert(self) -> MaskInvertEdit:
        """Swap repaired and kept areas (255 − coverage)."""
        self._not_in_stroke()
        self.invert_in_place()
        return MaskInvertEdit()

    def clear(self) -> MaskReplaceEdit | None:
        """Erase the whole mask."""
        rect = self.bbox()
        if rect is None:
            return None
        new = np.zeros((rect[0].stop - rect[0].start, rect[1].stop - rect[1].start), np.uint8)
        return self._replace(rect, new, "Clear mask")

    def grow(self, px: float) -> MaskReplaceEdit | None:
        """Cover every pixel within ``px`` of the mask (Euclidean); the result has a hard edge."""
        px = float(px)
        rect = self.bbox(math.ceil(px))
        if rect is None or px <= 0:
            return None
        return self._replace(rect, mask_raster.grown(self._coverage[rect], px),
                             f"Grow mask {px:g} px")

    def shrink(self, px: float) -> MaskReplaceEdit | None:
        """Uncover every pixel within ``px`` of an unmasked pixel (the canvas edge does not count).
        """
        px = float(px)
        rect = self.bbox(1)
        if rect is None or px <= 0:
            return None
        return self._replace(rect, mask_raster.shrunk(self._coverage[rect], px),
                             f"Shrink mask {px:g} px")

    def feather(self, px: float) -> MaskReplaceEdit | None:
        """Soften the mask edge with a Gaussian of σ = ``px`` / 2 (reaching about 1.5 ``px``)."""
        px = float(px)
        if px <= 0:
            return None
        sigma = px / 2.0
        # OpenCV's float kernel reaches 4σ: the box holds every pixel the blur can change.
        rect = self.bbox(math.ceil(4.0 * sigma) + 2)
        if rect is None:
            return None
        region = to_float(self._coverage[rect])[:, :, 0]
        blurred = cv2.GaussianBlur(region, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                   borderType=cv2.BORDER_REPLICATE)
        return self._replace(rect, from_float(blurred, np.uint8), f"Feather mask {px:g} px")

    def set_from_bool(self, mask: np.ndarray, *, add: bool = False) -> MaskReplaceEdit | None:
        """Replace the mask by a proposal (True = 255), or add the proposal to it."""
        proposal = as_bool_mask(mask, self.shape)
        assert proposal is not None
        new = np.where(proposal, np.uint8(255), self._coverage if add else np.uint8(0))
        return self._replace_whole(new, "Add proposed mask" if add else "Use proposed mask")

    def reset(self, coverage: np.ndarray | None = None) -> None:
        """Replace the coverage (or clear it) without an undo step, e.g. when loading a file."""
        self._not_in_stroke()
        if coverage is None:
            self._coverage[...] = 0
        else:
            self._coverage[...] = self._checked(coverage)
        self._emit(None)

    def set_coverage(self, coverage: np.ndarray,
                     text: str = "Replace mask") -> MaskReplaceEdit | None:
        """Replace the coverage by a ``uint8 H×W`` array (copied)."""
        return self._replace_whole(self._checked(coverage), text)

    # ------------------------------------------------------------------ used by undo/redo

    def write_tiles(self, patches: Iterable[tuple[slice, slice, np.ndarray]],
                    rect: Rect | None) -> None:
        """Write stored patches back (undo/redo) and announce ``rect``."""
        self._not_in_stroke()
        for rows, cols, values in patches:
            self._coverage[rows, cols] = values
        self._emit(rect)

    def invert_in_place(self) -> None:
        """255 − coverage everywhere, and announce it."""
        self._not_in_stroke()
        np.subtract(np.uint8(255), self._coverage, out=self._coverage)
        self._emit(None)

    # ------------------------------------------------------------------ internals

    def _checked(self, coverage: np.ndarray) -> np.ndarray:
        coverage = np.asarray(coverage)
        if coverage.shape != self.shape or coverage.dtype != np.uint8:
            raise ValueError(f"mask coverage must be uint8 {self.width}×{self.height}, got "
                             f"{coverage.dtype} with shape {coverage.shape}")
        return coverage

    @staticmethod
    def _value(value: int) -> int:
        return int(min(max(int(value), 0), 255))

    def _box(self, left: float, top: float, right: float, bottom: float) -> Rect | None:
        rows = slice(max(math.floor(top), 0), min(math.ceil(bottom), self.height))
        cols = slice(max(math.floor(left), 0), min(math.ceil(right), self.width))
        if rows.stop <= rows.start or cols.stop <= cols.start:
            return None
        return rows, cols

    def _segment(self, x0: float, y0: float, x1: float, y1: float, radius: float,
                 hardness: float, erase: bool) -> Rect | None:
        reach = radius + 0.5
        rect = self._box(min(x0, x1) - reach, min(y0, y1) - reach,
                         max(x0, x1) + reach, max(y0, y1) + reach)
        if rect is None:
            return None
        distance = mask_raster.segment_distance(rect, x0, y0, x1, y1)
        self._paint(rect, mask_raster.brush_profile(distance, radius, hardness), erase)
        return rect

    def _paint(self, rect: Rect, strength: np.ndarray, erase: bool) -> None:
        if self._stroke is None:
            self.begin_stroke()
        self._remember(rect)
        self._stroke_erases.add(bool(erase))
        amount = from_float(strength, np.uint8)
        region = self._coverage[rect]
        if erase:
            np.minimum(region, np.uint8(255) - amount, out=region)
        else:
            np.maximum(region, amount, out=region)
        self._emit(rect)

    def _tile(self, ty: int, tx: int) -> Rect:
        return (slice(ty * TILE, min((ty + 1) * TILE, self.height)),
                slice(tx * TILE, min((tx + 1) * TILE, self.width)))

    def _remember(self, rect: Rect) -> None:
        assert self._stroke is not None
        rows, cols = rect
        for ty in range(rows.start // TILE, (rows.stop - 1) // TILE + 1):
            for tx in range(cols.start // TILE, (cols.stop - 1) // TILE + 1):
                if (ty, tx) not in self._stroke:
                    self._stroke[ty, tx] = self._coverage[self._tile(ty, tx)].copy()

    def _replace(self, rect: Rect, new: np.ndarray, text: str) -> MaskReplaceEdit | None:
        self._not_in_stroke()
        region = self._coverage[rect]
        changed = mask_bbox(region != new)
        if changed is None:
            return None
        rows = slice(rect[0].start + changed[0].start, rect[0].start + changed[0].stop)
        cols = slice(rect[1].start + changed[1].start, rect[1].start + changed[1].stop)
        before = self._coverage[rows, cols].copy()
        after = np.ascontiguousarray(new[changed])
        self._coverage[rows, cols] = after
        self._emit((rows, cols))
        return MaskReplaceEdit(rows, cols, before, after, text)

    def _replace_whole(self, new: np.ndarray, text: str) -> MaskReplaceEdit | None:
        return self._replace((slice(0, self.height), slice(0, self.width)), new, text)

    def _not_in_stroke(self) -> None:
        if self._stroke is not None:
            raise RuntimeError("a brush stroke is in progress; end it before editing the mask")

    def _emit(self, rect: Rect | None) -> None:
        if self.events is not None:
            self.events.emit("mask", rect)
