"""Template matching: find the repeats of a patch (a dust speck, a logo) and mark them.

Pure functions on numpy arrays; the ``template_match`` op in :mod:`engine.ops.detect.detect_op`
wraps them. Matching runs in strips and checks a :class:`~engine.core.progress.CancelToken`
between them.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["MATCH_METHODS", "find_matches", "match_template", "stamp_matches"]

MATCH_METHODS: dict[str, int] = {
    "ccoeff_normed": cv2.TM_CCOEFF_NORMED,
    "ccorr_normed": cv2.TM_CCORR_NORMED,
    "sqdiff_normed": cv2.TM_SQDIFF_NORMED,
}
"""Template-matching scores by name; every one is mapped so that 1 is a perfect match."""


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
    cancel = cancel or CancelToken()
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
        cancel.raise_if_cancelled()
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
