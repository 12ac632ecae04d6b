"""Blind estimation of the noise level in an image: per channel, luma and chroma, per region.

The core estimator is the patch-PCA method of Chen, Zhu and Heng, "An Efficient Statistical
Method for Image Noise Level Estimation" (ICCV 2015). The covariance of the image's 8×8 patches
has eigenvalues that are, for the directions the image content does not use, all equal to the
noise variance σ². The method drops the largest eigenvalues one at a time until the remaining
ones are as many above their mean as below it (mean = median, as for a pure-noise spectrum); that
mean is σ². On textured photos at low σ content still leaks into the small eigenvalues (on
CBSD68 at σ = 15 the plain method read 16.6 on average, up to 22.6), so the patches are first
narrowed to weak-texture ones, as Liu, Tanaka and Okutomi do ("Single-image noise level
estimation for blind denoising", TIP 2013): a patch is kept when its gradient energy is below
what 99 % of pure-noise patches of the current σ reach, σ is re-estimated on the kept patches,
and this is repeated until it settles. Patches holding a clipped pixel (0 or 1) are left out.
Each plane is sampled on a bounded set of patches, so a 24 MP photo costs about what a 1 MP one
does.

On top of it (all figures in the image's units, σ of [0, 1] data; ×255 for 8-bit units):

:func:`estimate_sigma`
    One σ for white noise: the median over the RGB channels (what v1 of the network takes).
:func:`estimate_levels`
    Luma σ and chroma σ in the orthonormal opponent space of
    :mod:`engine.ops.denoise.opponent`, what the v2 network takes: white noise of σ per channel
    reads (σ, σ). Noise that is not white (the chroma blotches of night shots, film grain, the
    chroma of a JPEG) keeps much of its energy at coarser scales than 8×8 patches see. With
    ``coarse`` the estimate is made again on the plane box-averaged 2×, 4× and 8× (σ of a
    2^s-averaged white plane falls by 2^s; correlated noise falls less) and the level is the
    noise's standard deviation summed over the octaves, ``σ² = Σ_s 3/4^(s+1)·e_s² + e_S²/4^S``
    with ``e_s = 2^s·σ(s)``: σ for white noise, and what training maps hold for any noise. It
    is not the default, because random fine texture (foliage, gravel) reads as coarse noise
    too; and it still reads noise that is smoother than the last octave low.
:func:`estimate_level_map`
    The same per region: a coarse grid of cells (about 8 on the long side, at least 64 px),
    one luma and one chroma figure per cell at full scale (times the global coarse/fine ratio
    with ``coarse``),
    held within a third and three times the median cell's σ, outliers replaced by the 3×3
    median of the grid, and enlarged smoothly to a per-pixel map. (A global patch-PCA figure
    of noise that differs between regions reads the lowest level, which is why the cells are
    not held to it.)

Immerkær's "Fast Noise Variance Estimation" (1996) is provided as a quick cross-check
(:func:`immerkaer_sigma`); it overestimates on textured images.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from engine.ops.denoise.opponent import to_opponent

__all__ = ["ESTIMATOR", "estimate_level_map", "estimate_levels", "estimate_sigma",
           "estimate_sigma_channels", "immerkaer_sigma", "pca_sigma"]

ESTIMATOR = ("patch PCA (Chen, Zhu & Heng, ICCV 2015) on weak-texture patches (Liu et al. "
             "2013), luma and chroma")
_PATCH = 8
_MAX_PATCHES = 25_000
_CELL_PATCHES = 4_000
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_OCTAVES = 3
_MIN_KEEP = 256


def _patches(plane: np.ndarray, size: int, max_patches: int) -> np.ndarray:
    """Overlapping ``size×size`` patches as rows, on a stride that keeps about ``max_patches``."""
    h, w = plane.shape
    count = (h - size + 1) * (w - size + 1)
    stride = max(1, math.ceil(math.sqrt(count / max_patches)))
    view = np.lib.stride_tricks.sliding_window_view(plane, (size, size))[::stride, ::stride]
    return view.reshape(-1, size * size).astype(np.float64)


def _chen_variance(rows: np.ndarray) -> float:
    """σ² of patch rows by Chen et al.'s eigenvalue criterion."""
    # Centred first, so float32 products lose nothing that matters (σ² ≥ 1e-7 of [0, 1] data).
    centred = (rows - rows.mean(axis=0)).astype(np.float32)
    covariance = (centred.T @ centred).astype(np.float64) / max(rows.shape[0] - 1, 1)
    eigen = np.sort(np.clip(np.linalg.eigvalsh(covariance), 0.0, None))
    mean = float(eigen.mean())
    for keep in range(eigen.size, 0, -1):
        head = eigen[:keep]
        mean = float(head.mean())
        if (head > mean).sum() == (head < mean).sum():
            break
    return mean


