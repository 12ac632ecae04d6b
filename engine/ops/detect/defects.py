"""Classical damage detection: impulse noise, thin scratches and dust spots → a mask proposal.

Pure functions on numpy arrays (no op registry, no params): the ``detect_defects`` op in
:mod:`engine.ops.detect.detect_op` wraps them. Grey-level inputs are ``float32 H×W`` in ``[0, 1]``;
colour inputs follow the engine pixel contract (``float32 H×W×C``). Everything is vectorised
OpenCV/numpy so a 24 MP photo takes seconds; long steps run in strips or per orientation and
check a :class:`~engine.core.progress.CancelToken` between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.core.masks import grow_mask
from engine.core.pixels import from_float, to_gray
from engine.core.progress import CancelToken, Progress, null_progress
from engine.ops.classical.impulse import detect_impulses

__all__ = [
    "DefectMasks",
    "detect_defects",
    "detect_scratches",
    "detect_spots",
    "hysteresis",
    "line_kernel",
    "local_threshold",
    "sensitivity_thresholds",
    "thin_residue",
]


def local_threshold(residue: np.ndarray, base: float, texture_factor: float,
                    window: int = 31) -> np.ndarray:
    """Per-pixel contrast threshold: ``base``, raised to ``texture_factor`` × local activity.

    The local activity is the mean residue in a ``window``-pixel box (each value clipped at
    ``base`` so a defect barely raises its own threshold). Flat areas keep ``base``; in busy
    texture a defect must stand out from its neighbours' residue too.

    Parameters
    ----------
    residue : ndarray of uint8, shape (H, W)
        Output of :func:`thin_residue` (levels of 1/255).
    base : float
        Threshold in flat areas, on the 0–1 scale.
    texture_factor : float
        Multiple of the local mean residue a defect must exceed.
    window : int, optional
        Side of the averaging box, in pixels.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        Threshold in residue levels (at least 1).
    """
    base_level = max(1, int(round(base * 255.0)))
    activity = cv2.boxFilter(np.minimum(residue, np.uint8(min(base_level, 255))), cv2.CV_32F,
                             (window, window), borderType=cv2.BORDER_REFLECT)
    limit = np.maximum(np.float32(base_level), np.float32(texture_factor) * activity)
    return np.ceil(np.minimum(limit, 255.0)).astype(np.uint8)


def hysteresis(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Connected parts of ``weak`` (8-connectivity) that contain a pixel of ``strong``."""
    weak = weak | strong
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(weak.shape, dtype=bool)
    keep = np.zeros(count, dtype=bool)
    keep[labels[strong]] = True
    keep[0] = False
    return keep[labels]


def thin_residue(gray: np.ndarray, diameter: int) -> np.ndarray:
    """Contrast of structures narrower than ``diameter`` px, bright or dark, in 1/255 levels.

    The larger of the white top-hat (image minus its opening) and the black top-hat (closing
    minus image) with a disc: features a disc of that size cannot fit in are left, larger shapes
    and edges of convex shapes give nothing. Computed on 8-bit levels, which is three times
    faster than float and fine enough for contrasts of a few percent.

    Parameters
    ----------
    gray : ndarray, shape (H, W)
        float32 intensities in ``[0, 1]``, or uint8.
    diameter : int
        Disc diameter in pixels.

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    levels = gray if gray.dtype == np.uint8 else from_float(gray, np.uint8)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))
    opened = cv2.morphologyEx(levels, cv2.MORPH_OPEN, disc, borderType=cv2.BORDER_REPLICATE)
    closed = cv2.morphologyEx(levels, cv2.MORPH_CLOSE, disc, borderType=cv2.BORDER_REPLICATE)
    return cv2.max(cv2.subtract(levels, opened), cv2.subtract(closed, levels))


def line_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A one-pixel-wide line structuring element of odd ``length`` at ``angle_deg``."""
    size = length | 1
    centre = size // 2
    dx, dy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    reach = centre / max(abs(dx), abs(dy))
    start = (round(centre - dx * reach), round(centre - dy * reach))
    end = (round(centre + dx * reach), round(centre + dy * reach))
    kernel = np.zeros((size, size), np.uint8)
    cv2.line(kernel, start, end, 1, 1)
    return kernel


def _extend(cores: np.ndarray, weak: np.ndarray, reach: int = 2) -> np.ndarray:
    """``cores`` plus their faint rim: ``weak`` pixels within ``reach`` px, connected to them."""
    if not cores.any():
        return cores
    return hysteresis(cores, grow_mask(cores, reach) & weak)


