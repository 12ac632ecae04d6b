"""Image quality metrics: PSNR and SSIM, their variants restricted to a mask, the detail ratio
of a fill, and the precision and recall of a proposed mask (and the counts behind them, to pool
over images).

All functions take float arrays ``H×W×C`` (or ``H×W``) with values in ``[0, data_range]``.
SSIM follows Wang et al. (2004): an 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03,
computed per channel and averaged.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["detail_ratio", "mask_match_counts", "mask_precision_recall", "masked_psnr",
           "masked_ssim", "mse", "psnr", "ssim", "ssim_map"]

_MAX_PSNR = 100.0


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    return a, b


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels."""
    a, b = _pair(a, b)
    return float(np.mean((a - b) ** 2))


def _psnr_from_mse(error: float, data_range: float) -> float:
    if error <= 0:
        return _MAX_PSNR
    return float(min(10.0 * np.log10(data_range**2 / error), _MAX_PSNR))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (capped at 100 dB for identical images).

    Parameters
    ----------
    a, b : ndarray
        Images of the same shape.
    data_range : float
        The value range of the pixels (1.0 for float images in [0, 1]).
    """
    return _psnr_from_mse(mse(a, b), data_range)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR over the pixels where ``mask`` (bool ``H×W``) is True.

    Raises
    ------
    ValueError
        If the mask selects no pixel.
    """
    a, b = _pair(a, b)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("masked_psnr: the mask selects no pixel")
    return _psnr_from_mse(float(np.mean((a[mask] - b[mask]) ** 2)), data_range)


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Per-pixel SSIM (``H×W``), averaged over channels."""
    a, b = _pair(a, b)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    maps = []
    for channel in range(a.shape[2]):
        x, y = a[:, :, channel], b[:, :, channel]
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x**2
        var_y = blur(y * y) - mu_y**2
        cov = blur(x * y) - mu_x * mu_y
        numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
        denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        maps.append(numerator / denominator)
    return np.mean(maps, axis=0)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity over the image (1.0 for identical images)."""
    return float(np.mean(ssim_map(a, b, data_range)))


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = 1.0) -> float:
    """Mean SSIM over the pixels where ``mask`` is True (windows may read context outside it)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("masked_ssim: the mask selects no pixel")
    return float(np.mean(ssim_map(a, b, data_range)[mask]))


def mask_match_counts(found: np.ndarray, truth: np.ndarray, *, tolerance: int = 1
                      ) -> tuple[int, int, int, int]:
    """The counts behind :func:`mask_precision_recall`, to pool over many images.

    Returns
    -------
    found_near, found_total, truth_near, truth_total : int
        Found pixels within ``tolerance`` px (Chebyshev distance) of a true one, all found
        pixels, true pixels within ``tolerance`` px of a found one, all true pixels.

    Raises
    ------
    ValueError
        The masks differ in shape.
    """
    found = np.asarray(found, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if found.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {found.shape} vs {truth.shape}")
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    truth_wide = cv2.dilate(truth.astype(np.uint8), kernel) > 0
    found_wide = cv2.dilate(found.astype(np.uint8), kernel) > 0
    return (int((found & truth_wide).sum()), int(found.sum()),
            int((truth & found_wide).sum()), int(truth.sum()))


def mask_precision_recall(found: np.ndarray, truth: np.ndarray, *, tolerance: int = 1
                          ) -> tuple[float, float]:
    """Precision and recall of a proposed mask against the true one, with a slack of
    ``tolerance`` px (a found pixel within that distance of a true one counts, and the other way
    round), as detections are judged.

    Returns
    -------
    precision : float
        Share of the found pixels near a true one (0 when nothing is found).
    recall : float
        Share of the true pixels near a found one (1 when there is nothing to find).
    """
    found_near, found_total, truth_near, truth_total = mask_match_counts(
        found, truth, tolerance=tolerance)
    precision = found_near / found_total if found_total else 0.0
    recall = truth_near / truth_total if truth_total else 1.0
    return precision, recall


def detail_ratio(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    """Mean luma gradient magnitude inside the hole, of the fill over that of the truth.

    1.0 means as much detail as the original; a smooth (blurred) fill scores well below 1,
    whatever its PSNR. A fill with the right amount of texture in the wrong place also scores
    near 1, so read it beside PSNR/SSIM and the in-hole patch distance
    (:func:`engine.core.swd.hole_swd`), never alone.

    Parameters
    ----------
    result, truth : ndarray, H×W×C (or H×W)
        The filled image and the original.
    hole : ndarray of bool, H×W
        The filled pixels; must select at least one.
    """
    result, truth = _pair(result, truth)
    hole = np.asarray(hole, dtype=bool)
    if not hole.any():
        raise ValueError("detail_ratio: the hole selects no pixel")

    def energy(image: np.ndarray) -> float:
        gy, gx = np.gradient(image.mean(axis=2))
        return float(np.mean(np.hypot(gx, gy)[hole]))

    return energy(result) / max(energy(truth), 1e-6)
