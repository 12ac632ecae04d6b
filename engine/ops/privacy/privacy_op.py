"""Privacy ops: ``detect_faces`` proposes a mask over the faces of a photo, ``anonymise`` hides
whatever the mask covers (faces, a number plate, a name) so it cannot be brought back.

The algorithms live in :mod:`engine.ops.privacy.faces` and :mod:`engine.ops.privacy.anonymise`;
this module maps params onto them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.core.params import Choice, Float, Int, Seed
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.privacy.anonymise import FILL_COLOURS, METHODS, anonymise
from engine.ops.privacy.faces import detect_faces, faces_mask
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["AnonymiseOp", "DetectFacesOp"]

_CATEGORY = "Privacy"


@register
class DetectFacesOp(Op):
    """Find faces and propose a mask over them."""

    name = "detect_faces"
    title = "Find faces"
    category = _CATEGORY
    description = (
        "Find faces (frontal and turned) and propose a mask over them, ready for 'Hide "
        "region'. Check the mask before sharing: the detector misses some faces (small, "
        "strongly turned, covered) and sometimes marks a face-like texture. Grey and old photos "
        "work too; large photos are searched on a smaller copy. The info lists each face's box "
        "(x, y, width, height, score).")
    params = (
        Float("sensitivity", 0.5, minimum=0.0, maximum=1.0, step=0.05,
              help="Higher finds more faces (smaller, fainter, more turned) and marks more "
                   "things that are not faces."),
        Int("min_face", 20, title="Smallest face", minimum=8, maximum=4096,
            help="Smallest face to look for: its width in pixels."),
        Float("margin", 0.25, title="Margin", minimum=0.0, maximum=2.0, step=0.05,
              help="Grow each face's mask by this share of the face's size (1.5 times as much "
                   "above it, for the hair)."),
        Choice("shape", "ellipse", choices=("ellipse", "box"),
               help="Mask each face with an ellipse or with its box."),
        Int("search_size", 1024, title="Search size", minimum=128, maximum=8192,
            help="Photos larger than this (pixels, longer side) are searched on a copy shrunk "
                 "to it; raise it to find small faces in a large photo (slower)."),
    )
    mask_use = "ignore"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        faces, scale = detect_faces(
            image, sensitivity=params["sensitivity"], min_face=params["min_face"],
            max_side=params["search_size"], progress=sub_range(progress, 0.0, 0.95),
            cancel=cancel)
        cancel.raise_if_cancelled()
        proposal = faces_mask(image.shape[:2], faces, margin=params["margin"],
                              ellipse=params["shape"] == "ellipse")
        return OpResult(image=None, mask=proposal,
                        info={"count": len(faces), "faces": [face.as_list() for face in faces],
                              "searched_scale": round(scale, 4),
                              "masked_fraction": float(proposal.mean())})


@register
class AnonymiseOp(Op):
    """Hide the masked region beyond recovery: pixelate, blur, fill or noise."""

    name = "anonymise"
    title = "Hide region"
    category = _CATEGORY
    description = (
        "Make the masked region unrecognisable before sharing: pixelate (blocks), blur (very "
        "strong), fill with a colour, or fill with noise. Noise and rounding are added so the "
        "region cannot be sharpened or deconvolved back. By default each masked region gets "
        "blocks scaled to its size, so a large face is hidden as well as a small one. Outside "
        "the mask nothing changes.")
    params = (
        Choice("method", "pixelate", choices=METHODS,
               help="Pixelate, blur, solid fill, or noise fill."),
        Int("detail", 5, title="Blocks across", minimum=2, maximum=32,
            help="How many blocks fit across each region (pixelate; blur is as coarse); fewer "
                 "hides more."),
        Choice("scale", "region", title="Block size", choices=("region", "fixed"),
               help="Scale the blocks to each region's size, or use the fixed size below."),
        Int("block_px", 16, title="Fixed block size", minimum=2, maximum=1024,
            help="Block side in pixels when the block size is fixed."),
        Float("noise", 0.05, minimum=0.0, maximum=0.3, step=0.01,
              help="Noise (0–1 brightness scale) added by pixelate and blur so the result "
                   "cannot be reversed; 0 leaves the blocks flat."),
        Choice("fill", "black", title="Fill colour", choices=tuple(FILL_COLOURS),
               help="Colour of the solid fill ('average' is the region's own mean colour)."),
        Float("feather", 0.0, minimum=0.0, maximum=100.0, step=0.5,
              help="Soften the edge over this many pixels inside the mask; deeper inside, the "
                   "region is fully hidden."),
        Seed("seed", 0, help="Seed of the noise; the same seed gives the same result."),
    )
    mask_use = "hole"
    needs_mask = True

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        if mask is None:  # run_op rejects a missing mask for needs_mask ops
            raise OpError("anonymise needs a mask: paint over the area to hide first")
        out, regions = anonymise(
            image, mask, method=params["method"], detail=params["detail"],
            relative=params["scale"] == "region", size_px=params["block_px"],
            noise=params["noise"], fill=params["fill"], feather=params["feather"],
            seed=params["seed"], progress=progress, cancel=cancel)
        return OpResult(image=out, info={"regions": regions, "count": len(regions)})