def detect_scratches(gray: np.ndarray, threshold: float, *, texture_factor: float = 4.0,
                     min_length: int = 30, max_width: int = 5, segment: int = 15,
                     angles: int = 16, cancel: CancelToken | None = None) -> np.ndarray:
    """Long thin bright or dark lines.

    The thin-structure residue (:func:`thin_residue`, disc of ``max_width + 2``) is opened with
    line segments of ``segment`` px at ``angles`` orientations; what survives in some orientation
    with at least ``threshold`` contrast is line-like. Those pixels are grouped (bridging gaps of
    two pixels), groups shorter than ``min_length`` (bounding-box diagonal) or thicker than a line
    are dropped, and the kept lines take in their faint rim (residue above half the threshold,
    within two pixels).

    Parameters
    ----------
    gray : ndarray, shape (H, W)
        float32 intensities in ``[0, 1]``, or uint8.
    threshold : float
        Contrast (0–1 scale) a line needs against its surroundings in a flat area.
    texture_factor : float, optional
        How far above the local texture's residue a line must rise (see
        :func:`local_threshold`).
    min_length : int, optional
        Shortest scratch kept, in pixels.
    max_width : int, optional
        Widest line, in pixels.
    segment : int, optional
        Length of the line structuring elements.
    angles : int, optional
        Number of orientations in 180°.
    cancel : CancelToken, optional
        Checked between orientations.

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    cancel = cancel or CancelToken()
    residue = thin_residue(gray, max_width + 2)
    limit = local_threshold(residue, threshold, texture_factor)
    # Line openings run at half resolution on a 3×3 max-pooled residue: a thin line stays a
    # connected line, thick enough to tolerate the angle steps between the structuring
    # elements, and it costs an eighth of full resolution. The answer is brought back up and
    # checked against the full-resolution residue pixel by pixel.
    height, width = residue.shape
    pooled = cv2.dilate(residue, np.ones((3, 3), np.uint8),
                        borderType=cv2.BORDER_REPLICATE)[::2, ::2]
    linear = np.zeros(pooled.shape, dtype=np.uint8)
    for index in range(angles):
        cancel.raise_if_cancelled()
        kernel = line_kernel(segment // 2, 180.0 * index / angles)
        cv2.max(linear, cv2.morphologyEx(pooled, cv2.MORPH_OPEN, kernel), dst=linear)
    linear = np.repeat(np.repeat(linear, 2, axis=0), 2, axis=1)[:height, :width]
    strong = (linear >= limit) & (residue >= limit)
    if not strong.any():
        return strong
    bridged = cv2.dilate(strong.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8)
    widths = stats[:, cv2.CC_STAT_WIDTH].astype(np.float64)
    heights = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    length = np.hypot(widths, heights)
    # Twice the area over the boundary length is the mean thickness of a line, crossing lines
    # included (the bridging adds two pixels); a blob is far thicker.
    boundary = (bridged > 0) & (cv2.erode(bridged, np.ones((3, 3), np.uint8)) == 0)
    rim = np.bincount(labels[boundary], minlength=count).astype(np.float64)
    thickness = 2.0 * areas / np.maximum(rim, 1.0)
    keep = (length >= min_length) & (thickness <= max_width + 3)
    keep[0] = False
    return _extend(keep[labels] & strong, residue >= (limit + 1) // 2)


def detect_spots(gray: np.ndarray, threshold: float, *, texture_factor: float = 4.0,
                 max_size: int = 9, min_area: int = 4, min_fill: float = 0.4,
                 max_aspect: float = 3.0, exclude: np.ndarray | None = None) -> np.ndarray:
    """Small roughly round blobs brighter or darker than their surroundings (dust, specks).

    Parameters
    ----------
    gray : ndarray, shape (H, W)
        float32 intensities in ``[0, 1]``, or uint8.
    threshold : float
        Contrast (0–1 scale) a spot needs in a flat area; a kept spot takes in its faint rim
        (residue above half the threshold, within two pixels).
    texture_factor : float, optional
        How far above the local texture's residue a spot must rise (see
        :func:`local_threshold`).
    max_size : int, optional
        Largest spot diameter, in pixels (a blob with a little texture attached may reach
        ``max_size + 2``).
    min_area : int, optional
        Smallest spot area, in pixels (single-pixel impulses are another detector's job).
    min_fill : float, optional
        Least fraction of its bounding box a spot fills (a disc fills 0.785).
    max_aspect : float, optional
        Largest ratio of the bounding box's long side to its short side.
    exclude : ndarray of bool, shape (H, W), optional
        Blobs touching these pixels (found scratches) are not spots.

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    # A little slack on the size: a spot that touches a speck of texture still counts.
    residue = thin_residue(gray, max_size + 4)
    limit = local_threshold(residue, threshold, texture_factor)
    strong = residue >= limit
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strong.astype(np.uint8),
                                                              connectivity=8)
    if count <= 1:
        return strong
    widths = stats[:, cv2.CC_STAT_WIDTH].astype(np.float64)
    heights = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    long_side = np.maximum(widths, heights)
    short_side = np.maximum(np.minimum(widths, heights), 1.0)
    keep = ((areas >= min_area) & (long_side <= max_size + 2)
            & (areas >= min_fill * widths * heights) & (long_side / short_side <= max_aspect))
    if exclude is not None and exclude.any():
        keep[np.unique(labels[grow_mask(exclude, 1)])] = False
    keep[0] = False
    return _extend(keep[labels], residue >= (limit + 1) // 2)


@dataclass
class DefectMasks:
    """Damage found by :func:`detect_defects`, one bool ``H×W`` mask per kind."""

    impulses: np.ndarray
    scratches: np.ndarray
    spots: np.ndarray

    def union(self) -> np.ndarray:
        """All kinds together."""
        return self.impulses | self.scratches | self.spots


def sensitivity_thresholds(sensitivity: float) -> tuple[float, float]:
    """Map a 0–1 sensitivity to ``(threshold, texture_factor)`` for the line and spot finders.

    0.5 asks for 0.12 contrast in flat areas and 4 × the local texture residue; 1 goes down to
    0.04 and 2 ×, 0 up to 0.2 and 6 ×.
    """
    sensitivity = min(max(float(sensitivity), 0.0), 1.0)
    return 0.2 - 0.16 * sensitivity, 6.0 - 4.0 * sensitivity


def detect_defects(image: np.ndarray, *, impulses: bool = True, scratches: bool = True,
                   spots: bool = True, sensitivity: float = 0.5, max_spot_size: int = 9,
                   min_scratch_length: int = 30, progress: Progress | None = None,
                   cancel: CancelToken | None = None) -> DefectMasks:
    """Find impulse noise, thin scratches and dust spots in a photo.

    Impulses come from :func:`engine.ops.classical.impulse.detect_impulses` (adaptive median, pure
    black or white pixels); they are median-filtered away before the grey image is searched for
    lines (:func:`detect_scratches`) and spots (:func:`detect_spots`), so noise neither hides nor
    imitates them. Spots next to a found scratch are left to the scratch.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        Pixels in ``[0, 1]``; not modified.
    impulses, scratches, spots : bool, optional
        Which kinds to look for.
    sensitivity : float, optional
        0 (only obvious damage) to 1 (faint damage too, more false finds).
    max_spot_size : int, optional
        Largest dust spot diameter, in pixels.
    min_scratch_length : int, optional
        Shortest scratch, in pixels.
    progress, cancel
        Progress callback and cancel token.

    Returns
    -------
    DefectMasks
    """
    progress = progress or null_progress
    cancel = cancel or CancelToken()
    shape = image.shape[:2]
    none = np.zeros(shape, dtype=bool)
    found_impulses = none
    gray = from_float(to_gray(image), np.uint8)
    if impulses:
        progress(0.0, "looking for impulse noise")
        found_impulses = detect_impulses(image, cancel=cancel)
        if found_impulses.any():
            gray = np.where(found_impulses, cv2.medianBlur(gray, 3), gray)
    threshold, factor = sensitivity_thresholds(sensitivity)
    found_scratches = none
    if scratches:
        cancel.raise_if_cancelled()
        progress(0.4, "looking for scratches")
        found_scratches = detect_scratches(gray, threshold, texture_factor=factor,
                                           min_length=min_scratch_length, cancel=cancel)
    found_spots = none
    if spots:
        cancel.raise_if_cancelled()
        progress(0.8, "looking for dust")
        found_spots = detect_spots(gray, threshold, texture_factor=factor,
                                   max_size=max_spot_size, exclude=found_scratches)
    progress(1.0, "damage found")
    return DefectMasks(found_impulses, found_scratches, found_spots)
