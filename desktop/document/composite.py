"""Flatten a layer stack: "over" compositing with opacity and alpha, in float32.

Hidden layers and layers at opacity 0 are skipped. Gray and RGB layers mix: the result is RGB
when any visible layer is RGB. The result is opaque (alpha None) exactly when some visible layer
without an alpha channel sits at full opacity; everything below the topmost such layer is then
skipped, which also makes the common one-opaque-layer case exact and cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from desktop.document.layer import Layer
from engine.core.pixels import from_float, join_alpha

__all__ = ["flatten", "flatten_pixels", "result_has_alpha", "result_channels"]

_BAND = 256  # rows per band when flattening a whole canvas into integer pixels


def _visible(layers: Sequence[Layer]) -> list[Layer]:
    return [layer for layer in layers if layer.visible and layer.opacity > 0.0]


def result_channels(layers: Sequence[Layer]) -> int:
    """Colour channels of the flattened result: 3 if any visible layer is RGB, else 1.

    With no visible layer, 3 if any layer at all is RGB.
    """
    pool = _visible(layers) or list(layers)
    return 3 if any(layer.channels == 3 for layer in pool) else 1


def _opaque_start(visible: Sequence[Layer]) -> int | None:
    for i in range(len(visible) - 1, -1, -1):
        if not visible[i].has_alpha and visible[i].opacity >= 1.0:
            return i
    return None


def result_has_alpha(layers: Sequence[Layer]) -> bool:
    """True when :func:`flatten` returns an alpha plane for this stack."""
    visible = _visible(layers)
    if len(visible) == 1 and visible[0].opacity >= 1.0:
        return visible[0].has_alpha
    return _opaque_start(visible) is None


def _colour(layer: Layer, rows: slice, cols: slice, channels: int) -> np.ndarray:
    colour = layer.colour_float(rows, cols)
    if colour.shape[2] != channels:
        colour = np.repeat(colour, channels, axis=2)
    return colour


def flatten(layers: Sequence[Layer], rows: slice = slice(None),
            cols: slice = slice(None)) -> tuple[np.ndarray, np.ndarray | None]:
    """Composite ``layers`` (bottom → top) over a transparent canvas.

    Parameters
    ----------
    layers : sequence of Layer
        Bottom first, all the same size.
    rows, cols : slice
        The region to compute.

    Returns
    -------
    colour : ndarray
        float32 ``h×w×C`` in [0, 1] (C = 1 or 3), straight (not premultiplied).
    alpha : ndarray or None
        float32 ``h×w×1`` in [0, 1], or None when the result is opaque by construction.
    """
    if not layers:
        raise ValueError("nothing to flatten: the document has no layers")
    channels = result_channels(layers)
    visible = _visible(layers)
    h, w = layers[0].pixels[rows, cols].shape[:2]
    if not visible:
        return np.zeros((h, w, channels), np.float32), np.zeros((h, w, 1), np.float32)
    if len(visible) == 1 and visible[0].opacity >= 1.0:
        # One layer shown as it is: exact, and keeps colour under transparent pixels.
        return _colour(visible[0], rows, cols, channels), visible[0].alpha_float(rows, cols)

    start = _opaque_start(visible)
    if start is not None:
        colour = _colour(visible[start], rows, cols, channels)
        for layer in visible[start + 1:]:
            weight = _weight(layer, rows, cols)
            colour += (_colour(layer, rows, cols, channels) - colour) * weight
        return np.clip(colour, 0.0, 1.0, out=colour), None

    premultiplied = np.zeros((h, w, channels), np.float32)
    alpha = np.zeros((h, w, 1), np.float32)
    for layer in visible:
        weight = _weight(layer, rows, cols)
        keep = 1.0 - weight
        premultiplied *= keep
        premultiplied += _colour(layer, rows, cols, channels) * weight
        alpha *= keep
        alpha += weight
    colour = np.divide(premultiplied, alpha, out=np.zeros_like(premultiplied), where=alpha > 0)
    return np.clip(colour, 0.0, 1.0, out=colour), np.clip(alpha, 0.0, 1.0, out=alpha)


def _weight(layer: Layer, rows: slice, cols: slice) -> np.ndarray | np.float32:
    alpha = layer.alpha_float(rows, cols)
    opacity = np.float32(layer.opacity)
    if alpha is None:
        return opacity
    return alpha * opacity if opacity < 1.0 else alpha


def flatten_pixels(layers: Sequence[Layer], dtype: np.dtype | type = np.uint8,
                   rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """Flatten to integer pixels (alpha appended when the result has one), band by band.

    Parameters
    ----------
    layers : sequence of Layer
        Bottom first.
    dtype : uint8 or uint16
        Depth of the result.
    rows, cols : slice
        The region.

    Returns
    -------
    ndarray
        ``h×w×C`` with C in 1, 3, 4 (gray with alpha is promoted to RGBA).
    """
    if not layers:
        raise ValueError("nothing to flatten: the document has no layers")
    height = len(range(*rows.indices(layers[0].height)))
    top = rows.indices(layers[0].height)[0]
    channels = result_channels(layers)
    alpha = result_has_alpha(layers)
    if alpha and channels == 1:
        channels = 3  # our layers are gray, RGB or RGBA: gray with alpha becomes RGBA
    width = len(range(*cols.indices(layers[0].width)))
    out = np.empty((height, width, channels + int(alpha)), np.dtype(dtype))
    for start in range(0, height, _BAND):
        band = slice(top + start, top + min(start + _BAND, height))
        colour, plane = flatten(layers, band, cols)
        if colour.shape[2] != channels:
            colour = np.repeat(colour, channels, axis=2)
        out[start:start + _BAND] = join_alpha(from_float(colour, dtype),
                                              None if plane is None else from_float(plane, dtype))
    return out
