"""Impulse (salt-and-pepper) noise: detection and repair with the adaptive median filter.

The adaptive median filter (Gonzalez & Woods, *Digital Image Processing*, §5.3) grows a window
from 3×3 up to ``max_size`` until the window's median is not one of its extremes, and replaces the
centre pixel by that median only if the centre itself is an extreme of the window. This module
adds two guards that make it safe on real photographs:

* the centre must differ from the window median by more than ``threshold`` (a pixel at a smooth
  local minimum is not noise), and
* with ``extremes_only`` the centre must lie within ``tolerance`` of black or white, as salt and
  pepper does (0 and 255 in an 8-bit file).

Everything else is left bit-identical. The work is vectorised: dense 3×3 and ``max_size`` minimum
and maximum filters (``cv2.erode``/``cv2.dilate``) rule out almost every pixel, and the few
candidates left are resolved by gathering their windows and sorting them, one window size at a
time. A 12-megapixel photograph takes about a second.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["detect_impulses", "repair_impulses"]

# Upper bound on the number of gathered window values held at once (about 32 MB of float32).
_CHUNK_VALUES = 8_000_000


def _check(image: np.ndarray, max_size: int, threshold: float, tolerance: float) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype != np.float32:
        raise ValueError("image must be a float32 H×W×C array in [0, 1]")
    if max_size < 3 or max_size % 2 == 0:
        raise ValueError(f"max_size must be an odd number of at least 3, got {max_size}")
    if threshold < 0:
        raise ValueError(f"threshold must be non-negative, got {threshold}")
    if not 0 <= tolerance <= 1:
        raise ValueError(f"tolerance must be within [0, 1], got {tolerance}")


def _interior_median(values: np.ndarray) -> np.ndarray:
    """Median of each sorted row's values strictly between its minimum and maximum.

    Rows with no such value fall back to their plain median.
    """
    n = values.shape[1]
    low = (values == values[:, :1]).sum(axis=1)
    high = (values == values[:, -1:]).sum(axis=1)
    inner = n - low - high
    index = np.where(inner > 0, low + np.maximum(inner - 1, 0) // 2, n // 2)
    return np.take_along_axis(values, index[:, None], axis=1)[:, 0]


def _resolve_candidates(padded: np.ndarray, ys: np.ndarray, xs: np.ndarray, max_size: int,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the adaptive window growth for the candidate pixels at ``(ys, xs)``.

    Returns, per candidate, the window's minimum, median and maximum at the size where the
    median stopped being an extreme (or at ``max_size``), and the value to write if the pixel
    turns out to be an impulse.
    """
    pad = max_size // 2
    flat = padded.ravel()
    stride = padded.shape[1]
    base = (ys + pad) * stride + (xs + pad)
    count = ys.size
    zmin = np.empty(count, np.float32)
    zmed = np.empty(count, np.float32)
    zmax = np.empty(count, np.float32)
    fill = np.empty(count, np.float32)
    pending = np.arange(count)
    for size in range(3, max_size + 1, 2):
        if pending.size == 0:
            break
        half = size // 2
        dy, dx = np.mgrid[-half:half + 1, -half:half + 1]
        offsets = (dy * stride + dx).ravel()
        last = size == max_size
        still: list[np.ndarray] = []
        step = max(1, _CHUNK_VALUES // (size * size))
        for start in range(0, pending.size, step):
            idx = pending[start:start + step]
            values = flat[base[idx, None] + offsets]
            values.sort(axis=1)
            lo, med, hi = values[:, 0], values[:, size * size // 2], values[:, -1]
            settled = (lo < med) & (med < hi)
            zmin[idx[settled]] = lo[settled]
            zmed[idx[settled]] = med[settled]
            zmax[idx[settled]] = hi[settled]
            fill[idx[settled]] = med[settled]
            if last:
                # No window up to max_size had a non-extreme median (dense noise or a flat
                # area): decide at max_size and repair from the values that are not extremes.
                rest = ~settled
                zmin[idx[rest]] = lo[rest]
                zmed[idx[rest]] = med[rest]
                zmax[idx[rest]] = hi[rest]
                fill[idx[rest]] = _interior_median(values[rest])
            else:
                still.append(idx[~settled])
        pending = np.concatenate(still) if still else np.empty(0, np.intp)
    return zmin, zmed, zmax, fill


def _channel_impulses(channel: np.ndarray, max_size: int, threshold: float, extremes_only: bool,
                      tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Impulse positions ``(ys, xs)`` in one channel and their repaired values."""
    pad = max_size // 2
    padded = np.pad(channel, pad, mode="reflect")
    box3 = np.ones((3, 3), np.uint8)
    boxn = np.ones((max_size, max_size), np.uint8)
    inner = (slice(pad, pad + channel.shape[0]), slice(pad, pad + channel.shape[1]))
    min3 = cv2.erode(padded, box3)[inner]
    max3 = cv2.dilate(padded, box3)[inner]
    minn = cv2.erode(padded, boxn)[inner]
    maxn = cv2.dilate(padded, boxn)[inner]
    # Necessary conditions: an impulse is an extreme of its 3×3 window (hence of every larger
    # one), and some value within max_size must differ from it by more than the threshold.
    candidate = (channel == min3) | (channel == max3)
    candidate &= (maxn - channel > threshold) | (channel - minn > threshold)
    if extremes_only:
        candidate &= (channel <= tolerance) | (channel >= 1.0 - tolerance)
    ys, xs = np.nonzero(candidate)
    empty = np.empty(0, np.intp)
    if ys.size == 0:
        return empty, empty, np.empty(0, np.float32)
    zmin, zmed, zmax, fill = _resolve_candidates(padded, ys, xs, max_size)
    centre = channel[ys, xs]
    impulse = ((centre == zmin) | (centre == zmax)) & (np.abs(centre - zmed) > threshold)
    return ys[impulse], xs[impulse], fill[impulse]


def repair_impulses(image: np.ndarray, *, max_size: int = 7, threshold: float = 0.1,
                    extremes_only: bool = True, tolerance: float = 0.02,
                    progress: Progress | None = None, cancel: CancelToken | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Find impulse pixels and replace only those by their adaptive median.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        Pixels in [0, 1]; not modified.
    max_size : int
        Largest (odd) window the filter may grow to.
    threshold : float
        How far (in [0, 1] units) a pixel must differ from its window median to count as noise.
    extremes_only : bool
        Only pixels within ``tolerance`` of black or white can be impulses (salt and pepper).
    tolerance : float
        Distance from 0 or 1 that still counts as black or white when ``extremes_only`` is set.
    progress, cancel
        Progress callback and cancel token, checked once per channel.

    Returns
    -------
    repaired : ndarray of float32, shape (H, W, C)
        A copy of ``image`` with the impulses replaced; every other value is bit-identical.
    impulses : ndarray of bool, shape (H, W, C)
        True where a channel value was found to be an impulse and replaced.
    """
    _check(image, max_size, threshold, tolerance)
    progress = progress or null_progress
    repaired = image.copy()
    impulses = np.zeros(image.shape, bool)
    channels = image.shape[2]
    for c in range(channels):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(c / channels, "looking for impulse noise")
        channel = np.ascontiguousarray(image[:, :, c])
        ys, xs, values = _channel_impulses(channel, max_size, threshold, extremes_only, tolerance)
        repaired[ys, xs, c] = values
        impulses[ys, xs, c] = True
    progress(1.0, "impulses repaired")
    return repaired, impulses


def detect_impulses(image: np.ndarray, *, max_size: int = 7, threshold: float = 0.1,
                    extremes_only: bool = True, tolerance: float = 0.02,
                    cancel: CancelToken | None = None) -> np.ndarray:
    """Where an image has impulse (salt-and-pepper) noise, as a mask.

    Parameters are those of :func:`repair_impulses`.

    Returns
    -------
    ndarray of bool, shape (H, W)
        True where any channel of the pixel is an impulse.
    """
    _, impulses = repair_impulses(image, max_size=max_size, threshold=threshold,
                                  extremes_only=extremes_only, tolerance=tolerance, cancel=cancel)
    return impulses.any(axis=2)
