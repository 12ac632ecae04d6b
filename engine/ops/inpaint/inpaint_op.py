"""The ``inpaint`` op: fill the masked pixels from their surroundings.

The op never hands a whole image to a fill method (:mod:`engine.ops.inpaint.methods`): it cuts
a crop around each group of nearby masked regions (:func:`engine.core.masks.hole_regions`: the
group's bounding box plus a context margin — ``sample_margin`` for the patch-based methods,
which also limits where patches come from), fills it, and writes back only that group's masked
pixels, so a 50 MP photo with one scratch costs a few kilopixels of work. Under ``auto`` a
group with a thick hole goes to ``structured``, which leaves the group's thin holes to its
learned layout (:func:`engine.ops.inpaint.methods.auto_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.core.masks import hole_regions, mask_bbox
from engine.core.params import Choice, Int, Seed
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.inpaint.methods import (
    DEFAULT_METHOD,
    INPAINT_METHODS,
    LEARNED_MARGIN,
    METHOD_CHOICES,
    PATCH_METHODS,
    FillOptions,
    auto_plan,
    context_margin,
    learned_available,
)
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["InpaintOp"]


def _grow(own_box: tuple[slice, slice], own: np.ndarray, margin: int,
          shape: tuple[int, int]) -> tuple[slice, slice]:
    """The bounding box of ``own`` (crop-sized, at ``own_box``) grown by ``margin``."""
    rows, cols = mask_bbox(own)  # type: ignore[misc]
    top, left = own_box[0].start + rows.start, own_box[1].start + cols.start
    bottom, right = own_box[0].start + rows.stop, own_box[1].start + cols.stop
    if margin <= 0:
        return slice(0, shape[0]), slice(0, shape[1])
    return (slice(max(top - margin, 0), min(bottom + margin, shape[0])),
            slice(max(left - margin, 0), min(right + margin, shape[1])))


def _reframe(box: tuple[slice, slice], own: np.ndarray, outer: tuple[slice, slice]
             ) -> np.ndarray:
    """``own`` (sized and placed as ``box``) as a mask sized as ``outer``, which holds all of
    its True pixels (``outer`` may cut away some of ``box``'s empty margin)."""
    placed = np.zeros((outer[0].stop - outer[0].start, outer[1].stop - outer[1].start), bool)
    top, bottom = max(box[0].start, outer[0].start), min(box[0].stop, outer[0].stop)
    left, right = max(box[1].start, outer[1].start), min(box[1].stop, outer[1].stop)
    placed[top - outer[0].start:bottom - outer[0].start,
           left - outer[1].start:right - outer[1].start] = own[
        top - box[0].start:bottom - box[0].start, left - box[1].start:right - box[1].start]
    return placed


@register
class InpaintOp(Op):
    """Fill the masked pixels from the surrounding image."""

    name = "inpaint"
    title = "Inpaint"
    category = "Inpaint"
    description = (
        "Fill the masked area from its surroundings. 'auto' (the default) sends thin damage "
        "(scratches, dust, strokes up to about 12 px wide) to the fast learned network and "
        "every larger hole to 'structured'. 'structured' removes objects and people and fills "
        "large holes: a neural network lays out the hole, then real patches of the photo "
        "rebuild it, so edges continue and texture stays sharp. 'exemplar' copies patches "
        "without the layout; 'learned' is the network alone (smooth on large holes); Telea and "
        "Navier–Stokes smooth thin damage quickly. Only pixels around the mask are processed, "
        "so big photos are quick.")
    params = (
        Choice("method", DEFAULT_METHOD, choices=METHOD_CHOICES,
               help="How to fill: auto (per hole: thin damage → learned, larger → structured), "
                    "structured (layout + patches: objects, large holes), exemplar "
                    "(PatchMatch), learned (network), telea (fast marching) or ns "
                    "(Navier–Stokes)."),
        Int("radius", 5, minimum=1, maximum=100,
            help="Telea/Navier–Stokes: neighbourhood (px) each filled pixel draws from."),
        Int("patch_size", 7, minimum=3, maximum=21, step=2, odd=True,
            help="Structured/exemplar: edge of the patches copied (px); larger keeps bigger "
                 "structures."),
        Int("iterations", 3, minimum=1, maximum=20,
            help="Structured/exemplar: search-and-vote rounds per pyramid level (more = "
                 "slower, finer)."),
        Int("sample_margin", 200, minimum=0, maximum=100_000,
            help="Structured/exemplar: how far around the hole (px) to take patches from; "
                 "0 = the whole image."),
        Seed("seed", 0, help="Structured/exemplar: random seed; the same seed gives the same "
                             "fill."),
    )
    mask_use = "hole"
    needs_mask = True
    devices = ("cpu", "cuda", "mps")

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        assert mask is not None  # run_op enforces needs_mask
        if mask.all():
            raise OpError("the mask covers the whole image, so there is nothing to fill from: "
                          "leave the undamaged parts unmasked")
        method = params["method"]
        radius = params["radius"]
        if method in ("telea", "ns"):
            margin = context_margin(radius)
        elif method in PATCH_METHODS:
            margin = params["sample_margin"] if params["sample_margin"] > 0 else max(mask.shape)
        else:
            margin = LEARNED_MARGIN
        learned_ok = learned_available() if method == "auto" else True
        out = image.copy()
        regions = list(hole_regions(mask, margin))
        crop_pixels = 0
        used: dict[str, int] = {}
        for index, (box, own) in enumerate(regions):
            cancel.raise_if_cancelled()
            progress(index / len(regions), f"inpainting region {index + 1} of {len(regions)}")
            chosen, smooth = method, None
            if method == "auto":
                chosen, smooth = auto_plan(own, learned_ok)
                if chosen in PATCH_METHODS:
                    grown = _grow(box, own, params["sample_margin"], mask.shape)
                    if smooth is not None:
                        smooth = _reframe(box, smooth, grown)
                    box, own = grown, _reframe(box, own, grown)
            rows, cols = box
            options = FillOptions(
                radius=radius, patch_size=params["patch_size"],
                iterations=params["iterations"], seed=params["seed"], device=device,
                smooth=smooth,
                progress=sub_range(progress, index / len(regions),
                                   (index + 1) / len(regions)),
                cancel=cancel)
            crop = np.ascontiguousarray(image[rows, cols])
            filled = INPAINT_METHODS[chosen](crop, mask[rows, cols], options)
            target = out[rows, cols]
            target[own] = filled[own]
            crop_pixels += own.shape[0] * own.shape[1]
            used[chosen] = used.get(chosen, 0) + 1
        return OpResult(image=out, info={"regions": len(regions), "crop_pixels": crop_pixels,
                                         "method": method, "methods_used": used})
