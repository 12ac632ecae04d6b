"""Edge detection that proposes a mask: Canny on a float grey image.

Grey-level input is ``float32 H×W`` in ``[0, 1]``; the ``canny`` op in
:mod:`engine.ops.detect.detect_op` wraps it.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["canny_edges"]

# Sobel (aperture 3) answers 4 × the height of an ideal step edge. Gradients are handed to Canny
# as int16, scaled so that a full 0→1 step gives 4 * _GRADIENT_SCALE (fits int16 with headroom).
_GRADIENT_SCALE = 4000.0


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
