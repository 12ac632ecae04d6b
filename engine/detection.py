"""Detection algorithms that propose masks: edges, repeats of a patch, scratches and dust.

Pure functions on numpy arrays (no op registry, no params): the ops in
:mod:`engine.ops.detect_op` wrap them. Grey-level inputs are ``float32 H×W`` in ``[0, 1]``;
colour inputs follow the engine pixel contract (``float32 H×W×C``). Everything is vectorised
OpenCV/numpy so a 24 MP photo takes seconds; long steps run in strips or per orientation and
check a :class:`~engine.progress.CancelToken` between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.convert import from_float, to_gray
from engine.impulse import detect_impulses
from engine.progress import CancelToken, Progress, null_progress

__all__ = [
    "MATCH_METHODS",
    "DefectMasks",
    "canny_edges",
    "detect_defects",
    "detect_scratches",
    "detect_spots",
    "find_matches",
    "grow_mask",
    "hysteresis",
    "line_kernel",
    "local_threshold",
    "match_template",
    "sensitivity_thresholds",
    "stamp_matches",
    "thin_residue",
]

# Sobel (aperture 3) answers 4 × the height of an ideal step edge. Gradients are handed to Canny
# as int16, scaled so that a full 0→1 step gives 4 * _GRADIENT_SCALE (fits int16 with headroom).
_GRADIENT_SCALE = 4000.0

MATCH_METHODS: dict[str, int] = {
    "ccoeff_normed": cv2.TM_CCOEFF_NORMED,
    "ccorr_normed": cv2.TM_CCORR_NORMED,
    "sqdiff_normed": cv2.TM_SQDIFF_NORMED,
}
"""Template-matching scores by name; every one is mapped so that 1 is a perfect match."""


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


# --------------------------------------------------------------------------------------- edges


def canny_edges(gray: np.ndarray, low: float, high: float, *, sigma: float = 1.0,
                l2_gradient: bool = False) -> np.ndarray:
    """Canny edges of a grey image with thresholds on the ``[0, 1]`` intensity scale.

    Parameters
    ----------
    gray : ndarray of float32, shape (H, W)
        Intensities in ``[0, 1]``.
    low, high : float
        Hysteresis thresholds, as the height of an ideal step edge on the 0–1 scale: a step
        between two flat areas that differ by more than ``high`` starts an edge, and the edge
        continues along pixels whose step exceeds ``low``.
    sigma : float, optional
        Standard deviation of the Gaussian blur applied first, in pixels (0 = none).
    l2_gradient : bool, optional
        Use the Euclidean gradient magnitude instead of ``|dx| + |dy|``.

    Returns
    -------
    ndarray of bool, shape (H, W)
        True on edge pixels (one pixel wide).
    """
    if low < 0 or high < 0:
        raise ValueError("Canny thresholds must not be negative")
    if low > high:
        raise ValueError(f"the low threshold ({low:g}) is above the high one ({high:g})")
    smooth = np.asarray(gray, dtype=np.float32)
    if sigma > 0:
        smooth = cv2.GaussianBlur(smooth, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    scale = _GRADIENT_SCALE
    dx = np.rint(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) * scale).astype(np.int16)
    dy = np.rint(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) * scale).astype(np.int16)
    edges = cv2.Canny(dx, dy, 4.0 * scale * low, 4.0 * scale * high, L2gradient=l2_gradient)
    return edges > 0


# ----------------------------------------------------------------------------- template match


def match_template(image: np.ndarray, template: np.ndarray, *,
                   template_mask: np.ndarray | None = None, method: str = "ccoeff_normed",
                   strip_rows: int = 512, progress: Progress | None = None,
                   cancel: CancelToken | None = None) -> np.ndarray:
    """Similarity of ``template`` with every window of ``image`` (1 = identical).

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The image to search.
    template : ndarray of float32, shape (h, w, C)
        The patch to look for (same channel count as ``image``).
    template_mask : ndarray of bool, shape (h, w), optional
        Only these template pixels count; None uses the whole rectangle.
    method : str, optional
        One of :data:`MATCH_METHODS`. ``sqdiff_normed`` is reported as ``1 - value``.
    strip_rows : int, optional
        Output rows computed per OpenCV call, so a cancel lands quickly on big images.
    progress, cancel
        Progress callback and cancel token.

    Returns
    -------
    ndarray of float32, shape (H - h + 1, W - w + 1)
        Score of the window whose top-left corner is at each position, clipped to ``[-1, 1]``.
    """
    if method not in MATCH_METHODS:
        raise ValueError(f"unknown matching method {method!r}; use one of "
                         f"{', '.join(MATCH_METHODS)}")
    if image.ndim == 2:
        image = image[:, :, None]
    if template.ndim == 2:
        template = template[:, :, None]
    if template.shape[2] != image.shape[2]:
        raise ValueError("the template and the image must have the same number of channels")
    h, w = template.shape[:2]
    height, width = image.shape[:2]
    if h > height or w > width:
        raise ValueError(f"the template ({w}×{h}) is larger than the image ({width}×{height})")
    progress = progress or null_progress
    code = MATCH_METHODS[method]
    templ = np.ascontiguousarray(template, dtype=np.float32)
    if templ.shape[2] == 1:
        templ = templ[:, :, 0]
    weights = None
    if template_mask is not None and not template_mask.all():
        weights = template_mask.astype(np.float32)
    out_h, out_w = height - h + 1, width - w + 1
    scores = np.empty((out_h, out_w), dtype=np.float32)
    for top in range(0, out_h, strip_rows):
        _check(cancel)
        bottom = min(top + strip_rows, out_h)
        strip = np.ascontiguousarray(image[top:bottom + h - 1], dtype=np.float32)
        if strip.shape[2] == 1:
            strip = strip[:, :, 0]
        if weights is None:
            scores[top:bottom] = cv2.matchTemplate(strip, templ, code)
        else:
            scores[top:bottom] = cv2.matchTemplate(strip, templ, code, mask=weights)
        progress(bottom / out_h, "matching")
    if method == "sqdiff_normed":
        np.subtract(1.0, scores, out=scores)
    # Flat windows make the normalised scores 0/0; they are no match.
    np.nan_to_num(scores, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(scores, -1.0, 1.0, out=scores)


def find_matches(scores: np.ndarray, template_size: tuple[int, int], threshold: float,
                 max_matches: int, *, reserved: tuple[int, int] | None = None
                 ) -> list[tuple[int, int, float]]:
    """Peaks of a score map with non-maximum suppression: one match per repeat.

    Candidates are local maxima at or above ``threshold``; they are taken greedily from the best
    score down, and a candidate whose rectangle overlaps an accepted one is dropped.

    Parameters
    ----------
    scores : ndarray of float32, shape (Hs, Ws)
        Output of :func:`match_template` (top-left corner convention).
    template_size : tuple of int
        ``(h, w)`` of the template.
    threshold : float
        Lowest score accepted.
    max_matches : int
        Most matches returned.
    reserved : tuple of int, optional
        ``(x, y)`` of a window accepted before all others (the template's own place), so it
        suppresses its neighbours; it is not part of the returned list.

    Returns
    -------
    list of (x, y, score)
        Top-left corners and scores, best first.
    """
    h, w = template_size
    if max_matches <= 0:
        return []
    # Local maxima over a window of about the template's size thin the candidates first.
    kernel = np.ones((2 * (h // 2) + 1, 2 * (w // 2) + 1), np.uint8)
    peaks = (scores >= cv2.dilate(scores, kernel)) & (scores >= threshold)
    ys, xs = np.nonzero(peaks)
    values = scores[ys, xs]
    order = np.argsort(-values, kind="stable")
    taken = np.zeros(scores.shape, dtype=bool)

    def occupy(x: int, y: int) -> None:
        taken[max(y - h + 1, 0):y + h, max(x - w + 1, 0):x + w] = True

    if reserved is not None:
        occupy(*reserved)
    matches: list[tuple[int, int, float]] = []
    for index in order:
        x, y = int(xs[index]), int(ys[index])
        if taken[y, x]:
            continue
        matches.append((x, y, float(values[index])))
        if len(matches) >= max_matches:
            break
        occupy(x, y)
    return matches


def stamp_matches(shape: tuple[int, int], matches: list[tuple[int, int, float]],
                  footprint: np.ndarray) -> np.ndarray:
    """A bool mask with ``footprint`` (the template's shape) placed at every match's corner."""
    mask = np.zeros(shape, dtype=bool)
    h, w = footprint.shape
    for x, y, _score in matches:
        region = mask[y:y + h, x:x + w]
        region |= footprint[:region.shape[0], :region.shape[1]]
    return mask


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate a bool mask by a disc of radius ``pixels`` (0 returns it unchanged)."""
    if pixels <= 0:
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0


# ----------------------------------------------------------------------------------- defects


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
        _check(cancel)
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

    Impulses come from :func:`engine.impulse.detect_impulses` (adaptive median, pure black or
    white pixels); they are median-filtered away before the grey image is searched for lines
    (:func:`detect_scratches`) and spots (:func:`detect_spots`), so noise neither hides nor
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
        _check(cancel)
        progress(0.4, "looking for scratches")
        found_scratches = detect_scratches(gray, threshold, texture_factor=factor,
                                           min_length=min_scratch_length, cancel=cancel)
    found_spots = none
    if spots:
        _check(cancel)
        progress(0.8, "looking for dust")
        found_spots = detect_spots(gray, threshold, texture_factor=factor,
                                   max_size=max_spot_size, exclude=found_scratches)
    progress(1.0, "damage found")
    return DefectMasks(found_impulses, found_scratches, found_spots)

