"""Resampling of periodic (tileable) images that keeps them periodic."""

from __future__ import annotations

import numpy as np

__all__ = ["periodic_resize"]


def periodic_resize(image: np.ndarray, height: int, width: int, chunk: int = 256) -> np.ndarray:
    """Resample a periodic image to ``height×width`` by Fourier interpolation.

    Truncating (or zero-padding) the spectrum along each axis is exact band-limited
    interpolation of a periodic signal: the result is periodic with the new size and equally
    sharp at every position, so the wrap-around is no different from any other pixel step
    (linear interpolation would blur some positions more than others). Works in strips of
    ``chunk`` lines to bound memory.
    """
    out = np.ascontiguousarray(image, dtype=np.float32)
    for axis, size in ((1, width), (0, height)):
        if out.shape[axis] == size:
            continue
        old = out.shape[axis]
        shape = list(out.shape)
        shape[axis] = size
        resized = np.empty(shape, dtype=np.float32)
        other = out.shape[1 - axis]
        bins = min(old, size) // 2 + 1
        for start in range(0, other, chunk):
            part = out[start:start + chunk] if axis == 1 else out[:, start:start + chunk]
            spectrum = np.fft.rfft(part, axis=axis)
            index = [slice(None)] * 3
            index[axis] = slice(0, bins)
            spectrum = spectrum[tuple(index)]
            if size < old and size % 2 == 0:
                # The new Nyquist bin stands for both signs of that frequency: keep its real
                # part only once, as a real signal of even length has it.
                index[axis] = bins - 1
                spectrum[tuple(index)] = spectrum[tuple(index)].real
            values = np.fft.irfft(spectrum, n=size, axis=axis) * (size / old)
            if axis == 1:
                resized[start:start + chunk] = values
            else:
                resized[:, start:start + chunk] = values
        out = resized
    return out
