"""Downscaling as the super-resolution literature does it: bicubic with antialiasing.

MATLAB's ``imresize(x, 1/s, 'bicubic')`` (Keys' cubic, a = −0.5, stretched ``s`` times when
shrinking so that it also low-passes; symmetric edges) is how the low-resolution inputs of every
published SR benchmark were made. OpenCV's ``INTER_CUBIC`` does not stretch the kernel, so it
aliases, and ``INTER_AREA`` is a box filter; neither gives the standard inputs. The weights are a
dense matrix per axis (out × in), applied as two matrix products.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["bicubic_downscale", "cubic", "enlarge", "modcrop", "resize_matrix", "resize_plane"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = −0.5 (MATLAB's and PIL's bicubic)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    near = (1.5 * a - 2.5) * a * a + 1.0
    far = ((-0.5 * a + 2.5) * a - 4.0) * a + 2.0
    return np.where(a <= 1.0, near, np.where(a < 2.0, far, 0.0))


def resize_matrix(length: int, out_length: int) -> np.ndarray:
    """The ``out_length × length`` float32 matrix of an antialiased bicubic resampling.

    Pixel centres are aligned (output ``i`` sits at input ``(i + 0.5)·length/out_length − 0.5``);
    taps falling outside the line are mirrored back in (symmetric edges), and each row sums to 1.
    """
    if length < 1 or out_length < 1:
        raise ValueError("lengths must be positive")
    scale = out_length / length
    stretch = min(scale, 1.0)  # shrinking widens the kernel by 1/scale
    width = 4.0 / stretch
    centres = (np.arange(out_length) + 0.5) / scale - 0.5
    left = np.floor(centres - width / 2.0).astype(np.int64)
    taps = int(np.ceil(width)) + 2
    index = left[:, None] + np.arange(taps)[None, :]
    weights = stretch * cubic(stretch * (centres[:, None] - index))
    period = 2 * length
    mirrored = np.mod(index, period)
    mirrored = np.where(mirrored >= length, period - 1 - mirrored, mirrored)
    matrix = np.zeros((out_length, length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), taps)
    np.add.at(matrix, (rows, mirrored.ravel()), weights.ravel())
    matrix /= matrix.sum(axis=1, keepdims=True)
    return matrix.astype(np.float32)


def bicubic_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink a float ``H×W×C`` image ``factor`` times, as MATLAB's antialiased bicubic does.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        Height and width must be multiples of ``factor`` (see :func:`modcrop`).
    factor : int
        The integer shrink factor (at least 1).

    Returns
    -------
    ndarray, float32 (H/factor)×(W/factor)×C
        Not clipped: the kernel's negative lobes can overshoot [0, 1] slightly.

    Raises
    ------
    ValueError
        The factor is not a positive integer or the size is not a multiple of it.
    """
    factor = int(factor)
    h, w = image.shape[:2]
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"a {w}×{h} image cannot be shrunk {factor} times exactly; "
                         f"crop it to a multiple of {factor} first")
    if factor == 1:
        return image.astype(np.float32, copy=True)
    rows = resize_matrix(h, h // factor)
    cols = resize_matrix(w, w // factor)
    pixels = image.astype(np.float32).reshape(h, w, -1)
    shrunk = np.tensordot(rows, pixels, axes=(1, 0))          # h' × W × C
    shrunk = np.tensordot(shrunk, cols, axes=(1, 1))          # h' × C × w'
    return np.ascontiguousarray(shrunk.transpose(0, 2, 1)).reshape(
        h // factor, w // factor, *image.shape[2:])


def modcrop(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` cropped (bottom and right) to a height and width that are multiples of
    ``factor``, as SR benchmarks crop their ground truth."""
    h, w = image.shape[:2]
    return image[:h - h % factor, :w - w % factor]


def enlarge(image: np.ndarray, scale: int, method: str = "bicubic") -> np.ndarray:
    """A float ``H×W×C`` image ``scale`` times larger by classical interpolation.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
    scale : int
        The enlargement factor.
    method : {"bicubic", "lanczos"}
        OpenCV's bicubic (a = −0.75) or Lanczos over 8×8 pixels.

    Returns
    -------
    ndarray, float32 (scale·H)×(scale·W)×C, clipped to [0, 1]
    """
    flags = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
    if method not in flags:
        raise ValueError(f"unknown interpolation {method!r}; use one of {sorted(flags)}")
    h, w = image.shape[:2]
    big = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (w * scale, h * scale),
                     interpolation=flags[method])
    big = big.reshape(h * scale, w * scale, *image.shape[2:])
    return np.clip(big, 0.0, 1.0, out=big)


def resize_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An ``H×W`` or ``H×W×1`` plane (alpha, a mask's weights) resampled to ``size`` = (h, w)
    with Lanczos, in its own dtype and clipped to its range; the result is ``h×w×1``."""
    h, w = size
    flat = plane.reshape(plane.shape[0], plane.shape[1])
    out = cv2.resize(flat.astype(np.float32), (w, h), interpolation=cv2.INTER_LANCZOS4)
    if np.issubdtype(plane.dtype, np.integer):
        info = np.iinfo(plane.dtype)
        np.clip(np.rint(out, out=out), info.min, info.max, out=out)
    else:
        np.clip(out, 0.0, 1.0, out=out)
    return out.astype(plane.dtype, copy=False).reshape(h, w, 1)
