"""Blind estimation of the level of additive white noise in an image.

The main estimator is the patch-PCA method of Chen, Zhu and Heng, "An Efficient Statistical
Method for Image Noise Level Estimation" (ICCV 2015). The covariance of the image's 8×8 patches
has eigenvalues that are, for the directions the image content does not use, all equal to the
noise variance σ². The method drops the largest eigenvalues one at a time until the remaining
ones are as many above their mean as below it (mean = median, as for a pure-noise spectrum); that
mean is σ². Unlike gradient- or wavelet-based estimators it does not mistake fine texture for
noise. It runs per channel on a bounded sample of patches (so a 24 MP photo costs about as much
as a 1 MP one) and the channels' median is returned.

Immerkær's "Fast Noise Variance Estimation" (1996), a 3×3 Laplacian-difference operator whose
mean absolute response is proportional to σ, is provided as a quick cross-check
(:func:`immerkaer_sigma`); it overestimates on textured images.

All figures are in the image's units (σ of [0, 1] data); multiply by 255 for 8-bit units.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["ESTIMATOR", "estimate_sigma", "estimate_sigma_channels", "immerkaer_sigma",
           "pca_sigma"]

ESTIMATOR = "patch PCA (Chen, Zhu & Heng, ICCV 2015), median over channels"
_PATCH = 8
_MAX_PATCHES = 60_000
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def _patches(plane: np.ndarray, size: int, max_patches: int) -> np.ndarray:
    """Overlapping ``size×size`` patches as rows, on a stride that keeps about ``max_patches``."""
    h, w = plane.shape
    count = (h - size + 1) * (w - size + 1)
    stride = max(1, math.ceil(math.sqrt(count / max_patches)))
    view = np.lib.stride_tricks.sliding_window_view(plane, (size, size))[::stride, ::stride]
    return view.reshape(-1, size * size).astype(np.float64)


def pca_sigma(plane: np.ndarray, patch: int = _PATCH, max_patches: int = _MAX_PATCHES) -> float:
    """Noise σ of one channel ``H×W`` by patch PCA (Chen et al. 2015).

    Patches that hold an exactly clipped pixel (0 or 1) are left out when enough others remain,
    because clipping removes noise and would bias σ low.

    Parameters
    ----------
    plane : ndarray, H×W
        One channel, float in [0, 1].
    patch : int
        Patch edge in pixels.
    max_patches : int
        Upper bound on the number of patches sampled.

    Raises
    ------
    ValueError
        If the image is smaller than twice the patch size on a side.
    """
    plane = np.asarray(plane)
    if plane.ndim != 2:
        raise ValueError(f"expected one channel H×W, got shape {plane.shape}")
    if min(plane.shape) < 2 * patch:
        raise ValueError(f"image too small to estimate noise ({plane.shape[1]}×{plane.shape[0]};"
                         f" need at least {2 * patch}×{2 * patch})")
    rows = _patches(plane, patch, max_patches)
    clipped = ((rows <= 0.0) | (rows >= 1.0)).any(axis=1)
    if (~clipped).sum() >= max(4 * patch * patch, rows.shape[0] // 10):
        rows = rows[~clipped]
    rows = rows - rows.mean(axis=0)
    covariance = rows.T @ rows / max(rows.shape[0] - 1, 1)
    eigen = np.sort(np.clip(np.linalg.eigvalsh(covariance), 0.0, None))
    for keep in range(eigen.size, 0, -1):
        head = eigen[:keep]
        mean = head.mean()
        if (head > mean).sum() == (head < mean).sum():
            break
    return float(math.sqrt(mean))


def immerkaer_sigma(plane: np.ndarray) -> float:
    """Noise σ of one channel by Immerkær's fast estimator (1996).

    ``σ = sqrt(π/2) · mean|I * N| / 6`` with ``N = [[1,-2,1],[-2,4,-2],[1,-2,1]]`` over the
    valid interior.
    """
    plane = np.asarray(plane, dtype=np.float32)
    if min(plane.shape) < 3:
        raise ValueError("image too small to estimate noise (need at least 3×3)")
    response = cv2.filter2D(plane, cv2.CV_32F, _IMMERKAER)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2.0) * np.mean(np.abs(response), dtype=np.float64) / 6.0)


def estimate_sigma_channels(image: np.ndarray) -> list[float]:
    """Patch-PCA σ of each channel of a float ``H×W×C`` (or ``H×W``) image."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    return [pca_sigma(image[:, :, c]) for c in range(image.shape[2])]


def estimate_sigma(image: np.ndarray) -> float:
    """Estimated σ of additive white noise in ``image`` (median over channels, [0, 1] units).

    Parameters
    ----------
    image : ndarray
        Float ``H×W×C`` or ``H×W`` in [0, 1], at least 16 px on a side.

    Returns
    -------
    float
        σ in the image's units (8-bit σ / 255).
    """
    return float(np.median(estimate_sigma_channels(image)))
