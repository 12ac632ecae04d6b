"""The mask's pixel maths: brush falloff, polygon fill, grow and shrink.

Pure functions on arrays (numpy and OpenCV, no state): :class:`~desktop.document.mask.Mask`
decides which box to work on and records the undo step; these compute the new coverage of
that box. Coordinates follow the mask's convention: pixel ``(col, row)`` covers
``[col, col+1) × [row, row+1)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from desktop.document.regions import Rect

__all__ = ["brush_profile", "dab_distance", "grown", "polygon_inside", "segment_distance",
           "shrunk"]


def _smoothstep_inplace(t: np.ndarray) -> np.ndarray:
    """``t² (3 − 2t)`` computed in place (big dabs: no temporaries beyond one)."""
    factor = t * np.float32(-2.0)
    factor += np.float32(3.0)
    t *= t
    t *= factor
    return t


def _pixel_centres(rect: Rect, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the pixel centres of ``rect`` from ``(x, y)``: a column and a row vector."""
    rows, cols = rect
    ys = (np.arange(rows.start, rows.stop, dtype=np.float32) + np.float32(0.5 - y))[:, None]
    xs = (np.arange(cols.start, cols.stop, dtype=np.float32) + np.float32(0.5 - x))[None, :]
    return ys, xs


def dab_distance(rect: Rect, x: float, y: float) -> np.ndarray:
    """float32 distance of each pixel centre in ``rect`` to the point ``(x, y)``."""
    ys, xs = _pixel_centres(rect, x, y)
    distance = ys * ys + xs * xs  # np.hypot is several times slower
    np.sqrt(distance, out=distance)
    return distance


def segment_distance(rect: Rect, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """float32 distance of each pixel centre in ``rect`` to the segment ``(x0, y0)–(x1, y1)``."""
    ys, xs = _pixel_centres(rect, x0, y0)
    dx, dy = np.float32(x1 - x0), np.float32(y1 - y0)
    squared = float(dx * dx + dy * dy)
    if squared > 0:
        t = np.clip((xs * dx + ys * dy) / np.float32(squared), 0.0, 1.0)
        xs, ys = xs - t * dx, ys - t * dy
    distance = xs * xs + ys * ys
    np.sqrt(distance, out=distance)
    return distance


def brush_profile(distance: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """Coverage in [0, 1] from the distance to the brush centre (or stroke); in place.

    ``hardness`` 1 gives an edge anti-aliased over one pixel, 0 a soft falloff from the centre;
    the brush reaches ``radius + 0.5``.
    """
    hardness = min(max(float(hardness), 0.0), 1.0)
    width = max(radius * (1.0 - hardness), 1.0)
    # t = (radius + 0.5 − d) / width, clipped to [0, 1], then smoothed
    distance -= np.float32(radius + 0.5)
    distance *= np.float32(-1.0 / width)
    np.clip(distance, 0.0, 1.0, out=distance)
    return _smoothstep_inplace(distance)


def polygon_inside(points: np.ndarray, rect: Rect) -> np.ndarray:
    """bool of ``rect``'s shape: True where the pixel centre lies inside the closed polygon.

    ``points`` are ``(x, y)`` image coordinates, shape ``N×2``.
    """
    rows, cols = rect
    inside = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
    # OpenCV puts pixel centres on integers; 4 fractional bits keep sub-pixel vertices.
    local = np.rint((points - 0.5 - [cols.start, rows.start]) * 16).astype(np.int32)
    cv2.fillPoly(inside, [local], 1, lineType=cv2.LINE_8, shift=4)
    return inside.astype(bool)


def grown(region: np.ndarray, px: float) -> np.ndarray:
    """``region``'s coverage with every pixel within ``px`` of it (Euclidean) set to 255."""
    uncovered = (region == 0).astype(np.uint8)
    distance = cv2.distanceTransform(uncovered, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(distance <= px, np.uint8(255), region)


def shrunk(region: np.ndarray, px: float) -> np.ndarray:
    """``region``'s coverage with every pixel within ``px`` of an uncovered one set to 0.

    The border of ``region`` does not count as uncovered.
    """
    # Pad with "covered" so that the border does not eat into the mask.
    covered = np.pad((region > 0).astype(np.uint8), 1, constant_values=1)
    distance = cv2.distanceTransform(covered, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    return np.where(distance <= px, np.uint8(0), region)
