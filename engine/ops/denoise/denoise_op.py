"""The ``denoise`` op: the learned denoiser with an automatic noise-level estimate.

The runtime (model loading, tiling, the brightness correction) is
:mod:`engine.ops.denoise.denoiser`; the noise estimate is :mod:`engine.ops.denoise.noise_level`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.core.masks import mask_bbox
from engine.core.params import Float, Int
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.denoise.denoiser import MAX_SIGMA, MODEL_NAME, denoise_array, keep_local_means
from engine.ops.denoise.noise_level import ESTIMATOR, estimate_sigma
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["DenoiseOp"]

MASK_MARGIN = 48
"""Context kept around a mask's bounding box (pixels), about the network's useful reach."""
_MIN_ESTIMATE_EDGE = 64


@register
class DenoiseOp(Op):
    """Learned denoiser: a noise-level-conditioned U-Net trained by this project."""

    name = "denoise"
    title = "Denoise (learned)"
    category = "Denoise"
    description = ("Remove noise with a trained network. The noise level is estimated from the "
                   "image (patch PCA, Chen et al. 2015) unless you give it; 'strength' scales it.")
    params = (
        Float("sigma", 0.0, title="Noise level (σ)", minimum=0.0, maximum=75.0, step=1.0,
              help="Noise standard deviation in 8-bit units (0–255 scale); 0 estimates it from "
                   "the image."),
        Float("strength", 1.0, minimum=0.5, maximum=2.0, step=0.05,
              help="Multiplies the noise level given to the network: below 1 keeps more detail "
                   "(and noise); above 1 treats the image as noisier than measured."),
        Int("tile", 512, title="Tile size", minimum=128, maximum=4096, step=32,
            help="Pixels per tile edge; smaller tiles use less memory. Below 128 px the "
                 "overlap (a quarter of the tile) is too short to hide the tile edges."),
    )
    mask_use = "feather"
    devices = ("cpu", "cuda", "mps")
    models = (MODEL_NAME,)

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        from engine.core.device import select_device
        from engine.models.weights import model_entry

        box = mask_bbox(mask, MASK_MARGIN) if mask is not None else None
        region = image[box] if box is not None else image
        info: dict[str, Any] = {"model": MODEL_NAME}
        if params["sigma"] > 0:
            base = params["sigma"] / 255.0
            info["sigma_source"] = "given"
        else:
            sample = region if min(region.shape[:2]) >= _MIN_ESTIMATE_EDGE else image
            progress(0.0, "estimating the noise level")
            try:
                base = estimate_sigma(sample)
            except ValueError as error:
                raise OpError(f"{error}; set the noise level (sigma) by hand") from None
            info.update(sigma_source="estimated", sigma_estimated=round(base * 255.0, 2),
                        estimator=ESTIMATOR)
        cancel.raise_if_cancelled()
        sigma = base * params["strength"]
        if sigma > MAX_SIGMA / 255.0:
            sigma = MAX_SIGMA / 255.0
            info["note"] = f"noise level capped at {MAX_SIGMA:g}, the most the network knows"
        info.update(sigma_used=round(sigma * 255.0, 2), strength=params["strength"])

        torch_device = select_device(device)
        denoised, tiling = denoise_array(np.ascontiguousarray(region), sigma,
                                         device=torch_device, tile=params["tile"],
                                         progress=sub_range(progress, 0.02, 1.0), cancel=cancel)
        info.update(tiling)
        if params["strength"] > 1.0:
            weight = min((params["strength"] - 1.0) / 0.25, 1.0)  # full from strength 1.25
            denoised = keep_local_means(denoised, region, weight)
        info["model_steps"] = model_entry(MODEL_NAME).meta.get("steps")
        if box is None:
            return OpResult(image=denoised, info=info)
        out = image.copy()
        out[box] = denoised
        return OpResult(image=out, info=info)
