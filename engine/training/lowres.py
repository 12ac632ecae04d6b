"""Low-resolution inputs for the upscaler's training: the standard bicubic ones and realistic ones.

A training pair is a high-resolution crop and the small image made from it. Most pairs are made as
the benchmarks make theirs (:func:`engine.core.resample.bicubic_downscale`), so the network learns
the exact inverse it is measured on. The rest go through what happens to real small photos
before they reach a person: optical or motion-free defocus blur before the shrink, another
shrinking filter (area, bilinear), sensor noise after it, and JPEG compression, each drawn at
random (the second-order degradations of Real-ESRGAN, Wang et al. 2021, in a light form). Taught
on both, the network does not sharpen JPEG blocks and noise into false detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.core.resample import bicubic_downscale

__all__ = ["LowresSpec", "degrade", "degrade_batch"]


@dataclass(frozen=True)
class LowresSpec:
    """How often and how strongly a training input is degraded beyond the bicubic shrink.

    Attributes
    ----------
    realistic_share : float
        Share of pairs made with the realistic chain instead of plain bicubic.
    blur_sigma : (float, float)
        Range of the Gaussian blur (in low-resolution pixels) applied before shrinking.
    noise_sigma : (float, float)
        Range of the Gaussian noise σ (8-bit units) added after shrinking (to half the
        realistic pairs; a third of those grey, like luma noise).
    jpeg_quality : (int, int)
        Range of the JPEG quality (to half the realistic pairs).
    """

    realistic_share: float = 0.3
    blur_sigma: tuple[float, float] = (0.2, 1.0)
    noise_sigma: tuple[float, float] = (1.0, 8.0)
    jpeg_quality: tuple[int, int] = (55, 95)


def _shrink(image: np.ndarray, factor: int, rng: np.random.Generator) -> np.ndarray:
    kind = int(rng.integers(3))
    if kind == 0:
        return bicubic_downscale(image, factor)
    h, w = image.shape[:2]
    if kind == 1:
        return cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    # bilinear after a light low-pass (what a viewer's "fast" resize does)
    soft = cv2.GaussianBlur(image, (0, 0), 0.35 * factor)
    return cv2.resize(soft, (w // factor, h // factor), interpolation=cv2.INTER_LINEAR)


def degrade(image: np.ndarray, factor: int, rng: np.random.Generator,
            spec: LowresSpec = LowresSpec()) -> np.ndarray:
    """The low-resolution input of one high-resolution float32 ``H×W×3`` crop.

    Parameters
    ----------
    image : ndarray, float32 H×W×3 in [0, 1]
        Height and width multiples of ``factor``.
    factor : int
        The shrink factor.
    rng : numpy.random.Generator
        The only source of randomness.
    spec : LowresSpec
        The degradation mix.

    Returns
    -------
    ndarray, float32 (H/factor)×(W/factor)×3, in [0, 1]
    """
    if rng.random() >= spec.realistic_share:
        return np.clip(bicubic_downscale(image, factor), 0.0, 1.0)
    sigma = rng.uniform(*spec.blur_sigma) * factor
    source = cv2.GaussianBlur(image, (0, 0), sigma) if rng.random() < 0.6 else image
    small = np.clip(_shrink(np.ascontiguousarray(source), factor, rng), 0.0, 1.0)
    if rng.random() < 0.5:
        level = rng.uniform(*spec.noise_sigma) / 255.0
        shape = (*small.shape[:2], 1) if rng.random() < 1 / 3 else small.shape
        small = np.clip(small + rng.standard_normal(shape).astype(np.float32) * level, 0, 1)
    if rng.random() < 0.5:
        quality = int(rng.integers(spec.jpeg_quality[0], spec.jpeg_quality[1] + 1))
        bgr = np.round(small[..., ::-1] * 255.0).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            small = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(small, dtype=np.float32)


def degrade_batch(crops: list[np.ndarray], factor: int, rng: np.random.Generator,
                  spec: LowresSpec = LowresSpec()) -> tuple[np.ndarray, np.ndarray]:
    """``(high, low)`` batches, ``N×H×W×3`` and ``N×(H/f)×(W/f)×3`` float32, from ``crops``."""
    high = np.stack(crops).astype(np.float32)
    low = np.stack([degrade(c, factor, rng, spec) for c in crops])
    return high, low
