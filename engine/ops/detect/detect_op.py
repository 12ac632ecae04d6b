"""Detectors that propose masks: Canny edges, repeats of a patch, and damage (scratches, cracks,
dust, tears; learned or classical).

Each op returns its finding as ``OpResult.mask`` for the person to edit before a repair op runs,
plus layers worth looking at (an edge map, a match-score map, a damage probability or a colour
map of damage kinds). The algorithms live in :mod:`engine.ops.detect.edges`,
:mod:`engine.ops.detect.template`, :mod:`engine.ops.detect.defects` (classical damage) and
:mod:`engine.ops.detect.damage` (learned damage); this module maps params onto them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from engine.core.masks import grow_mask, mask_bbox
from engine.core.params import Bool, Choice, Float, Int
from engine.core.pixels import to_gray
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.detect.defects import detect_defects
from engine.ops.detect.edges import canny_edges
from engine.ops.detect.template import MATCH_METHODS, find_matches, match_template, stamp_matches
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["DEFECT_METHODS", "CannyOp", "DetectDefectsOp", "TemplateMatchOp"]

_CATEGORY = "Detect"


def _as_layer(values: np.ndarray, channels: int) -> np.ndarray:
    """A float ``H×W`` map in [0, 1] as an ``H×W×channels`` float32 image."""
    plane = np.clip(values, 0.0, 1.0).astype(np.float32)[:, :, None]
    return np.repeat(plane, channels, axis=2) if channels > 1 else plane


def _count_components(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return count - 1


@register
class CannyOp(Op):
    """Canny edge detection: an edge map layer and the edges as a mask proposal."""

    name = "canny"
    title = "Canny edges"
    category = _CATEGORY
    description = ("Find edges with the Canny detector. The result is a white-on-black edge map "
                   "(same channel count as the image) and the edges as a mask proposal. "
                   "Thresholds are on the 0–1 brightness scale: a step between two flat areas "
                   "larger than 'high' starts an edge, one larger than 'low' continues it.")
    params = (
        Float("low", 0.05, title="Low threshold", minimum=0.0, maximum=1.0, step=0.01,
              help="Brightness step (0–1) an edge needs to continue from a strong edge."),
        Float("high", 0.15, title="High threshold", minimum=0.0, maximum=1.0, step=0.01,
              help="Brightness step (0–1) that starts an edge; must be at least 'low'."),
        Float("sigma", 1.0, title="Blur sigma", minimum=0.0, maximum=20.0, step=0.1,
              help="Gaussian blur (px) before finding edges; more ignores noise and fine detail."),
        Bool("l2_gradient", False, title="L2 gradient",
             help="Use the exact gradient magnitude (slower, slightly rounder response)."),
    )
    mask_use = "ignore"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        if params["low"] > params["high"]:
            raise OpError(f"the low threshold ({params['low']:g}) is above the high one "
                          f"({params['high']:g}); lower 'low' or raise 'high'")
        progress(0.0, "finding edges")
        edges = canny_edges(to_gray(image), params["low"], params["high"],
                            sigma=params["sigma"], l2_gradient=params["l2_gradient"])
        cancel.raise_if_cancelled()
        layer = _as_layer(edges.astype(np.float32), image.shape[2])
        return OpResult(image=layer, mask=edges,
                        info={"edge_pixels": int(edges.sum()),
                              "edge_fraction": float(edges.mean())})


@register
class TemplateMatchOp(Op):
    """Find every repeat of a patch and propose a mask over all of them."""

    name = "template_match"
    title = "Find repeats"
    category = _CATEGORY
    description = (
        "Find every place that looks like a patch of the image (a logo, a repeated blemish) and "
        "propose a mask over all of them. Paint a mask over one example: its bounding box is the "
        "patch and its painted shape is what gets marked at each repeat. Without a mask, give "
        "the patch's rectangle with x, y, width and height (pixels). The op changes no pixels; "
        "it returns the mask proposal and a 'match score' layer.")
    params = (
        Int("x", 0, minimum=0, help="Left edge of the patch in pixels (used without a mask)."),
        Int("y", 0, minimum=0, help="Top edge of the patch in pixels (used without a mask)."),
        Int("width", 0, minimum=0, help="Patch width in pixels; 0 = use the mask's bounding box."),
        Int("height", 0, minimum=0,
            help="Patch height in pixels; 0 = use the mask's bounding box."),
        Float("threshold", 0.8, title="Match threshold", minimum=0.0, maximum=1.0, step=0.01,
              help="Lowest similarity (1 = identical) that counts as a repeat."),
        Int("max_matches", 100, title="Max matches", minimum=1, maximum=100_000,
            help="Most repeats to mark, best first."),
        Choice("method", "ccoeff_normed", choices=tuple(MATCH_METHODS),
               help="Similarity: correlation of mean-removed patches (ignores brightness "
                    "offsets), plain normalised correlation, or normalised squared difference."),
        Int("grow", 1, minimum=0, maximum=100,
            help="Widen the proposed mask by this many pixels."),
        Bool("include_source", True, title="Include the patch itself",
             help="Also mark the patch's own place."),
    )
    mask_use = "blend"
    needs_mask = False

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        height, width = image.shape[:2]
        x0, y0, footprint = self._template_region(image.shape[:2], mask, params)
        h, w = footprint.shape
        template = image[y0:y0 + h, x0:x0 + w]
        weights = footprint if not footprint.all() else None
        if (params["method"] == "ccoeff_normed"
                and float(template[footprint].std(axis=0).max()) < 1e-3):
            raise OpError("the patch is flat, so its correlation is undefined: pick a patch with "
                          "some detail, or use the 'sqdiff_normed' method")
        scores = match_template(image, template, template_mask=weights, method=params["method"],
                                progress=sub_range(progress, 0.0, 0.9), cancel=cancel)
        cancel.raise_if_cancelled()
        progress(0.9, "picking matches")
        source_score = float(scores[y0, x0])
        matches = find_matches(scores, (h, w), params["threshold"], params["max_matches"],
                               reserved=(x0, y0))
        if params["include_source"]:
            matches = [(x0, y0, source_score), *matches][:params["max_matches"]]
        proposal = grow_mask(stamp_matches((height, width), matches, footprint), params["grow"])
        score_map = np.zeros((height, width), dtype=np.float32)
        score_map[h // 2:h // 2 + scores.shape[0], w // 2:w // 2 + scores.shape[1]] = scores
        return OpResult(
            image=None, mask=proposal,
            layers={"match score": _as_layer(score_map, image.shape[2])},
            info={"matches": [(int(x), int(y), round(s, 4)) for x, y, s in matches],
                  "template": (x0, y0, w, h), "count": len(matches)},
        )

    @staticmethod
    def _template_region(shape: tuple[int, int], mask: np.ndarray | None,
                         params: Mapping[str, Any]) -> tuple[int, int, np.ndarray]:
        """Top-left corner and footprint (bool ``h×w``) of the patch to look for."""
        height, width = shape
        if mask is not None:
            box = mask_bbox(mask)
            assert box is not None  # run_op rejects empty masks
            rows, cols = box
            x0, y0 = int(cols.start), int(rows.start)
            footprint = mask[rows, cols].copy()
        else:
            x0, y0, w, h = params["x"], params["y"], params["width"], params["height"]
            if w == 0 or h == 0:
                raise OpError("no patch to look for: paint a mask over one example, or set the "
                              "patch's width and height (and x, y)")
            if x0 + w > width or y0 + h > height:
                raise OpError(f"the patch {w}×{h} at ({x0}, {y0}) reaches outside the "
                              f"{width}×{height} image")
            footprint = np.ones((h, w), dtype=bool)
        h, w = footprint.shape
        if h < 3 or w < 3:
            raise OpError(f"the patch is {w}×{h} px: it must be at least 3×3 to be recognised")
        if h == height and w == width:
            raise OpError("the patch covers the whole image: mark a smaller example")
        return x0, y0, footprint


DEFECT_METHODS = ("learned", "classical")
"""The ``detect_defects`` methods; the first is the default."""
MAX_LEARNED_SENSITIVITY = 0.98
"""Sensitivity above this marks the learned method's noise floor; it is capped here."""

