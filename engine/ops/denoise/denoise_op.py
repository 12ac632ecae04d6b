"""The ``denoise`` op: the learned denoiser with an automatic noise-level estimate.

The runtime (model loading, tiling, the self-ensemble, the brightness correction) is
:mod:`engine.ops.denoise.denoiser`; the noise estimate (luma and chroma, per region) is
:mod:`engine.ops.denoise.noise_level`.

The network is told two noise levels, luma and chroma. ``strength`` scales both (below 1 keeps
more detail and noise, above 1 smooths more); ``chroma`` scales the colour part on top of it, so
colour blotches can be removed while the luma grain (and detail) stays, or the other way round.
``coarse_noise`` measures noise coarser than pixels too (film grain, blotches), ``noise_map``
``regional`` per region, ``quality`` ``best`` averages the 8 flips and turns. ``network``
chooses the weights: ``gaussian`` (``denoise_unet``, the default: best on white noise, 0.05–0.5
dB above the other on CBSD68 and McMaster at σ 15) or ``real`` (``denoise_unet_v2``: reads luma
and colour noise apart, trained on camera-like noise as well; 1.8 dB better on held-out
filtered, demosaicked and grain noise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.core.masks import mask_bbox
from engine.core.params import Bool, Choice, Float, Int
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.denoise.denoiser import (
    MAX_SIGMA,
    MODEL_NAME,
    MODEL_NAME_REAL,
    denoise_array,
    keep_local_means,
)
from engine.ops.denoise.noise_level import ESTIMATOR, estimate_level_map, estimate_levels
from engine.ops.denoise.opponent import rgb_sigma
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["DenoiseOp"]

MASK_MARGIN = 48
"""Context kept around a mask's bounding box (pixels), about the network's useful reach."""
_MIN_ESTIMATE_EDGE = 64


def _round(value: float) -> float:
    return round(value * 255.0, 2)


@register
class DenoiseOp(Op):
    """Learned denoiser: a noise-level-conditioned U-Net trained by this project."""

    name = "denoise"
    title = "Denoise (learned)"
    category = "Denoise"
    description = ("Remove noise with a trained network. The luma and colour noise levels are "
                   "estimated from the image unless you give one; 'strength' scales both and "
                   "'colour noise' the colour part.")
    params = (
        Float("sigma", 0.0, title="Noise level (σ)", minimum=0.0, maximum=75.0, step=1.0,
              help="Noise standard deviation in 8-bit units (0–255 scale), as white noise of "
                   "this σ in every channel; 0 estimates the levels from the image."),
        Float("strength", 1.0, minimum=0.5, maximum=2.0, step=0.05,
              help="Multiplies the noise levels given to the network: below 1 keeps more detail "
                   "(and noise); above 1 treats the image as noisier than measured."),
        Float("chroma", 1.0, title="Colour noise", minimum=0.0, maximum=4.0, step=0.1,
              help="Multiplies the colour (chroma) noise level on top of strength: raise it to "
                   "remove colour blotches (night shots, film), lower it to keep colour texture; "
                   "1 = as measured."),
        Bool("coarse_noise", False, title="Coarse noise (grain, blotches)",
             help="Also measure noise coarser than single pixels: film grain, colour blotches "
                  "of night shots. It can take fine random texture (foliage, gravel) for "
                  "noise; off measures pixel-fine noise only."),
        Choice("noise_map", "uniform", title="Noise map", choices=("uniform", "regional"),
               help="'uniform': one luma and one colour level for the whole image; 'regional': "
                    "levels estimated per region (noise that differs between shadows and "
                    "highlights, or between parts of a collage)."),
        Choice("quality", "fast", choices=("fast", "best"),
               help="'best' averages the network over 8 flips and turns of the image: a little "
                    "cleaner, 8 times slower."),
        Choice("network", "gaussian", choices=("gaussian", "real"),
               help="'gaussian': the network trained on white noise, a little better on it; "
                    "'real': the one trained on camera noise too (colour blotches, "
                    "demosaicked noise, grain), which reads the luma and colour levels apart."),
        Int("tile", 512, title="Tile size", minimum=128, maximum=4096, step=32,
            help="Pixels per tile edge; smaller tiles use less memory. Below 128 px the "
                 "overlap (a quarter of the tile) is too short to hide the tile edges."),
    )
    mask_use = "feather"
    devices = ("cpu", "cuda", "mps")
    models = (MODEL_NAME, MODEL_NAME_REAL)

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        from engine.core.device import select_device
        from engine.models.weights import model_entry

        box = mask_bbox(mask, MASK_MARGIN) if mask is not None else None
        region = image[box] if box is not None else image
        gray = region.shape[2] == 1
        model = MODEL_NAME_REAL if params["network"] == "real" else MODEL_NAME
        info: dict[str, Any] = {"model": model}
        level_map: np.ndarray | None = None
        if params["sigma"] > 0:
            base = params["sigma"] / 255.0
            luma, chroma = (math.sqrt(3.0) * base, 0.0) if gray else (base, base)
            info["sigma_source"] = "given"
        else:
            sample = region if min(region.shape[:2]) >= _MIN_ESTIMATE_EDGE else image
            progress(0.0, "estimating the noise level")
            try:
                coarse = params["coarse_noise"]
                if params["noise_map"] == "regional" and sample is region:
                    level_map, (luma, chroma) = estimate_level_map(region, coarse=coarse)
                else:
                    luma, chroma = estimate_levels(sample, coarse=coarse)
            except ValueError as error:
                raise OpError(f"{error}; set the noise level (sigma) by hand") from None
            info.update(sigma_source="estimated", estimator=ESTIMATOR,
                        sigma_estimated=_round(rgb_sigma(luma, chroma)),
                        luma_estimated=_round(luma), chroma_estimated=_round(chroma))
        cancel.raise_if_cancelled()
        scale = np.array([params["strength"], params["strength"] * params["chroma"]],
                         np.float32)
        cap = np.array([MAX_SIGMA * (math.sqrt(3.0) if gray else 1.0), MAX_SIGMA],
                       np.float32) / 255.0
        levels = np.array([luma, chroma], np.float32) * scale
        if (levels > cap + 1e-9).any():
            info["note"] = f"noise level capped at {MAX_SIGMA:g}, the most the network knows"
        levels = np.minimum(levels, cap)
        if level_map is not None:
            level_map = np.minimum(level_map * scale, cap)
            info["noise_map"] = "regional"
        luma_used, chroma_used = float(levels[0]), float(levels[1])
        info.update(sigma_used=_round(rgb_sigma(luma_used, chroma_used)),
                    luma_used=_round(luma_used), chroma_used=_round(chroma_used),
                    strength=params["strength"],
                    chroma=params["chroma"], quality=params["quality"])

        torch_device = select_device(device)
        denoised, tiling = denoise_array(
            np.ascontiguousarray(region), level_map if level_map is not None else
            (luma_used, chroma_used), device=torch_device, tile=params["tile"],
            ensemble=params["quality"] == "best", model=model,
            progress=sub_range(progress, 0.02, 1.0), cancel=cancel)
        info.update(tiling)
        if params["strength"] > 1.0:
            weight = min((params["strength"] - 1.0) / 0.25, 1.0)  # full from strength 1.25
            denoised = keep_local_means(denoised, region, weight)
        info["model_steps"] = model_entry(model).meta.get("steps")
        if box is None:
            return OpResult(image=denoised, info=info)
        out = image.copy()
        out[box] = denoised
        return OpResult(image=out, info=info)
