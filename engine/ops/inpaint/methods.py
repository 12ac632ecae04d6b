"""The inpainting fill methods and the ``auto`` rule that picks one per hole.

Each method is a small function ``fill(crop, hole, options) -> crop`` registered in
:data:`INPAINT_METHODS` with :func:`inpaint_method`; the ``inpaint`` op's ``method`` choice lists
them after ``auto``, which picks one per hole (:func:`choose_method`). The default is
``learned``, the method with the best masked PSNR on the bench (:data:`DEFAULT_METHOD`).

``exemplar``
    Multi-scale PatchMatch completion with coherence voting
    (:mod:`engine.ops.inpaint.exemplar`): copies real texture and structure from the rest of
    the image; the tool for removing objects and filling large holes.
``learned``
    The shipped Fourier-convolution network (:mod:`engine.ops.inpaint.learned`): scratches,
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
(:mod:`engine.ops.inpaint.diffusion`), so 16-bit sources keep their precision; the exemplar and
learned methods compute in float32 too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engine.core.masks import hole_radius
from engine.core.pixels import to_gray
from engine.core.progress import CancelToken, Progress, null_progress
from engine.ops.inpaint.diffusion import NAVIER_STOKES, TELEA, diffusion_fill
from engine.ops.registry import OpError

__all__ = [
    "AUTO_TEXTURE",
    "AUTO_THIN_RADIUS",
    "DEFAULT_METHOD",
    "INPAINT_METHODS",
    "LEARNED_MARGIN",
    "METHOD_CHOICES",
    "FillOptions",
    "choose_method",
    "context_margin",
    "inpaint_method",
    "learned_available",
    "surround_texture",
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
    from engine.core.device import select_device

    return select_device(options.device)


@inpaint_method("exemplar")
def fill_exemplar(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """PatchMatch completion: copies patches of real texture from outside the hole."""
    from engine.ops.inpaint.exemplar import patchmatch_fill

    return patchmatch_fill(crop, hole, source=options.source, patch_size=options.patch_size,
                           iterations=options.iterations, seed=options.seed,
                           device=_device(options), progress=options.progress,
                           cancel=options.cancel)


@inpaint_method("learned")
def fill_learned(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """The shipped inpainting network (Fourier convolutions), run on bounded windows."""
    from engine.models.weights import WeightsError
    from engine.ops.inpaint.learned import learned_fill

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


def learned_available() -> bool:
    """Whether the learned method's weights are installed."""
    from engine.ops.inpaint.learned import weights_available

    return weights_available()