def _gradient_energy(rows: np.ndarray, size: int) -> np.ndarray:
    """Sum of squared horizontal and vertical neighbour differences inside each patch."""
    block = rows.reshape(-1, size, size)
    return ((np.diff(block, axis=1) ** 2).sum(axis=(1, 2))
            + (np.diff(block, axis=2) ** 2).sum(axis=(1, 2)))


@lru_cache(maxsize=4)
def _noise_energy_quantile(size: int, quantile: float = 0.99) -> float:
    """The ``quantile`` of :func:`_gradient_energy` for patches of unit white noise."""
    noise = np.random.default_rng(12345).standard_normal((512, 512))
    return float(np.quantile(_gradient_energy(_patches(noise, size, 20_000), size), quantile))


def _weak_texture_variance(rows: np.ndarray, size: int) -> float:
    """σ² by Chen et al., re-estimated on the patches whose gradient energy is that of noise."""
    variance = _chen_variance(rows)
    energy = _gradient_energy(rows, size)
    threshold = _noise_energy_quantile(size)
    for _ in range(4):
        keep = energy <= threshold * variance
        if keep.sum() < max(_MIN_KEEP, 2 * size * size) or keep.all():
            break
        settled = _chen_variance(rows[keep])
        done = abs(settled - variance) <= 1e-3 * variance
        variance = settled
        if done:
            break
    return variance


