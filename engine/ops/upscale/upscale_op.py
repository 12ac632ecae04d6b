"""The ``upscale`` op: enlarge a photo ×2, ×3 or ×4 with the learned network, or with bicubic or
Lanczos interpolation for comparison.

The result is a new, larger image (``generates``): the editor opens it as a new document at its
size, the command line writes it, and a recipe's later steps work on it. ``info["resampled"]``
tells callers that the image was resampled as a whole, so they resample its alpha plane with it
(classically: transparency has no detail worth learning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.core.params import Choice, Int
from engine.core.progress import CancelToken, Progress
from engine.core.resample import enlarge
from engine.ops.registry import Op, OpError, OpResult, register
from engine.ops.upscale.upscaler import MODEL_NAME, SCALES, upscale_array

__all__ = ["BYTES_PER_OUTPUT_PIXEL", "MAX_OUTPUT_PIXELS", "UpscaleOp"]

MAX_OUTPUT_PIXELS = 400_000_000
"""The largest result (pixels) the op makes: 400 MP is 4.8 GB as float RGB."""
BYTES_PER_OUTPUT_PIXEL = 44
"""Memory a run and the caller that saves its result hold at once per output pixel: the float
RGB canvas (12 B) and its blend weights (4), the float temporary and the 16-bit RGBA of the
conversion for saving (12 + 8), and the Lanczos-resampled alpha plane with its temporary (8)."""


@register
class UpscaleOp(Op):
    """Enlarge an image with real detail (a network trained by this project)."""

    name = "upscale"
    title = "Upscale (learned)"
    category = "Upscale"
    description = ("Enlarge the image 2, 3 or 4 times. 'learned' restores edges and fine "
                   "detail that interpolation blurs; bicubic and Lanczos are there to compare. "
                   "The result opens as a new image at its new size.")
    params = (
        Int("scale", 2, title="Scale", minimum=min(SCALES), maximum=max(SCALES),
            help="How many times wider and taller the result is."),
        Choice("method", "learned", choices=("learned", "bicubic", "lanczos"),
               help="'learned': the trained upscaler; 'bicubic' and 'lanczos': classical "
                    "interpolation (fast, softer)."),
        Int("tile", 384, title="Tile size", minimum=64, maximum=2048, step=32,
            help="Input pixels per tile edge for the learned method; smaller tiles use less "
                 "memory."),
    )
    mask_use = "ignore"
    devices = ("cpu", "cuda", "mps")
    models = (MODEL_NAME,)
    generates = True

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        scale, method = int(params["scale"]), params["method"]
        h, w = image.shape[:2]
        if h * w * scale * scale > MAX_OUTPUT_PIXELS:
            raise OpError(f"a {w}×{h} image enlarged {scale}× would be "
                          f"{w * scale}×{h * scale} ({h * w * scale * scale / 1e6:.0f} MP), "
                          f"more than the {MAX_OUTPUT_PIXELS // 1_000_000} MP this op makes; "
                          f"crop it or choose a smaller scale")
        _check_memory(w * scale, h * scale)
        info: dict[str, Any] = {"scale": scale, "method": method, "resampled": True,
                                "size": [w * scale, h * scale]}
        if method != "learned":
            progress(0.0, f"{method} ×{scale}")
            return OpResult(image=enlarge(image, scale, method), info=info)
        from engine.core.device import select_device
        from engine.models.weights import model_entry

        result, tiling = upscale_array(image, scale, device=select_device(device),
                                       tile=params["tile"], progress=progress, cancel=cancel)
        info.update(tiling, model=MODEL_NAME, model_steps=model_entry(MODEL_NAME).meta.get("steps"))
        return OpResult(image=result, info=info)


def _check_memory(width: int, height: int) -> None:
    """Refuse, before any work, a result that this process cannot hold."""
    from engine.io.memory import format_size, memory_budget

    needed = width * height * BYTES_PER_OUTPUT_PIXEL
    budget, source = memory_budget()
    if budget is not None and needed > budget:
        raise OpError(f"a {width}×{height} result needs about {format_size(needed)} of memory "
                      f"and {source} leaves {format_size(budget)}; crop the image or choose a "
                      f"smaller scale")
