"""Hiding a masked region so that it cannot be brought back from the output.

A plain, weak Gaussian blur hides nothing: it only damps the fine detail, and deconvolution
(:func:`engine.ops.classical.deconvolution.wiener`) amplifies it back. Each method here destroys
the detail instead:

* ``pixelate`` averages blocks (many images give the same block means: the detail inside a
  block is gone, not damped), then adds noise to each block and to each pixel and rounds to
  :data:`LEVELS` levels, so even the block means are only known roughly.
* ``blur`` blurs very strongly (a Gaussian whose sigma is a pixelation block), then adds noise and
  rounds to :data:`LEVELS` levels: the blur's weak high frequencies sink under the noise and the
  rounding, so a deconvolution that knows the exact blur gets noise back, not the face.
* ``fill`` paints a solid colour; ``noise`` paints noise around the region's mean colour. Both
  keep nothing of the region but, for ``noise``, its mean and spread.

By default the strength follows the size of each masked region (each connected part of the
mask on its own): ``detail`` blocks fit across it, so a large face is as coarse as a small one.
The noise is seeded, so a run is repeatable; its amplitude is a parameter.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engine.core.masks import feather_weights, hole_regions
from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["FILL_COLOURS", "LEVELS", "METHODS", "anonymise", "region_size", "region_strength"]

METHODS = ("pixelate", "blur", "fill", "noise")
"""The ways of hiding a region."""

FILL_COLOURS = {"black": 0.0, "white": 1.0, "grey": 0.5, "average": None}
"""Colours of the ``fill`` method (``average`` is the region's own mean colour)."""

LEVELS = 32
"""Levels per channel that pixelated and blurred regions are rounded to."""


def region_size(own: np.ndarray) -> float:
    """Size of a masked region: the square root of its area, in pixels."""
    return math.sqrt(float(np.count_nonzero(own)))


def region_strength(size: float, *, detail: int, relative: bool, size_px: int) -> int:
    """Block side in pixels for a region of ``size`` (also the blur's sigma): ``size / detail``
    when ``relative``, else ``size_px``; at least 2."""
    block = size / detail if relative else float(size_px)
    return max(2, round(block))


def anonymise(image: np.ndarray, mask: np.ndarray, *, method: str = "pixelate",
              detail: int = 5, relative: bool = True, size_px: int = 16, noise: float = 0.05,
              fill: str = "black", feather: float = 0.0, seed: int = 0,
              progress: Progress = null_progress,
              cancel: CancelToken | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Hide the masked regions of ``image``.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The photo (C = 1 or 3) in [0, 1]; not modified.
    mask : ndarray of bool, shape (H, W)
        True over the regions to hide; must not be empty.
    method : str
        One of :data:`METHODS`.
    detail : int
        Blocks across each region (``pixelate``; ``blur`` uses a Gaussian of sigma one
        block) when ``relative``; fewer hides more.
    relative : bool
        Scale the block to each region's size; otherwise every block is ``size_px``.
    size_px : int
        Block side in pixels when not ``relative``.
    noise : float
        Standard deviation (0–1 scale) of the noise added by ``pixelate`` and ``blur``.
    fill : str
        Colour of ``fill``: a key of :data:`FILL_COLOURS`.
    feather : float
        Width in pixels of a ramp inside the mask's edge from the original to the hidden
        region; 0 gives a hard edge. Pixels further in than ``feather`` are fully hidden.
    seed : int
        Seed of the noise.
    progress, cancel
        Progress callback and cancel token (checked once per region).

    Returns
    -------
    out : ndarray of float32, shape (H, W, C)
        The image with the regions hidden; identical to ``image`` outside ``mask``.
    regions : list of dict
        Per region: its ``size`` (px) and the ``block`` (px) used.

    Raises
    ------
    ValueError
        An unknown method or fill colour, or an empty mask.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if fill not in FILL_COLOURS:
        raise ValueError(f"unknown fill colour {fill!r}; choose one of "
                         f"{', '.join(FILL_COLOURS)}")
    if not mask.any():
        raise ValueError("the mask is empty: mark the regions to hide first")
    rng = np.random.default_rng(seed)
    out = image.copy()
    parts = list(hole_regions(mask, 0))
    regions = []
    for index, (box, own) in enumerate(parts):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(index / len(parts), "hiding")
        size = region_size(own)
        block = region_strength(size, detail=detail, relative=relative, size_px=size_px)
        regions.append({"size": round(size, 1), "block": block})
        hidden = _hide(image, box, own, method, block, noise, fill, rng)
        crop = out[box]
        crop[own] = hidden[own]
    if feather > 0:
        weights = feather_weights(mask, feather)[:, :, None]
        out = (image + (out - image) * weights).astype(np.float32)
    out[~mask] = image[~mask]
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False), regions


def _hide(image: np.ndarray, box: tuple[slice, slice], own: np.ndarray, method: str,
          block: int, noise: float, fill: str, rng: np.random.Generator) -> np.ndarray:
    """The hidden version of the crop ``image[box]`` (valid where ``own``)."""
    crop = image[box]
    channels = crop.shape[2]
    if method == "fill":
        colour = FILL_COLOURS[fill]
        value = crop[own].mean(axis=0) if colour is None else np.full(channels, colour)
        return np.broadcast_to(value.astype(np.float32), crop.shape).copy()
    if method == "noise":
        mean = crop[own].mean(axis=0)
        spread = max(float(crop[own].std()), 0.05)
        grain = rng.normal(0.0, 1.0, crop.shape[:2]).astype(np.float32)
        grain = cv2.GaussianBlur(grain, (0, 0), 1.0)
        grain *= spread / max(float(grain.std()), 1e-6)
        return (mean[None, None, :] + grain[:, :, None]).astype(np.float32)
    if method == "pixelate":
        coarse = _block_means(crop, own, block)
        coarse += rng.normal(0.0, noise, coarse.shape[:2])[:, :, None]
        fine = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)
        fine = fine[:crop.shape[0], :crop.shape[1]]
        fine = fine + rng.normal(0.0, noise / 2, crop.shape[:2])[:, :, None]
        return _quantise(fine)
    return _strong_blur(image, box, block, noise, rng)


