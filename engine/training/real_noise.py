"""Real-camera and film noise for the denoiser's training mix (:mod:`engine.training.noise`).

White Gaussian noise is what the benchmarks use, but the noise of photos is neither white nor
the same in luma and chroma. Each function here returns a noise field (float32 ``H×W×3``, RGB,
to be added to the clean crop) drawn at random:

:func:`filtered`
    Independent luma and chroma levels in the orthonormal opponent space
    (:mod:`engine.ops.denoise.opponent`), each field white or filtered by its own random
    anisotropic Gaussian kernel (chroma up to 4 px, luma up to 2 px): the low-frequency colour
    blotches of night shots and of phone-camera noise reduction.
:func:`demosaic`
    Signal-dependent (shot + read) noise made on a Bayer mosaic of random phase, interpolated
    by a bilinear demosaic, then multiplied by a random colour-saturation matrix as a camera's
    colour correction does: noise that is correlated between neighbours and chroma-heavy.
:func:`grain`
    Film grain: one to three scales of blurred noise mixed, luma-dominant (chroma 0–35 % of
    luma), additive with a midtone-peaked amplitude or multiplicative.

:func:`smooth_field` is a smooth random gain (spatially varying noise levels) and
:func:`jpeg_roundtrip` the JPEG codec through OpenCV.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engine.ops.denoise.opponent import from_opponent

__all__ = ["demosaic", "filtered", "grain", "jpeg_roundtrip", "random_kernel", "smooth_field"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_KERNEL_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4.0
_KERNEL_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4.0


def random_kernel(rng: np.random.Generator, largest: float, smallest: float = 0.4
                  ) -> np.ndarray:
    """A random anisotropic Gaussian kernel, scaled so that it keeps unit white noise at unit
    standard deviation (``sum(k²) = 1``).

    Its major σ is uniform in ``[smallest, largest]`` px, the minor one 30–100 % of it, the
    orientation uniform.
    """
    major = float(rng.uniform(smallest, largest))
    minor = major * float(rng.uniform(0.3, 1.0))
    angle = float(rng.uniform(0.0, math.pi))
    radius = max(1, math.ceil(3.0 * major))
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    kernel = np.exp(-0.5 * ((u / major) ** 2 + (v / minor) ** 2))
    return (kernel / math.sqrt(float((kernel ** 2).sum()))).astype(np.float32)


def _filter(plane: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    if kernel is None:
        return plane
    return cv2.filter2D(plane, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)


def _unit(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth positive random gain ``H×W`` (float32, about 0.3–3, median about 1): a coarse
    normal grid of 2–5 cells a side, bicubically enlarged, exponentiated."""
    cells = int(rng.integers(2, 6))
    grid = rng.standard_normal((cells, cells)).astype(np.float32) * np.float32(
        rng.uniform(0.3, 0.9))
    big = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.exp(big), 0.3, 3.0).astype(np.float32)


def jpeg_roundtrip(image: np.ndarray, quality: int, gray: bool) -> np.ndarray:
    """``image`` (float ``H×W×3``) through 8-bit JPEG at ``quality`` and back to float32."""
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if gray:
        ok, data = cv2.imencode(".jpg", pixels[:, :, 0], params)
        decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)[:, :, None].repeat(3, axis=2)
    else:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(pixels[:, :, ::-1]), params)
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 array
        raise RuntimeError("JPEG encoding failed")
    return decoded.astype(np.float32) / np.float32(255.0)


