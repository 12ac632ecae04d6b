"""Patch-distribution measures: multi-scale sliced Wasserstein distance, its in-hole variant,
and seam error.

:func:`swd` follows Karras et al. 2018 ("Progressive growing of GANs", appendix D and their
``sliced_wasserstein.py``): both images are decomposed into a Laplacian pyramid; at every level
random 7×7 neighbourhoods are drawn, each channel is normalised by the mean and standard
deviation of that level's descriptors, and the distance between the two descriptor sets is the
sliced Wasserstein distance (random unit directions, sorted projections, mean absolute
difference), multiplied by 10³ and averaged over the levels. Lower is better; an image against
itself gives 0.

One choice differs from Karras's code by default: the normalising mean and standard deviation
are those of both descriptor sets together (``normalize="joint"``), so a colour cast or a loss
of contrast in the synthesis counts against it. ``normalize="separate"`` normalises each set by
its own statistics, exactly as Karras et al. do.

:func:`seam_error` measures whether an image tiles seamlessly: the mean squared difference
across the wrap-around seams of a 2×2 tiling against the same statistic across the lines inside
the image.

:func:`hole_swd` scores an inpainting: the same distance between the 7×7 neighbourhoods
*centred inside the hole* in the result and in the true image, over a 3-level Laplacian pyramid
(two band-pass levels and the 1/4-scale low-pass). A blurred or smeared fill has almost nothing
in the band-pass levels and scores high, however good its PSNR; a fill with texture of the
wrong scale or contrast scores high too.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import cv2
import numpy as np

__all__ = ["HOLE_LEVELS", "SeamError", "hole_swd", "hole_swd_levels", "laplacian_pyramid",
           "seam_error", "sliced_wasserstein", "swd", "swd_levels"]

PATCH = 7
"""Edge of the neighbourhoods compared at every pyramid level."""


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Band-pass levels (finest first) and the low-pass residual last; ``levels`` images in all."""
    current = np.ascontiguousarray(image, dtype=np.float32)
    pyramid = []
    for _ in range(levels - 1):
        down = cv2.pyrDown(current)
        up = cv2.pyrUp(down, dstsize=(current.shape[1], current.shape[0]))
        pyramid.append((current - up.reshape(current.shape)).reshape(current.shape))
        current = down.reshape(down.shape[0], down.shape[1], -1)
    pyramid.append(current.reshape(current.shape[0], current.shape[1], -1))
    return [p.reshape(p.shape[0], p.shape[1], -1) for p in pyramid]