def _block_means(crop: np.ndarray, own: np.ndarray, block: int) -> np.ndarray:
    """Mean of the region's pixels in each ``block × block`` cell of the crop (a cell with no
    region pixel takes the mean of all its pixels)."""
    height, width, channels = crop.shape
    rows, cols = -(-height // block), -(-width // block)
    pad = ((0, rows * block - height), (0, cols * block - width))
    weight = np.pad(own.astype(np.float32), pad)
    values = np.pad(crop, (*pad, (0, 0)), mode="edge")
    shape = (rows, block, cols, block)
    counts = weight.reshape(shape).sum(axis=(1, 3))
    sums = (values * weight[:, :, None]).reshape(*shape, channels).sum(axis=(1, 3))
    plain = values.reshape(*shape, channels).mean(axis=(1, 3))
    means = np.where(counts[:, :, None] > 0, sums / np.maximum(counts, 1)[:, :, None], plain)
    return means.astype(np.float32)


def _strong_blur(image: np.ndarray, box: tuple[slice, slice], block: int, noise: float,
                 rng: np.random.Generator) -> np.ndarray:
    """A Gaussian of sigma ``block`` over the crop (read with its surroundings), plus noise,
    rounded to :data:`LEVELS` levels."""
    sigma = float(block)
    reach = int(math.ceil(3 * sigma))
    rows, cols = box
    height, width = image.shape[:2]
    top, left = max(rows.start - reach, 0), max(cols.start - reach, 0)
    bottom, right = min(rows.stop + reach, height), min(cols.stop + reach, width)
    around = np.ascontiguousarray(image[top:bottom, left:right])
    blurred = cv2.GaussianBlur(around, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    blurred = blurred.reshape(around.shape)
    blurred = blurred[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
    blurred = blurred + rng.normal(0.0, noise, blurred.shape[:2])[:, :, None]
    return _quantise(blurred)


def _quantise(values: np.ndarray) -> np.ndarray:
    steps = LEVELS - 1
    return (np.rint(np.clip(values, 0.0, 1.0) * steps) / steps).astype(np.float32)
