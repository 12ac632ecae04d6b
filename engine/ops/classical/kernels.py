"""Blur kernels (Gaussian, motion, disk) and blurring with them, for deconvolution."""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["KERNELS", "blur", "make_kernel"]

KERNELS = ("gaussian", "motion", "disk")
"""Kernel shapes :func:`make_kernel` knows."""


def _gaussian_kernel(sigma: float) -> np.ndarray:
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    half = max(1, math.ceil(3.0 * sigma))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return np.outer(g, g)


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    """A one-pixel-wide bar ``length`` pixels long, anti-aliased by 16× supersampling."""
    if length < 1:
        raise ValueError(f"motion length must be at least 1 pixel, got {length}")
    theta = math.radians(angle)
    # Image rows grow downwards, so a positive angle (counter-clockwise) goes up and right.
    cos, sin = math.cos(theta), -math.sin(theta)
    cos = 0.0 if abs(cos) < 1e-9 else cos
    sin = 0.0 if abs(sin) < 1e-9 else sin
    reach = max(abs(cos) * length / 2 + abs(sin) / 2, abs(sin) * length / 2 + abs(cos) / 2)
    half = max(1, math.ceil(reach - 0.5))
    size = 2 * half + 1
    sub = 16
    axis = (np.arange(size * sub) + 0.5) / sub - half - 0.5
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    along = xx * cos + yy * sin
    across = -xx * sin + yy * cos
    inside = (np.abs(along) <= length / 2) & (np.abs(across) <= 0.5)
    return inside.reshape(size, sub, size, sub).mean(axis=(1, 3), dtype=np.float64)


def _disk_kernel(radius: float) -> np.ndarray:
    """A uniform disk (out-of-focus blur) with its edge anti-aliased by 8× supersampling."""
    if radius <= 0:
        raise ValueError(f"disk radius must be positive, got {radius}")
    half = max(1, math.ceil(radius))
    sub = 8
    axis = (np.arange((2 * half + 1) * sub) + 0.5) / sub - half - 0.5
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    inside = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    size = 2 * half + 1
    return inside.reshape(size, sub, size, sub).mean(axis=(1, 3))


def make_kernel(kind: str, *, sigma: float = 2.0, length: float = 9.0, angle: float = 0.0,
                radius: float = 3.0) -> np.ndarray:
    """A normalised blur kernel of odd size.

    Parameters
    ----------
    kind : {"gaussian", "motion", "disk"}
        ``gaussian``: soft focus or atmospheric blur; ``motion``: camera shake along a line;
        ``disk``: an out-of-focus lens.
    sigma : float
        Standard deviation of the Gaussian, in pixels.
    length : float
        Length of the motion streak, in pixels.
    angle : float
        Direction of the motion in degrees, counter-clockwise from horizontal (0 = left–right).
    radius : float
        Radius of the disk, in pixels.

    Returns
    -------
    ndarray of float32, shape (k, k)
        Non-negative weights summing to 1, ``k`` odd, centred on the middle pixel.
    """
    if kind == "gaussian":
        kernel = _gaussian_kernel(sigma)
    elif kind == "motion":
        kernel = _motion_kernel(length, angle)
    elif kind == "disk":
        kernel = _disk_kernel(radius)
    else:
        raise ValueError(f"unknown kernel {kind!r}; use one of: {', '.join(KERNELS)}")
    return (kernel / kernel.sum()).astype(np.float32)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve ``image`` (H×W or H×W×C float32) with ``kernel``, reflecting at the borders."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    out = cv2.filter2D(np.ascontiguousarray(image, dtype=np.float32), -1, flipped,
                       borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


# ---------------------------------------------------------------------------------------------
# Fourier-domain helpers
