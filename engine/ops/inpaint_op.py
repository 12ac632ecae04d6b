"""Inpainting: fill the masked pixels from their surroundings.

Each method is a small function ``fill(crop, hole, options) -> crop`` registered in
:data:`INPAINT_METHODS` with :func:`inpaint_method`; the ``inpaint`` op's ``method`` choice lists
them after ``auto``, which picks one per hole (:func:`choose_method`). The default is
``learned``, the method with the best masked PSNR on the bench (:data:`DEFAULT_METHOD`).

``exemplar``
    Multi-scale PatchMatch completion with coherence voting
    (:mod:`engine.inpainting.patchmatch`): copies real texture and structure from the rest of
    the image; the tool for removing objects and filling large holes.
``learned``
    The shipped Fourier-convolution network (:mod:`engine.inpainting.learned`): scratches,
    dust, thin damage and small holes.
``telea``, ``ns``
    OpenCV's fast marching (Telea) and Navier–Stokes diffusion: smooth, fast, for damage a few
    pixels wide.

The op never hands a whole image to a method: it cuts a crop around each group of nearby
masked regions (the group's bounding box plus a context margin — ``sample_margin`` for the
exemplar method, which also limits where patches come from), fills it, and writes back only that
group's masked pixels, so a 50 MP photo with one scratch costs a few kilopixels of work. The
learned method further splits a large crop into windows of at most 512 × 512 px.

OpenCV's diffusion methods run per channel at float precision
(:mod:`engine.inpainting.diffusion`), so 16-bit sources keep their precision; the exemplar and
learned methods compute in float32 too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engine.convert import to_gray
from engine.inpainting.diffusion import NAVIER_STOKES, TELEA, diffusion_fill
from engine.masking import mask_bbox
from engine.ops.registry import Op, OpError, OpResult, register
from engine.params import Choice, Int, Seed
from engine.progress import CancelToken, Progress, null_progress, sub_range

__all__ = [
    "AUTO_TEXTURE",
    "AUTO_THIN_RADIUS",
    "DEFAULT_METHOD",
    "INPAINT_METHODS",
    "METHOD_CHOICES",
    "FillOptions",
    "InpaintOp",
    "choose_method",
    "context_margin",
    "hole_regions",
    "inpaint_method",
]


@dataclass(frozen=True)
class FillOptions:
    """Everything a fill method may use besides the crop and its hole.

    Attributes
    ----------
    radius : int
        Neighbourhood of the diffusion methods (px).
    patch_size, iterations, seed : int
        PatchMatch patch edge, rounds per pyramid level, random seed.
    device : str or None
        Torch device kind (``None``: the engine's choice).
    source : ndarray of bool or None
        Crop-sized region patches may be copied from (exemplar); None = anywhere in the crop.
    progress, cancel
        Progress callback and cancel token for this crop.
    """

    radius: int = 5
    patch_size: int = 7
    iterations: int = 4
    seed: int = 0
    device: str | None = None
    source: np.ndarray | None = None
    progress: Progress = null_progress
    cancel: CancelToken = field(default_factory=CancelToken)


FillMethod = Callable[[np.ndarray, np.ndarray, FillOptions], np.ndarray]
"""``fill(crop, hole, options)``: crop is float32 ``h×w×C`` in [0, 1], hole is bool ``h×w``;
returns the filled crop (float32, same shape). Pixels outside the hole are not read back."""

INPAINT_METHODS: dict[str, FillMethod] = {}
"""Fill methods by name, in the order the op's ``method`` choice shows them (after ``auto``)."""

AUTO_THIN_RADIUS = 12.0
"""``auto``: holes whose inscribed radius is at most this (px: scratches, dust, strokes up to
about 24 px wide — what the network fills at full resolution) go to the learned network (Telea
when its weights are missing). On the bench's seven CBSD68 pairs whose holes were at most
16 px thick, the network had the best PSNR on six and lost the seventh to Telea by 0.02 dB."""
AUTO_TEXTURE = 0.04
"""``auto``: thicker holes whose surroundings have a mean luma gradient magnitude above this
(per pixel, 0–1 scale: texture, foliage, masonry) go to the exemplar method, which keeps their
texture (bench "detail" 0.6 against the network's 0.26) at a cost of 1–2 dB PSNR; smoother
surroundings go to the learned network."""


def inpaint_method(name: str) -> Callable[[FillMethod], FillMethod]:
    """Decorator that adds a fill function to :data:`INPAINT_METHODS` under ``name``."""

    def add(fill: FillMethod) -> FillMethod:
        if name in INPAINT_METHODS or name == "auto":
            raise ValueError(f"inpainting method {name!r} is already registered")
        INPAINT_METHODS[name] = fill
        return fill

    return add


def _device(options: FillOptions) -> Any:
    from engine.device import select_device

    return select_device(options.device)


@inpaint_method("exemplar")
def fill_exemplar(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """PatchMatch completion: copies patches of real texture from outside the hole."""
    from engine.inpainting.patchmatch import patchmatch_fill

    return patchmatch_fill(crop, hole, source=options.source, patch_size=options.patch_size,
                           iterations=options.iterations, seed=options.seed,
                           device=_device(options), progress=options.progress,
                           cancel=options.cancel)


@inpaint_method("learned")
def fill_learned(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """The shipped inpainting network (Fourier convolutions), run on bounded windows."""
    from engine.inpainting.learned import learned_fill
    from engine.weights import WeightsError

    try:
        return learned_fill(crop, hole, device=_device(options), progress=options.progress,
                            cancel=options.cancel)
    except WeightsError as error:
        raise OpError(f"the learned inpainting model cannot be used: {error}; choose the "
                      f"'exemplar' or 'telea' method") from None


@inpaint_method("telea")
def fill_telea(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """Telea's fast-marching method: fills from the edge inwards (good for thin damage)."""
    return diffusion_fill(crop, hole, options.radius, TELEA)


@inpaint_method("ns")
def fill_navier_stokes(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """Navier–Stokes based inpainting: continues isophotes (lines of equal brightness) inward."""
    return diffusion_fill(crop, hole, options.radius, NAVIER_STOKES)


METHOD_CHOICES = ("auto", *INPAINT_METHODS)
"""The ``method`` param's choices: ``auto`` then every registered method."""

DEFAULT_METHOD = "learned"
"""The best measured method: on the bench (120 CBSD68 × NVIDIA-mask pairs, 20 per hole-size
bin) the learned fill (network and Telea, 0.6 / 0.4) had the highest masked PSNR overall (18.57
dB against Telea 18.13, Navier–Stokes 18.04, exemplar 17.12, G'MIC 15.08) and in every bin, at
0.4 s an image. See resources/models/MODELS.md."""


def context_margin(radius: int) -> int:
    """Pixels of known surroundings kept around each hole: ``max(32, 3 * radius)``."""
    return max(32, 3 * radius)


LEARNED_MARGIN = 64
"""Context kept around each hole for the learned method (and for ``auto``'s grouping)."""


def hole_regions(mask: np.ndarray, margin: int
                 ) -> Iterator[tuple[tuple[slice, slice], np.ndarray]]:
    """Crops that together cover every masked pixel, each with ``margin`` px of context.

    Masked regions closer than ``2 * margin`` share one crop. Only the mask's bounding box is
    scanned, so a small mask on a huge image costs little.

    Yields
    ------
    box : tuple of slice
        ``(rows, cols)`` of the crop in the image.
    own : ndarray of bool
        The crop-sized mask of the pixels this crop is responsible for filling.
    """
    outer = mask_bbox(mask, margin)
    if outer is None:
        return
    rows, cols = outer
    sub = np.ascontiguousarray(mask[rows, cols], dtype=np.uint8)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1))
    grown = cv2.dilate(sub, square)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    for label in range(1, count):
        left, top, width, height = stats[label, :4]
        inner = (slice(top, top + height), slice(left, left + width))
        own = (labels[inner] == label) & (sub[inner] > 0)
        if not own.any():
            continue
        box = (slice(rows.start + top, rows.start + top + height),
               slice(cols.start + left, cols.start + left + width))
        yield box, own


def hole_radius(hole: np.ndarray) -> float:
    """The hole's thickness: the largest distance (px) from a hole pixel to a known one."""
    inside = cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1), cv2.DIST_L2, 3)
    return float(inside.max())


def surround_texture(crop: np.ndarray, hole: np.ndarray, width: int = 16) -> float:
    """Mean luma gradient magnitude of the known pixels within ``width`` px of the hole."""
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)) > 0
    # Gradients that touch the hole are not known: shrink the ring's inner edge by one pixel.
    ring &= ~(cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if not ring.any():
        return 0.0
    luma = to_gray(crop)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return float(np.mean(np.hypot(gx, gy)[ring]))


def choose_method(crop: np.ndarray, hole: np.ndarray, learned_ok: bool) -> str:
    """The ``auto`` rule for one hole (see :data:`AUTO_THIN_RADIUS`, :data:`AUTO_TEXTURE`).

    Thin damage → ``learned`` (``telea`` without weights); a thick hole in textured
    surroundings → ``exemplar``; a thick hole in smooth surroundings → ``learned``
    (``exemplar`` without weights).
    """
    if hole_radius(hole) <= AUTO_THIN_RADIUS:
        return "learned" if learned_ok else "telea"
    if surround_texture(crop, hole) >= AUTO_TEXTURE or not learned_ok:
        return "exemplar"
    return "learned"


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


def _learned_ok() -> bool:
    from engine.inpainting.learned import weights_available

    return weights_available()


@register
class InpaintOp(Op):
    """Fill the masked pixels from the surrounding image."""

    name = "inpaint"
    title = "Inpaint"
    category = "Inpaint"
    description = (
        "Fill the masked area from its surroundings. 'learned' (the default) is a small neural "
        "network: the most faithful fill for scratches, dust and small holes, smooth on large "
        "ones. 'exemplar' copies real texture from the rest of the photo: use it to remove an "
        "object or fill a large hole in grass, stone, foliage. 'auto' picks per hole: thin "
        "damage → learned, thick holes in textured surroundings → exemplar. Telea and "
        "Navier–Stokes smooth thin damage quickly. Only pixels around the mask are processed, "
        "so big photos are quick.")
    params = (
        Choice("method", DEFAULT_METHOD, choices=METHOD_CHOICES,
               help="How to fill: auto (per hole), exemplar (PatchMatch), learned (network), "
                    "telea (fast marching) or ns (Navier–Stokes)."),
        Int("radius", 5, minimum=1, maximum=100,
            help="Telea/Navier–Stokes: neighbourhood (px) each filled pixel draws from."),
        Int("patch_size", 7, minimum=3, maximum=21, step=2, odd=True,
            help="Exemplar: edge of the patches copied (px); larger keeps bigger structures."),
        Int("iterations", 4, minimum=1, maximum=20,
            help="Exemplar: search-and-vote rounds per pyramid level (more = slower, finer)."),
        Int("sample_margin", 200, minimum=0, maximum=100_000,
            help="Exemplar: how far around the hole (px) to take patches from; 0 = the whole "
                 "image."),
        Seed("seed", 0, help="Exemplar: random seed; the same seed gives the same fill."),
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
        elif method == "exemplar":
            margin = params["sample_margin"] if params["sample_margin"] > 0 else max(mask.shape)
        else:
            margin = LEARNED_MARGIN
        learned_ok = _learned_ok() if method == "auto" else True
        out = image.copy()
        regions = list(hole_regions(mask, margin))
        crop_pixels = 0
        used: dict[str, int] = {}
        for index, (box, own) in enumerate(regions):
            cancel.raise_if_cancelled()
            progress(index / len(regions), f"inpainting region {index + 1} of {len(regions)}")
            chosen = method
            if method == "auto":
                chosen = choose_method(image[box], mask[box], learned_ok)
                if chosen == "exemplar":
                    grown = _grow(box, own, params["sample_margin"], mask.shape)
                    box, own = grown, _reframe(box, own, grown)
            rows, cols = box
            options = FillOptions(
                radius=radius, patch_size=params["patch_size"],
                iterations=params["iterations"], seed=params["seed"], device=device,
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