_KIND_COLOURS = {"impulses": (1.0, 0.2, 0.2), "scratches": (0.2, 1.0, 0.2),
                 "spots": (0.3, 0.5, 1.0)}
_KIND_GREYS = {"impulses": 1.0, "scratches": 0.75, "spots": 0.5}


@register
class DetectDefectsOp(Op):
    """Propose a mask over damage: the learned detector, or the classical one."""

    name = "detect_defects"
    title = "Find damage"
    category = _CATEGORY
    description = (
        "Propose a mask over damage — scratches, hairlines, cracks, dust, lint, torn corners — "
        "for you to check and edit, then repair with Inpaint. 'learned' (the default) is a "
        "network trained to leave eyes, lips, hair, grain and text alone; its 'damage "
        "probability' layer shows how sure it is. 'classical' looks for salt-and-pepper pixels, "
        "long thin lines and small round spots with filters, and shows them in the 'damage "
        "kinds' layer (impulses red, scratches green, spots blue; grey levels 1, 0.75, 0.5 on a "
        "grey image).")
    params = (
        Choice("method", "learned", choices=DEFECT_METHODS,
               help="learned: the trained damage network. classical: filters for impulses, "
                    "lines and spots (the three switches below apply to it only)."),
        Bool("impulses", True, title="Impulse noise",
             help="Classical: look for isolated pure black or white pixels (salt and pepper)."),
        Bool("scratches", True, title="Scratches", help="Classical: look for long thin lines."),
        Bool("spots", True, title="Dust spots", help="Classical: look for small round specks."),
        Float("sensitivity", 0.5, minimum=0.0, maximum=1.0, step=0.05,
              help="Higher finds fainter damage and makes more false finds. Learned: marks "
                   "pixels whose damage probability is above 1 − sensitivity (0.5: more "
                   "likely damage than not; at most 0.98)."),
        Choice("quality", "best", choices=("fast", "best"),
               help="Learned: 'best' averages the network over the photo and its three mirror "
                    "images: fewer false finds and more of the faint damage, 4 times slower "
                    "than 'fast' (one pass)."),
        Int("max_spot_size", 9, title="Max spot size", minimum=2, maximum=64,
            help="Classical: largest dust spot diameter, in pixels."),
        Int("min_scratch_length", 30, title="Min scratch length", minimum=5, maximum=100_000,
            help="Classical: shortest line that counts as a scratch, in pixels."),
        Int("grow", 1, minimum=0, maximum=50,
            help="Widen the proposed mask by this many pixels (covers soft edges). Learned: "
                 "thin damage (lines, dust) widens one pixel less; the network marks it to "
                 "its edges already."),
    )
    mask_use = "ignore"
    devices = ("cpu", "cuda", "mps")

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        if params["method"] == "learned":
            return self._learned(image, params, progress, cancel, device)
        return self._classical(image, params, progress, cancel)

    @staticmethod
    def _learned(image: np.ndarray, params: Mapping[str, Any], progress: Progress,
                 cancel: CancelToken, device: str | None) -> OpResult:
        from engine.models.weights import WeightsError, model_entry
        from engine.ops.detect.damage import (
            MODEL_NAME,
            damage_probability,
            propose_damage_mask,
        )

        threshold = max(1.0 - params["sensitivity"], 1.0 - MAX_LEARNED_SENSITIVITY)
        try:
            probability, tiling = damage_probability(
                image, device, sub_range(progress, 0.0, 0.95), cancel,
                ensemble=params["quality"] == "best")
            steps = model_entry(MODEL_NAME).meta.get("steps")
        except WeightsError as error:
            raise OpError(f"the learned damage detector cannot be used: {error}; choose the "
                          f"'classical' method") from None
        cancel.raise_if_cancelled()
        proposal = propose_damage_mask(probability, threshold, params["grow"])
        return OpResult(
            image=None, mask=proposal,
            layers={"damage probability": _as_layer(probability, image.shape[2])},
            info={"method": "learned", "model": MODEL_NAME, "model_steps": steps,
                  "quality": params["quality"],
                  "threshold": round(threshold, 4), "regions": _count_components(proposal),
                  "masked_fraction": float(proposal.mean()), **tiling},
        )

    @staticmethod
    def _classical(image: np.ndarray, params: Mapping[str, Any], progress: Progress,
                   cancel: CancelToken) -> OpResult:
        if not (params["impulses"] or params["scratches"] or params["spots"]):
            raise OpError("nothing to look for: switch on impulses, scratches or dust spots, "
                          "or use the learned method")
        found = detect_defects(
            image, impulses=params["impulses"], scratches=params["scratches"],
            spots=params["spots"], sensitivity=params["sensitivity"],
            max_spot_size=params["max_spot_size"],
            min_scratch_length=params["min_scratch_length"],
            progress=sub_range(progress, 0.0, 0.95), cancel=cancel)
        cancel.raise_if_cancelled()
        proposal = grow_mask(found.union(), params["grow"])
        kinds = {"impulses": found.impulses, "scratches": found.scratches, "spots": found.spots}
        layer = np.zeros(image.shape, dtype=np.float32)
        for kind, where in kinds.items():
            if image.shape[2] == 3:
                layer[where] = _KIND_COLOURS[kind]
            else:
                layer[where] = _KIND_GREYS[kind]
        return OpResult(
            image=None, mask=proposal, layers={"damage kinds": layer},
            info={"method": "classical", "impulse_pixels": int(found.impulses.sum()),
                  "scratches": _count_components(found.scratches),
                  "spots": _count_components(found.spots),
                  "masked_fraction": float(proposal.mean())},
        )