def _usable_rows(plane: np.ndarray, patch: int, max_patches: int) -> np.ndarray:
    rows = _patches(plane, patch, max_patches)
    clipped = ((rows == 0.0) | (rows == 1.0)).any(axis=1)  # beyond [0, 1] is unclipped noise
    if (~clipped).sum() >= max(4 * patch * patch, rows.shape[0] // 10):
        rows = rows[~clipped]
    return rows


def pca_sigma(plane: np.ndarray, patch: int = _PATCH, max_patches: int = _MAX_PATCHES,
              *, weak_texture: bool = True) -> float:
    """Noise σ of one channel ``H×W`` by patch PCA (Chen et al. 2015).

    Patches that hold an exactly clipped pixel (0 or 1; values beyond them are unclipped
    noise) are left out when enough others remain, because clipping removes noise and would
    bias σ low.

    Parameters
    ----------
    plane : ndarray, H×W
        One channel, float in [0, 1] (or an opponent plane of such an image; only RGB values of
        exactly 0 or 1 count as clipped).
    patch : int
        Patch edge in pixels.
    max_patches : int
        Upper bound on the number of patches sampled.
    weak_texture : bool
        Narrow the patches to weak-texture ones (Liu et al. 2013) before the final estimate.

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
    rows = _usable_rows(plane, patch, max_patches)
    variance = _weak_texture_variance(rows, patch) if weak_texture else _chen_variance(rows)
    return float(math.sqrt(max(variance, 0.0)))


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


# ---------------------------------------------------------------------------------- luma/chroma


def _planes(image: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """The opponent planes (Y, C1, C2) of a colour image, or the one plane of a grey one.

    Opponent planes are not in [0, 1]; pixels clipped in any RGB channel are marked by NaN so
    that their patches are left out like clipped ones.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        return [image[:, :, 0]], True
    planes = to_opponent(image[:, :, :3])
    clipped = ((image[:, :, :3] == 0.0) | (image[:, :, :3] == 1.0)).any(axis=2)
    if clipped.mean() < 0.9:
        planes[clipped] = np.nan
    return [planes[:, :, c] for c in range(3)], False


def _plane_variance(plane: np.ndarray, max_patches: int) -> float:
    """Weak-texture patch-PCA σ² of an opponent plane whose clipped pixels are NaN."""
    rows = _patches(plane, _PATCH, max_patches)
    finite = np.isfinite(rows).all(axis=1)
    if finite.sum() >= max(4 * _PATCH * _PATCH, rows.shape[0] // 10):
        rows = rows[finite]
    else:
        rows = np.nan_to_num(rows, nan=float(np.nanmean(plane)) if finite.any() else 0.0)
    return _weak_texture_variance(rows, _PATCH)


def _box_half(plane: np.ndarray) -> np.ndarray:
    h, w = (plane.shape[0] // 2) * 2, (plane.shape[1] // 2) * 2
    p = plane[:h, :w]
    return 0.25 * (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2])


def _octave_variance(plane: np.ndarray, coarse: bool) -> tuple[float, float]:
    """(σ² at full scale, σ² of the total over octaves) of one plane (see the module notes);
    the two are equal unless ``coarse``."""
    white = _plane_variance(plane, _MAX_PATCHES)
    if not coarse or white <= 0.0:
        return white, white
    figures = [white]
    current = plane
    for octave in range(1, _OCTAVES + 1):
        current = _box_half(current)
        if min(current.shape) < 4 * _PATCH:
            break
        figures.append(_plane_variance(current, _MAX_PATCHES) * 4.0 ** octave)
    last = len(figures) - 1
    total = sum(3.0 / 4.0 ** (s + 1) * e for s, e in enumerate(figures[:last]))
    total += figures[last] / 4.0 ** last
    return white, max(white, total)


def _combine(variances: list[float], gray: bool) -> tuple[float, float]:
    """(luma σ, chroma σ) from the planes' σ² (a grey plane's noise is √3× in luma)."""
    if gray:
        return math.sqrt(3.0 * variances[0]), 0.0
    return math.sqrt(variances[0]), math.sqrt(0.5 * (variances[1] + variances[2]))


def _check_size(image: np.ndarray) -> None:
    if min(np.asarray(image).shape[:2]) < 2 * _PATCH:
        h, w = np.asarray(image).shape[:2]
        raise ValueError(f"image too small to estimate noise ({w}×{h}; need at least "
                         f"{2 * _PATCH}×{2 * _PATCH})")


def estimate_levels(image: np.ndarray, *, coarse: bool = False) -> tuple[float, float]:
    """Luma σ and chroma σ of the noise in ``image`` ([0, 1] units).

    Parameters
    ----------
    image : ndarray
        Float ``H×W×3`` (or grey ``H×W×1`` / ``H×W``, whose noise is all luma: √3 × its σ, as
        when it is replicated to RGB), at least 16 px on a side.
    coarse : bool
        Also measure noise coarser than pixels (film grain, blotchy chroma) over four octaves
        (see the module notes). Off, the figures are those of 8×8 patches, right for white
        noise; on, fine random texture (foliage, gravel) is read as noise too.

    Returns
    -------
    luma, chroma : float
        Standard deviations in the orthonormal opponent space; white noise of σ per channel
        gives (σ, σ).
    """
    _check_size(image)
    planes, gray = _planes(image)
    return _combine([_octave_variance(plane, coarse)[1] for plane in planes], gray)


def _cells(length: int, count: int) -> list[slice]:
    edges = np.linspace(0, length, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def estimate_level_map(image: np.ndarray, *, coarse: bool = False, cells: int = 8,
                       min_cell: int = 64) -> tuple[np.ndarray, tuple[float, float]]:
    """A per-pixel (luma σ, chroma σ) map of the noise in ``image`` ([0, 1] units).

    Parameters
    ----------
    image : ndarray
        Float ``H×W×3`` or grey, at least 16 px on a side.
    coarse : bool
        As for :func:`estimate_levels` (the octaves are measured on the whole image and scale
        every cell alike).
    cells : int
        Grid cells on the long side.
    min_cell : int
        Smallest cell edge in pixels (small images get fewer cells; one cell is the global
        figure).

    Returns
    -------
    level_map : ndarray, float32 H×W×2
        Smooth per-pixel luma and chroma σ.
    levels : (float, float)
        The global (luma, chroma) of :func:`estimate_levels`.
    """
    _check_size(image)
    planes, gray = _planes(image)
    octaves = [_octave_variance(plane, coarse) for plane in planes]
    levels = _combine([total for _, total in octaves], gray)
    h, w = planes[0].shape
    rows = max(1, min(round(cells * h / max(h, w)), h // min_cell))
    cols = max(1, min(round(cells * w / max(h, w)), w // min_cell))
    grid = np.empty((rows, cols, len(planes)), np.float32)
    for i, ys in enumerate(_cells(h, rows)):
        for j, xs in enumerate(_cells(w, cols)):
            for c, plane in enumerate(planes):
                white, total = octaves[c]
                factor = total / white if white > 0 else 1.0
                grid[i, j, c] = _plane_variance(plane[ys, xs], _CELL_PATCHES) * factor
    for c in range(len(planes)):
        typical = float(np.median(grid[:, :, c]))
        layer = np.clip(grid[:, :, c], typical / 9.0, 9.0 * typical)  # σ within ⅓–3× the median
        if min(rows, cols) >= 3:
            layer = cv2.medianBlur(layer.astype(np.float32), 3)
        grid[:, :, c] = layer
    sigma = np.sqrt(np.maximum(grid, 0.0))
    if gray:
        luma, chroma = math.sqrt(3.0) * sigma[:, :, 0], np.zeros_like(sigma[:, :, 0])
    else:
        luma, chroma = sigma[:, :, 0], np.sqrt(0.5 * (grid[:, :, 1] + grid[:, :, 2]))
    coarse = np.stack([luma, chroma], axis=2).astype(np.float32)
    # Smooth at 16 px a cell (a blur of a quarter cell), then enlarge linearly.
    fine = cv2.resize(coarse, (16 * cols, 16 * rows), interpolation=cv2.INTER_LINEAR)
    fine = cv2.GaussianBlur(fine, (0, 0), 4.0, borderType=cv2.BORDER_REPLICATE)
    full = cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(full, 0.0).astype(np.float32), levels
