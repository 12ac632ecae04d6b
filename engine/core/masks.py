"""Masks: validation, bounding boxes, crops around masked regions, and the blend that confines
an op's result to its mask.

A mask is ``bool H×W``, True = change here. Where a mask is given, an op changes only the masked
pixels: everything outside the mask stays bit-identical to the input. A feathered blend ramps
from the original at the mask's edge to the full result ``feather`` pixels inside it, so the
blend never spills outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

__all__ = ["as_bool_mask", "blend_inside", "feather_weights", "grow_mask", "hole_depth",
           "hole_radius", "hole_regions", "mask_bbox", "on_mask_region"]


def feather_weights(mask: np.ndarray, feather: float) -> np.ndarray:
    """Weights in ``[0, 1]``: 0 outside ``mask``, rising to 1 at ``feather`` px inside it.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
        True where the op may change pixels.
    feather : float
        Width of the ramp in pixels; 0 gives a hard edge.
    """
    if feather <= 0:
        return mask.astype(np.float32)
    inside = mask.astype(np.uint8)
    # Distance from each masked pixel to the nearest unmasked one (1 at the edge).
    distance = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return np.clip(distance / np.float32(feather), 0.0, 1.0).astype(np.float32) * inside


def blend_inside(original: np.ndarray, result: np.ndarray, mask: np.ndarray,
                 feather: float = 0.0) -> np.ndarray:
    """Return ``result`` inside ``mask`` and ``original`` (exactly) outside it."""
    weights = feather_weights(mask, feather)[:, :, None]
    blended = original + (result - original) * weights
    out = np.where(mask[:, :, None], blended, original)
    return out.astype(np.float32, copy=False)


def mask_bbox(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice] | None:
    """The bounding box of ``mask`` grown by ``margin`` and clipped, or None if it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)))


def on_mask_region(image: np.ndarray, mask: np.ndarray | None, margin: int,
                   compute: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, tuple]:
    """Apply ``compute`` to the mask's bounding box grown by ``margin``, or to the whole image.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The op's (read-only) input.
    mask : ndarray of bool or None
        Where the op may change pixels; None for the whole image.
    margin : int
        How far the filter reads beyond a pixel; pixels further from the mask are not needed.
    compute : callable
        Maps a contiguous float32 crop ``h×w×C`` to its filtered version of the same shape.

    Returns
    -------
    out : ndarray of float32, shape (H, W, C)
        A new array: the filtered crop pasted into a copy of ``image``.
    box : tuple of slice
        The rows and columns that were filtered.
    """
    box = mask_bbox(mask, margin) if mask is not None else None
    if box is None:
        box = (slice(0, image.shape[0]), slice(0, image.shape[1]))
        return compute(np.ascontiguousarray(image)), box
    out = image.copy()
    out[box] = compute(np.ascontiguousarray(image[box]))
    return out, box


def as_bool_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """Validate a mask against an image shape and return it as ``bool H×W`` (True = repair)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {mask.shape}")
    if mask.shape != tuple(shape):
        raise ValueError(
            f"mask is {mask.shape[1]}×{mask.shape[0]} but the image is {shape[1]}×{shape[0]}"
        )
    if mask.dtype == np.bool_:
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return mask >= 0.5
    return mask >= (np.iinfo(mask.dtype).max + 1) // 2


def hole_regions(mask: np.ndarray, margin: int
                 ) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """Crops that together cover every masked pixel, each with ``margin`` px of context.

    Masked regions closer than ``2 * margin`` share one crop. Only the mask's bounding box is
    scanned, so a small mask on a huge image costs little.

    Yields
    ------
    box : tuple of slice
        ``(rows, cols)`` of the crop in the image.
    own : ndarray of bool
        The crop-sized mask of the pixels this crop is responsible for filling.
    """
    outer = mask_bbox(mask, margin)
    if outer is None:
        return
    rows, cols = outer
    sub = np.ascontiguousarray(mask[rows, cols], dtype=np.uint8)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1))
    grown = cv2.dilate(sub, square)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    for label in range(1, count):
        left, top, width, height = stats[label, :4]
        inner = (slice(top, top + height), slice(left, left + width))
        own = (labels[inner] == label) & (sub[inner] > 0)
        if not own.any():
            continue
        box = (slice(rows.start + top, rows.start + top + height),
               slice(cols.start + left, cols.start + left + width))
        yield box, own


def hole_depth(hole: np.ndarray) -> np.ndarray:
    """Each hole pixel's distance (px, float32) to the nearest known pixel, the image's edge
    counting as known; 0 outside the hole."""
    return cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]


def hole_radius(hole: np.ndarray) -> float:
    """The hole's thickness: the largest distance (px) from a hole pixel to a known one."""
    depth = hole_depth(hole)
    return float(depth.max()) if depth.size else 0.0


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate a bool mask by a disc of radius ``pixels`` (0 returns it unchanged)."""
    if pixels <= 0:
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0
