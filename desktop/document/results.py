"""Layers made from engine images: an op's result over its source layer, or an image of its own.

An op returns float32 pixels; a layer stores the source's bit depth. :func:`result_layer` blends
the result into a copy of its source through what confined the op (a hard or soft mask), so the
pixels outside the mask stay bit-identical, and records where the result came from (its recipe,
the mask's box and the source layer's id). :func:`image_layer` keeps a generated image as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from desktop.document.layer import Layer
from engine.core.masks import mask_bbox
from engine.core.pixels import check_image, from_float, join_alpha, to_float

__all__ = ["checked_mask", "image_layer", "result_layer"]


def checked_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` as ``bool`` or ``uint8`` coverage, or float32 weights clipped to [0, 1].

    Raises ``ValueError`` when it is not ``shape`` (``H×W`` or ``H×W×1``) and ``TypeError`` for
    another dtype.
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.shape != tuple(shape):
        raise ValueError(f"the mask has shape {mask.shape} but the document is "
                         f"{shape[1]}×{shape[0]}")
    if mask.dtype in (np.bool_, np.uint8):
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return np.clip(mask, 0.0, 1.0).astype(np.float32)
    raise TypeError(f"mask must be bool, uint8 coverage or float weights, not {mask.dtype}")


def result_layer(source: Layer, image: np.ndarray, recipe: Mapping[str, Any],
                 mask: np.ndarray | None = None, *, name: str) -> Layer:
    """A new layer holding ``image`` over ``source`` (see :meth:`Document.add_result_layer`).

    Raises
    ------
    TypeError
        ``image`` is not float32 ``H×W×C``, or the mask has an unusable dtype.
    ValueError
        ``image`` or ``mask`` is not the source's size, or the mask is empty.
    """
    check_image(image, name="result image")
    height, width = source.shape
    if image.shape[:2] != source.shape:
        raise ValueError(f"the result is {image.shape[1]}×{image.shape[0]} but the document is "
                         f"{width}×{height}; open it as a new document instead")
    channels = max(source.channels, image.shape[2])
    source_colour = source.colour()
    colour = np.empty((height, width, channels), source.dtype)
    recipe = dict(recipe)
    if mask is None:
        colour[...] = from_float(image, source.dtype)
        recipe["mask_bbox"] = None
    else:
        mask = checked_mask(mask, source.shape)
        colour[...] = source_colour
        rect = mask_bbox(mask if mask.dtype == np.bool_ else mask > 0)
        if rect is None:
            raise ValueError("the mask is empty: the result would change nothing")
        rows, cols = rect
        inside = mask[rect][:, :, None]
        original = source_colour[rect]
        if inside.dtype == np.bool_:
            blended = from_float(image[rect], source.dtype)
        else:
            weight = to_float(inside) if inside.dtype == np.uint8 else inside
            start = to_float(original)
            blended = from_float(start + (image[rect] - start) * weight, source.dtype)
        colour[rect] = np.where(inside > 0, blended, original)
        recipe["mask_bbox"] = [int(cols.start), int(rows.start), int(cols.stop), int(rows.stop)]
    return Layer(join_alpha(colour, source.alpha()), name=str(name), recipe=recipe,
                 source_id=source.id)


def image_layer(image: np.ndarray, *, name: str, bit_depth: int = 8,
                recipe: Mapping[str, Any] | None = None) -> Layer:
    """A layer holding the float32 engine ``image`` at ``bit_depth`` (8 or 16)."""
    check_image(image)
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return Layer(from_float(image, dtype), name=name,
                 recipe=dict(recipe) if recipe is not None else None)