def filtered(clean: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    """Independent luma and chroma noise, each white or through a random kernel.

    Luma σ is uniform in [0, 0.4·max_sigma], chroma σ in [0, ½·max_sigma] (after filtering);
    the luma field is white 40 % of the time, else filtered with a kernel of up to 2 px; the two
    chroma fields (C1, C2, one kernel) are white 25 % of the time, else up to 4 px.
    """
    shape = clean.shape[:2]
    luma = float(rng.uniform(0.0, 0.4 * max_sigma))
    chroma = float(rng.uniform(0.0, 0.5 * max_sigma))
    luma_kernel = None if rng.random() < 0.4 else random_kernel(rng, 2.0)
    chroma_kernel = None if rng.random() < 0.25 else random_kernel(rng, 4.0)
    planes = np.stack([_filter(_unit(shape, rng), luma_kernel) * np.float32(luma),
                       _filter(_unit(shape, rng), chroma_kernel) * np.float32(chroma),
                       _filter(_unit(shape, rng), chroma_kernel) * np.float32(chroma)], axis=2)
    return from_opponent(planes)


def demosaic(clean: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    """Shot + read noise on a Bayer mosaic, bilinearly demosaicked, colour-corrected.

    The noise σ of a site is ``sqrt(a·x + b)`` for the clean value ``x`` of its colour, scaled
    so that mid-grey has σ uniform in [2/255, 0.6·max_sigma] before the demosaic; the colour
    matrix ``(1+s)·I − s/3`` (s uniform in [0, 1]) then amplifies the chroma part by ``1 + s``.
    """
    h, w = clean.shape[:2]
    dy, dx = int(rng.integers(2)), int(rng.integers(2))
    y, x = np.mgrid[0:h, 0:w]
    row, col = (y + dy) % 2, (x + dx) % 2
    site = np.where((row == 0) & (col == 0), 0, np.where((row == 1) & (col == 1), 2, 1))
    mid = float(rng.uniform(2.0 / 255.0, max(0.6 * max_sigma, 3.0 / 255.0)))
    shot = float(rng.uniform(0.0, 1.0))  # share of the variance at mid-grey that is shot noise
    value = np.take_along_axis(np.clip(clean, 0.0, 1.0), site[:, :, None], axis=2)[:, :, 0]
    std = mid * np.sqrt(shot * value / 0.5 + (1.0 - shot))
    mosaic = _unit((h, w), rng) * std.astype(np.float32)
    noise = np.empty((h, w, 3), np.float32)
    for channel, kernel in ((0, _KERNEL_RB), (1, _KERNEL_G), (2, _KERNEL_RB)):
        sparse = np.where(site == channel, mosaic, 0.0).astype(np.float32)
        noise[:, :, channel] = cv2.filter2D(sparse, cv2.CV_32F, kernel,
                                            borderType=cv2.BORDER_REFLECT)
    saturation = float(rng.uniform(0.0, 1.0))
    matrix = (1.0 + saturation) * np.eye(3, dtype=np.float32) - saturation / 3.0
    return (noise @ matrix.T).astype(np.float32)


def _multiscale(shape: tuple[int, int], rng: np.random.Generator, scales: np.ndarray,
                weights: np.ndarray) -> np.ndarray:
    """A unit-variance mix of independent noise fields blurred at each of ``scales`` px."""
    field = np.zeros(shape, np.float32)
    for scale, weight in zip(scales, weights, strict=True):
        blurred = cv2.GaussianBlur(_unit(shape, rng), (0, 0), float(scale),
                                   borderType=cv2.BORDER_REFLECT)
        field += np.float32(weight) * blurred / np.float32(max(float(blurred.std()), 1e-6))
    return field / np.float32(math.sqrt(float((weights ** 2).sum())))


def grain(clean: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    """Film grain: 1–3 scales (blur 0.3–2.5 px) mixed, luma-dominant.

    σ is uniform in [2/255, ½·max_sigma]; chroma grain is an independent field 0–35 % as
    strong. Additive (60 %) with an amplitude peaking in the midtones (``0.4 + 2.4·L(1−L)``)
    or multiplicative (the clean value times the grain).
    """
    shape = clean.shape[:2]
    count = int(rng.integers(1, 4))
    scales = rng.uniform(0.3, 2.5, size=count)
    weights = rng.dirichlet(np.ones(count))
    sigma = float(rng.uniform(2.0 / 255.0, max(0.5 * max_sigma, 3.0 / 255.0)))
    chroma = float(rng.uniform(0.0, 0.35))
    planes = np.stack([_multiscale(shape, rng, scales, weights),
                       chroma * _multiscale(shape, rng, scales, weights),
                       chroma * _multiscale(shape, rng, scales, weights)], axis=2)
    noise = from_opponent(planes * np.float32(sigma))
    luma = np.clip(clean, 0.0, 1.0) @ _LUMA
    if rng.random() < 0.6:
        gain = 0.4 + 2.4 * luma * (1.0 - luma)
        return (noise * gain[:, :, None]).astype(np.float32)
    return (noise * np.clip(clean, 0.0, 1.0) * np.float32(1.6)).astype(np.float32)
