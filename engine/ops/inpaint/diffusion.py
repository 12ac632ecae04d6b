"""OpenCV's diffusion inpainting (Telea, Navier–Stokes) at full float precision.

``cv2.inpaint`` takes 8-bit 1- or 3-channel images, and 16-bit or float32 images only with one
channel. Its Telea code is not scale-invariant on float input (on a 0–1 scale it returns
garbage; its error shrinks as the scale grows), so each channel is handed over separately as
float32 on a 0–65535 scale: 16-bit sources keep their precision, and Telea is as accurate as
OpenCV's own 16-bit path. The channels run side by side (OpenCV releases the GIL): a 1 MP
photo with a 25 % hole takes 0.65 s one after the other.

Used by the ``telea`` and ``ns`` inpaint methods and, as the starting point the network
refines, by the learned method and its training recipe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

__all__ = ["TELEA", "NAVIER_STOKES", "diffusion_fill", "telea_fill"]

TELEA = cv2.INPAINT_TELEA
NAVIER_STOKES = cv2.INPAINT_NS
_SCALE = np.float32(65535.0)


def diffusion_fill(image: np.ndarray, hole: np.ndarray, radius: float = 5.0,
                   flag: int = TELEA) -> np.ndarray:
    """Fill ``hole`` of ``image`` by OpenCV diffusion.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        Values in [0, 1]; not modified.
    hole : ndarray of bool, H×W
        True = fill.
    radius : float
        Neighbourhood considered around each filled pixel (px).
    flag : int
        :data:`TELEA` (fast marching) or :data:`NAVIER_STOKES`.

    Returns
    -------
    ndarray, float32 H×W×C
        ``image`` with the hole filled, clipped to [0, 1]; outside the hole the values equal
        the input's to float32 rounding.
    """
    hole8 = np.ascontiguousarray(hole, dtype=np.uint8)
    out = np.empty(image.shape, dtype=np.float32)

    def fill(channel: int) -> None:
        plane = np.ascontiguousarray(image[:, :, channel], dtype=np.float32) * _SCALE
        out[:, :, channel] = cv2.inpaint(plane, hole8, float(radius), flag) / _SCALE

    channels = image.shape[2]
    if channels == 1:
        fill(0)
    else:
        with ThreadPoolExecutor(max_workers=channels) as pool:
            list(pool.map(fill, range(channels)))
    return np.clip(out, 0.0, 1.0, out=out)


def telea_fill(image: np.ndarray, hole: np.ndarray, radius: float = 5.0) -> np.ndarray:
    """:func:`diffusion_fill` with Telea's fast-marching method."""
    return diffusion_fill(image, hole, radius, TELEA)