def _patches(level: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random 7×7 neighbourhoods ``count×(7·7·C)``, or all of them if fewer exist."""
    h, w, c = level.shape
    ny, nx = h - PATCH + 1, w - PATCH + 1
    if ny < 1 or nx < 1:
        raise ValueError(f"a pyramid level of {w}×{h} is smaller than the {PATCH}×{PATCH} patch")
    windows = np.lib.stride_tricks.sliding_window_view(level, (PATCH, PATCH), axis=(0, 1))
    windows = windows.reshape(ny * nx, c * PATCH * PATCH)
    if ny * nx > count:
        windows = windows[rng.choice(ny * nx, size=count, replace=False)]
    return windows.astype(np.float32)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, *, directions: int = 512,
                       seed: int = 0) -> float:
    """Sliced Wasserstein distance between two descriptor sets ``N×D`` and ``M×D``.

    Projects both sets on ``directions`` random unit vectors (fixed by ``seed``), sorts the
    projections and returns the mean absolute difference of matching quantiles. Sets of
    different sizes are compared at the quantiles of the smaller one.
    """
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((a.shape[1], directions)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    # Directions × samples, so every sort runs along contiguous memory.
    pa = np.sort(dirs.T @ a.T, axis=1)
    pb = np.sort(dirs.T @ b.T, axis=1)
    if pa.shape[1] != pb.shape[1]:
        n = min(pa.shape[1], pb.shape[1])
        quantiles = (np.arange(n) + 0.5) / n
        pa = pa[:, np.minimum((quantiles * pa.shape[1]).astype(int), pa.shape[1] - 1)]
        pb = pb[:, np.minimum((quantiles * pb.shape[1]).astype(int), pb.shape[1] - 1)]
    return float(np.mean(np.abs(pa - pb)))


def _levels_for(shape_a: tuple[int, ...], shape_b: tuple[int, ...], levels: int) -> int:
    smallest = min(shape_a[0], shape_a[1], shape_b[0], shape_b[1])
    # Keep the coarsest level at least 16 px so it still holds a hundred 7×7 neighbourhoods.
    usable = 1
    while usable < levels and smallest // 2**usable >= 16:
        usable += 1
    return usable


def swd_levels(a: np.ndarray, b: np.ndarray, *, levels: int = 4, patches: int = 8192,
               directions: int = 512, seed: int = 0,
               normalize: Literal["joint", "separate"] = "joint") -> list[float]:
    """SWD ×10³ at each Laplacian level, finest first (see :func:`swd`)."""
    for name, image in (("a", a), ("b", b)):
        if image.ndim != 3 or image.shape[2] not in (1, 3):
            raise ValueError(f"swd: image {name} must be H×W×1 or H×W×3, got {image.shape}")
    if a.shape[2] != b.shape[2]:
        raise ValueError(f"swd: the images differ in channels ({a.shape[2]} vs {b.shape[2]})")
    if min(a.shape[:2] + b.shape[:2]) < PATCH:
        raise ValueError(f"swd: images must be at least {PATCH}×{PATCH} pixels")
    count = _levels_for(a.shape, b.shape, levels)
    pyr_a = laplacian_pyramid(a, count)
    pyr_b = laplacian_pyramid(b, count)
    results = []
    for index, (la, lb) in enumerate(zip(pyr_a, pyr_b, strict=True)):
        # The same seed for both images: equal images give equal patch sets, hence 0.
        da = _patches(la, patches, np.random.default_rng([seed, index]))
        db = _patches(lb, patches, np.random.default_rng([seed, index]))
        channels = la.shape[2]
        if normalize == "joint":
            both = np.concatenate([da, db]).reshape(-1, channels, PATCH * PATCH)
            mean = both.mean(axis=(0, 2)).repeat(PATCH * PATCH)
            std = both.std(axis=(0, 2)).repeat(PATCH * PATCH) + 1e-8
            da, db = (da - mean) / std, (db - mean) / std
        elif normalize == "separate":
            for desc in (da, db):
                view = desc.reshape(-1, channels, PATCH * PATCH)
                view -= view.mean(axis=(0, 2), keepdims=True)
                view /= view.std(axis=(0, 2), keepdims=True) + 1e-8
        else:
            raise ValueError(f"swd: normalize must be 'joint' or 'separate', not {normalize!r}")
        results.append(1e3 * sliced_wasserstein(da, db, directions=directions,
                                                seed=seed + 1000 * index))
    return results


def swd(a: np.ndarray, b: np.ndarray, *, levels: int = 4, patches: int = 8192,
        directions: int = 512, seed: int = 0,
        normalize: Literal["joint", "separate"] = "joint") -> float:
    """Multi-scale sliced Wasserstein distance ×10³ between the 7×7 patch distributions.

    Parameters
    ----------
    a, b : ndarray, float32 H×W×C in [0, 1]
        The two images (sizes may differ; channels must match).
    levels : int
        Laplacian pyramid levels (fewer when an image is too small to keep the coarsest level
        at 16 px or more).
    patches : int
        Neighbourhoods drawn per level and image (all of them where fewer exist).
    directions : int
        Random projection directions (fixed by ``seed``).
    seed : int
        Seeds the patch positions and the directions: results are reproducible.
    normalize : {"joint", "separate"}
        Per-channel normalisation of each level's descriptors by the statistics of both sets
        (default) or of each set on its own (Karras et al.).

    Returns
    -------
    float
        The mean over levels of SWD ×10³; 0 for identical images, lower is better.
    """
    return float(np.mean(swd_levels(a, b, levels=levels, patches=patches,
                                    directions=directions, seed=seed, normalize=normalize)))


HOLE_LEVELS = 3
"""Laplacian levels of :func:`hole_swd`: 1/1 and 1/2 band-pass and the 1/4 low-pass."""


def _centred_patches(level: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The 7×7 neighbourhoods (edge-reflected) centred at the flat pixel indices ``centres``."""
    r = PATCH // 2
    padded = np.pad(level, ((r, r), (r, r), (0, 0)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (PATCH, PATCH), axis=(0, 1))
    windows = windows.reshape(level.shape[0] * level.shape[1], -1)
    return windows[centres].astype(np.float32)


def hole_swd_levels(result: np.ndarray, truth: np.ndarray, hole: np.ndarray, *,
                    levels: int = HOLE_LEVELS, patches: int = 8192, directions: int = 256,
                    seed: int = 0) -> list[float]:
    """In-hole patch SWD ×10³ at each Laplacian level, finest first (see :func:`hole_swd`).

    A level where the shrunken hole holds no pixel is left out of the list.
    """
    result = np.asarray(result, dtype=np.float32)
    truth = np.asarray(truth, dtype=np.float32)
    hole = np.asarray(hole, dtype=bool)
    if result.ndim == 2:
        result, truth = result[:, :, None], truth[:, :, None]
    if result.shape != truth.shape or result.ndim != 3:
        raise ValueError(f"hole_swd: result {result.shape} and truth {truth.shape} must be "
                         f"H×W×C images of the same shape")
    if hole.shape != result.shape[:2]:
        raise ValueError(f"hole_swd: the hole is {hole.shape}, the images {result.shape[:2]}")
    if not hole.any():
        raise ValueError("hole_swd: the hole selects no pixel")
    if min(result.shape[:2]) < PATCH:
        raise ValueError(f"hole_swd: images must be at least {PATCH}×{PATCH} pixels")
    count = 1
    while count < levels and min(result.shape[:2]) // 2 ** count >= PATCH:
        count += 1
    pyr_r, pyr_t = laplacian_pyramid(result, count), laplacian_pyramid(truth, count)
    scores = []
    for index, (lr, lt) in enumerate(zip(pyr_r, pyr_t, strict=True)):
        h, w, channels = lr.shape
        # A pixel of a coarser level is in the hole when half or more of what it covers is.
        inside = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        centres = np.flatnonzero(inside.reshape(-1) >= 0.5)
        if centres.size == 0:
            continue
        if centres.size > patches:
            rng = np.random.default_rng([seed, index])
            centres = np.sort(rng.choice(centres, size=patches, replace=False))
        dr, dt = _centred_patches(lr, centres), _centred_patches(lt, centres)
        both = np.concatenate([dr, dt]).reshape(-1, channels, PATCH * PATCH)
        mean = both.mean(axis=(0, 2)).repeat(PATCH * PATCH)
        std = both.std(axis=(0, 2)).repeat(PATCH * PATCH) + 1e-8
        scores.append(1e3 * sliced_wasserstein((dr - mean) / std, (dt - mean) / std,
                                               directions=directions, seed=seed + 1000 * index))
    return scores


def hole_swd(result: np.ndarray, truth: np.ndarray, hole: np.ndarray, *,
             levels: int = HOLE_LEVELS, patches: int = 8192, directions: int = 256,
             seed: int = 0) -> float:
    """Sliced Wasserstein distance ×10³ between the patches inside a filled hole and the truth's.

    Both images are decomposed into a Laplacian pyramid (``levels`` images: band-pass levels
    finest first, the low-pass last). At each level the hole is shrunk with it (a pixel is in
    the hole when half or more of what it covers is), and the 7×7 neighbourhoods centred on the
    hole's pixels are taken from the result and from the truth at the same positions (at most
    ``patches`` of them, the same for both). Each channel is normalised by the mean and
    standard deviation of both sets together, so lost contrast counts, and the distance
    between the two sets is the sliced Wasserstein distance. The score is the mean over the
    levels where the hole is still present.

    Parameters
    ----------
    result, truth : ndarray, float32 H×W×C (or H×W) in [0, 1]
        The filled image and the original, same shape; they may differ only inside ``hole``.
    hole : ndarray of bool, H×W
        The filled pixels.
    levels : int
        Laplacian levels (fewer when the image is small).
    patches : int
        Most neighbourhoods per level.
    directions : int
        Random projection directions (fixed by ``seed``).
    seed : int
        Seeds the subsampling of centres and the directions.

    Returns
    -------
    float
        0 when the fill equals the truth; lower is better. A blur scores high.

    Raises
    ------
    ValueError
        Mismatched shapes, an empty hole or an image smaller than a patch.
    """
    return float(np.mean(hole_swd_levels(result, truth, hole, levels=levels, patches=patches,
                                         directions=directions, seed=seed)))


class SeamError(NamedTuple):
    """Mean squared difference across the tiling seams and across interior lines.

    Attributes
    ----------
    seam : float
        Mean squared step across the wrap-around seams (last column → first column, last row →
        first row), i.e. across the seams of a 2×2 tiling.
    interior : float
        The same statistic across every line inside the image.
    spread : float
        Standard deviation of the per-line statistic among interior lines: the noise level
        against which ``seam - interior`` should be judged.
    """

    seam: float
    interior: float
    spread: float

    @property
    def ratio(self) -> float:
        """``seam / interior``: about 1 for a seamless tile, well above 1 where a seam shows."""
        return self.seam / self.interior if self.interior > 0 else float("inf") * self.seam

    @property
    def z(self) -> float:
        """``(seam - interior) / spread``: within about ±3 where no seam shows."""
        return (self.seam - self.interior) / self.spread if self.spread > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        """Plain dict for reports."""
        return {"seam": self.seam, "interior": self.interior, "spread": self.spread,
                "ratio": self.ratio, "z": self.z}


def seam_error(image: np.ndarray, tiles: int = 2) -> SeamError:
    """How visible the seams are when ``image`` is tiled ``tiles×tiles``.

    In the tiled image the seams are the lines where one copy ends and the next begins; the
    pixel pairs across them are (last column, first column) and (last row, first row). The
    statistic is the mean squared difference of such pairs over all channels, averaged over the
    vertical and the horizontal seam. ``interior`` is the same statistic for the pairs of
    neighbouring columns and rows inside one copy (each orientation weighted as for the seams).
    A seamless tile has ``seam ≈ interior`` within a few ``spread``.
    """
    if tiles < 2:
        raise ValueError("seam_error needs at least a 2×2 tiling")
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[0] < 3 or image.shape[1] < 3:
        raise ValueError("seam_error: the image must be at least 3×3 pixels")
    tiled = np.tile(image, (tiles, tiles, 1))
    h, w = image.shape[:2]
    # Mean squared step across each line of the tiling: columns, then rows.
    col_lines = (np.diff(tiled, axis=1) ** 2).mean(axis=(0, 2))  # W·t - 1 lines
    row_lines = (np.diff(tiled, axis=0) ** 2).mean(axis=(1, 2))  # H·t - 1 lines
    seam_v = float(col_lines[[k * w - 1 for k in range(1, tiles)]].mean())
    seam_h = float(row_lines[[k * h - 1 for k in range(1, tiles)]].mean())
    vertical = col_lines[:w - 1]
    horizontal = row_lines[:h - 1]
    # The seam statistic is (one vertical + one horizontal line) / 2, so its noise is that of
    # the same mean over one interior line of each orientation.
    spread = 0.5 * float(np.sqrt(vertical.var() + horizontal.var()))
    return SeamError(seam=0.5 * (seam_v + seam_h),
                     interior=0.5 * float(vertical.mean() + horizontal.mean()), spread=spread)
