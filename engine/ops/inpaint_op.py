"""Inpainting: fill the masked pixels from their surroundings.

Each method is a small function ``fill(crop, hole, radius) -> crop`` registered in
:data:`INPAINT_METHODS` with :func:`inpaint_method`; the ``inpaint`` op's ``method`` choice lists
them. The op never hands a whole image to a method: it cuts a crop around each group of nearby
masked regions (the group's bounding box plus a context margin), fills it, and writes back only
that group's masked pixels, so a 50 MP photo with one scratch costs a few kilopixels of work.

OpenCV precision: ``cv2.inpaint`` takes 8-bit 1- or 3-channel images, and 16-bit or float32
images only with one channel. Its Telea code is not scale-invariant on float input (on a 0–1
scale it returns garbage; its error shrinks as the scale grows), so each channel is handed over
separately as float32 on a 0–65535 scale: 16-bit sources keep their precision, and Telea is as
accurate as OpenCV's own 16-bit path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from engine.masking import mask_bbox
from engine.ops.registry import Op, OpError, OpResult, register
from engine.params import Choice, Int
from engine.progress import CancelToken, Progress

__all__ = ["INPAINT_METHODS", "InpaintOp", "context_margin", "hole_regions", "inpaint_method"]

FillMethod = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""``fill(crop, hole, radius)``: crop is float32 ``h×w×C`` in [0, 1], hole is bool ``h×w``;
returns the filled crop (float32, same shape). Pixels outside the hole are not read back."""

INPAINT_METHODS: dict[str, FillMethod] = {}
"""Fill methods by name, in the order the op's ``method`` choice shows them."""

_CV_SCALE = np.float32(65535.0)


def inpaint_method(name: str) -> Callable[[FillMethod], FillMethod]:
    """Decorator that adds a fill function to :data:`INPAINT_METHODS` under ``name``."""

    def add(fill: FillMethod) -> FillMethod:
        if name in INPAINT_METHODS:
            raise ValueError(f"inpainting method {name!r} is already registered")
        INPAINT_METHODS[name] = fill
        return fill

    return add


def _opencv_fill(crop: np.ndarray, hole: np.ndarray, radius: int, flag: int) -> np.ndarray:
    hole8 = hole.astype(np.uint8)
    out = np.empty_like(crop)
    for channel in range(crop.shape[2]):
        plane = np.ascontiguousarray(crop[:, :, channel]) * _CV_SCALE
        out[:, :, channel] = cv2.inpaint(plane, hole8, float(radius), flag) / _CV_SCALE
    return np.clip(out, 0.0, 1.0, out=out)


@inpaint_method("telea")
def fill_telea(crop: np.ndarray, hole: np.ndarray, radius: int) -> np.ndarray:
    """Telea's fast-marching method: fills from the edge inwards (good for thin damage)."""
    return _opencv_fill(crop, hole, radius, cv2.INPAINT_TELEA)


@inpaint_method("ns")
def fill_navier_stokes(crop: np.ndarray, hole: np.ndarray, radius: int) -> np.ndarray:
    """Navier–Stokes based inpainting: continues isophotes (lines of equal brightness) inward."""
    return _opencv_fill(crop, hole, radius, cv2.INPAINT_NS)


def context_margin(radius: int) -> int:
    """Pixels of known surroundings kept around each hole: ``max(32, 3 * radius)``."""
    return max(32, 3 * radius)


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


@register
class InpaintOp(Op):
    """Fill the masked pixels from the surrounding image (OpenCV Telea or Navier–Stokes)."""

    name = "inpaint"
    title = "Inpaint"
    category = "Inpaint"
    description = (
        "Fill the masked area from its surroundings. Telea (fast marching) suits scratches, "
        "dust and thin damage; Navier–Stokes continues edges a little better. Both smear large "
        "holes: use them for damage a few pixels wide. Only pixels around the mask are "
        "processed, so big photos are quick.")
    params = (
        Choice("method", "telea", choices=tuple(INPAINT_METHODS),
               help="How to fill: 'telea' (fast marching) or 'ns' (Navier–Stokes)."),
        Int("radius", 5, minimum=1, maximum=100,
            help="Neighbourhood (px) each filled pixel draws from; about the damage's width."),
    )
    mask_use = "hole"
    needs_mask = True

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        assert mask is not None  # run_op enforces needs_mask
        if mask.all():
            raise OpError("the mask covers the whole image, so there is nothing to fill from: "
                          "leave the undamaged parts unmasked")
        fill = INPAINT_METHODS[params["method"]]
        radius = params["radius"]
        margin = context_margin(radius)
        out = image.copy()
        regions = list(hole_regions(mask, margin))
        crop_pixels = 0
        for index, ((rows, cols), own) in enumerate(regions):
            cancel.raise_if_cancelled()
            progress(index / len(regions), f"inpainting region {index + 1} of {len(regions)}")
            crop = image[rows, cols]
            filled = fill(np.ascontiguousarray(crop), mask[rows, cols], radius)
            target = out[rows, cols]
            target[own] = filled[own]
            crop_pixels += own.shape[0] * own.shape[1]
        return OpResult(image=out, info={"regions": len(regions), "crop_pixels": crop_pixels,
                                         "method": params["method"]})
