"""The luma/chroma split the denoiser's two-channel noise map is measured in.

An orthonormal opponent transform of RGB::

    Y  = (R + G + B) / √3
    C1 = (R − B) / √2
    C2 = (R − 2G + B) / √6

Being orthonormal, it maps i.i.d. noise of σ per RGB channel to i.i.d. noise of σ in each of
Y, C1 and C2, so white noise has luma σ = chroma σ = σ, the convention under which the v2
network's two map channels reduce to the v1 network's one. Noise that is the same in the three
channels (a grey image's) has luma σ = √3 × its per-channel σ and chroma σ = 0; chroma σ is the
root mean square of the C1 and C2 figures.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OPPONENT", "from_opponent", "luma_chroma_std", "rgb_sigma", "to_opponent"]

OPPONENT = np.array([[1.0, 1.0, 1.0],
                     [1.0, 0.0, -1.0],
                     [1.0, -2.0, 1.0]], dtype=np.float64) / np.array(
    [[math.sqrt(3.0)], [math.sqrt(2.0)], [math.sqrt(6.0)]])
"""Rows Y, C1, C2 of the orthonormal opponent transform (``OPPONENT @ OPPONENT.T = I``)."""


def to_opponent(image: np.ndarray) -> np.ndarray:
    """``H×W×3`` RGB as ``H×W×3`` (Y, C1, C2), float32."""
    return (np.asarray(image, dtype=np.float32) @ OPPONENT.T.astype(np.float32)).astype(
        np.float32, copy=False)


def from_opponent(planes: np.ndarray) -> np.ndarray:
    """``H×W×3`` (Y, C1, C2) back to RGB, float32 (the transpose is the inverse)."""
    return (np.asarray(planes, dtype=np.float32) @ OPPONENT.astype(np.float32)).astype(
        np.float32, copy=False)


def luma_chroma_std(noise: np.ndarray) -> tuple[float, float]:
    """Standard deviations (luma, chroma) of an ``H×W×3`` noise field, in its own units.

    Chroma is the root mean square of the C1 and C2 deviations.
    """
    planes = to_opponent(noise).reshape(-1, 3).astype(np.float64)
    variance = planes.var(axis=0)
    return float(math.sqrt(variance[0])), float(math.sqrt(0.5 * (variance[1] + variance[2])))


def rgb_sigma(luma: float, chroma: float) -> float:
    """The per-RGB-channel σ with the same total energy: ``sqrt((luma² + 2·chroma²) / 3)``
    (what a one-channel map, v1's, is given)."""
    return math.sqrt((luma * luma + 2.0 * chroma * chroma) / 3.0)
