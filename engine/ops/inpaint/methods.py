"""The inpainting fill methods and the ``auto`` rule that picks one per hole.

Each method is a small function ``fill(crop, hole, options) -> crop`` registered in
:data:`INPAINT_METHODS` with :func:`inpaint_method`; the ``inpaint`` op's ``method`` choice lists
them after ``auto``, which picks one per connected hole (:func:`auto_plan`)
and is the default (:data:`DEFAULT_METHOD`).

``structured``
    The learned network's layout rebuilt from the photo's own patches by steered multi-scale
    PatchMatch (:mod:`engine.ops.inpaint.structured`): sharp, structured fills for objects,
    people and large holes. What ``auto`` uses for every hole thicker than thin damage.
``exemplar``
    Plain multi-scale PatchMatch completion with coherence voting
    (:mod:`engine.ops.inpaint.exemplar`), started from Telea and free to drift.
``learned``
    The shipped Fourier-convolution network (:mod:`engine.ops.inpaint.learned`): scratches,
    dust, thin damage; soft on large holes.
``telea``, ``ns``
    OpenCV's fast marching (Telea) and Navier–Stokes diffusion: smooth, fast, for damage a few
    pixels wide.

The op never hands a whole image to a method: it cuts a crop around each group of nearby
masked regions (the group's bounding box plus a context margin — ``sample_margin`` for the
patch-based methods, which also limits where patches come from), fills it, and writes back only
that group's masked pixels, so a 50 MP photo with one scratch costs a few kilopixels of work.
The learned method further splits a large crop into windows of at most 512 × 512 px.

OpenCV's diffusion methods run per channel at float precision
(:mod:`engine.ops.inpaint.diffusion`), so 16-bit sources keep their precision; the other
methods compute in float32 too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from engine.core.masks import hole_depth
from engine.core.progress import CancelToken, Progress, null_progress, sub_range
from engine.ops.inpaint.diffusion import NAVIER_STOKES, TELEA, diffusion_fill
from engine.ops.registry import OpError

__all__ = [
    "AUTO_THIN_RADIUS",
    "DEFAULT_METHOD",
    "INPAINT_METHODS",
    "LEARNED_MARGIN",
    "METHOD_CHOICES",
    "FillOptions",
    "context_margin",
    "inpaint_method",
    "PATCH_METHODS",
    "auto_plan",
    "learned_available",
]


@dataclass(frozen=True)
class FillOptions:
    """Everything a fill method may use besides the crop and its hole.

    Attributes
    ----------
    radius : int
        Neighbourhood of the diffusion methods (px).
    patch_size, iterations, seed : int
        PatchMatch patch edge, rounds per pyramid level, random seed (structured, exemplar).
    device : str or None
        Torch device kind (``None``: the engine's choice).
    source : ndarray of bool or None
        Crop-sized region patches may be copied from (structured, exemplar); None = anywhere
        in the crop.
    smooth : ndarray of bool or None
        Crop-sized part of the hole that ``structured`` fills with its learned layout rather
        than patches (thin damage beside a large hole, :func:`auto_plan`); None = none.
    progress, cancel
        Progress callback and cancel token for this crop.
    """

    radius: int = 5
    patch_size: int = 7
    iterations: int = 3
    seed: int = 0
    device: str | None = None
    source: np.ndarray | None = None
    smooth: np.ndarray | None = None
    progress: Progress = null_progress
    cancel: CancelToken = field(default_factory=CancelToken)


FillMethod = Callable[[np.ndarray, np.ndarray, FillOptions], np.ndarray]
"""``fill(crop, hole, options)``: crop is float32 ``h×w×C`` in [0, 1], hole is bool ``h×w``;
returns the filled crop (float32, same shape). Pixels outside the hole are not read back."""

INPAINT_METHODS: dict[str, FillMethod] = {}
"""Fill methods by name, in the order the op's ``method`` choice shows them (after ``auto``)."""

AUTO_THIN_RADIUS = 6.0
"""``auto``: holes whose inscribed radius is at most this (px: scratches, dust, strokes up to
about 12 px wide) take the fast path, the learned network (Telea when its weights are
missing); thicker holes go to ``structured``. At 12 px (strokes up to 24 px) the network also
took a third of the bench's 10–20 % holes and left a smooth patch there: in that bin the patch
distance was 153 against structured's 103 (G'MIC 115), for 0.4 dB more masked PSNR. Thin
scratches and dust stay on the fast path, where the network has the best PSNR and a rebuild
has too few patches to choose from."""


LOW_TELEA_SHARE = 0.3
"""``structured``: share of OpenCV Telea in the fill's lowest frequencies (the rest is the
layout's). The two err differently, so their mix predicts the hole's large-scale colour and
shading better than either, and Telea's streaks keep the coarse patch statistics closer to a
photo's than the network's smooth guess."""


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


@inpaint_method("structured")
def fill_structured(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """The learned layout rebuilt from the photo's own patches (Telea's layout without the
    network's weights); ``options.smooth`` keeps the layout itself."""
    from engine.ops.inpaint.learned import NETWORK_WEIGHT
    from engine.ops.inpaint.structured import structured_fill

    layout_share = 0.1
    layout_options = replace(options, progress=sub_range(options.progress, 0.0, layout_share))
    # One Telea fill serves twice: in the layout (the learned method's own blend, done here so
    # that it is not computed again) and in the low frequencies.
    telea = fill_telea(crop, hole, options)
    low = None
    if learned_available():
        network = fill_learned(crop, hole, layout_options, whole=True, network_weight=1.0)
        blend = NETWORK_WEIGHT * network + (1.0 - NETWORK_WEIGHT) * telea
        layout = np.where(hole[:, :, None], blend, crop).astype(np.float32)
        if LOW_TELEA_SHARE > 0:
            low = (1.0 - LOW_TELEA_SHARE) * layout + LOW_TELEA_SHARE * telea
    else:
        layout = telea
    filled = structured_fill(crop, hole, layout, low=low, source=options.source,
                             patch_size=options.patch_size, iterations=options.iterations,
                             seed=options.seed, device=_device(options),
                             progress=sub_range(options.progress, layout_share, 1.0),
                             cancel=options.cancel)
    if options.smooth is None:
        return filled
    return np.where(options.smooth[:, :, None], layout, filled).astype(np.float32)


@inpaint_method("exemplar")
def fill_exemplar(crop: np.ndarray, hole: np.ndarray, options: FillOptions) -> np.ndarray:
    """Plain PatchMatch completion: copies patches of real texture from outside the hole."""
    from engine.ops.inpaint.exemplar import patchmatch_fill

    return patchmatch_fill(crop, hole, source=options.source, patch_size=options.patch_size,
                           iterations=options.iterations, seed=options.seed,
                           device=_device(options), progress=options.progress,
                           cancel=options.cancel)


@inpaint_method("learned")
def fill_learned(crop: np.ndarray, hole: np.ndarray, options: FillOptions, *,
                 whole: bool = False, network_weight: float | None = None) -> np.ndarray:
    """The shipped inpainting network (Fourier convolutions), run on bounded windows (with
    ``whole``, on the whole crop where its reduced copy fits one: the structured layout);
    ``network_weight`` overrides its share against Telea (1: the network alone)."""
    from engine.models.weights import WeightsError
    from engine.ops.inpaint.learned import NETWORK_WEIGHT, learned_fill, learned_layout

    run = learned_layout if whole else learned_fill
    weight = NETWORK_WEIGHT if network_weight is None else network_weight
    try:
        return run(crop, hole, device=_device(options), progress=options.progress,
                   cancel=options.cancel, network_weight=weight)
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

PATCH_METHODS = ("structured", "exemplar")
"""Methods that copy patches: their crops keep ``sample_margin`` px of context."""

DEFAULT_METHOD = "auto"
"""``auto``: thin damage to the learned network, every thicker hole to ``structured``. See the
README's inpainting benchmark for the figures behind the choice."""


def context_margin(radius: int) -> int:
    """Pixels of known surroundings kept around each hole: ``max(32, 3 * radius)``."""
    return max(32, 3 * radius)


LEARNED_MARGIN = 64
"""Context kept around each hole for the learned method (and for ``auto``'s grouping)."""


def auto_plan(hole: np.ndarray, learned_ok: bool) -> tuple[str, np.ndarray | None]:
    """The ``auto`` rule for a group of nearby holes (one crop), hole by hole.

    A hole is thick when it is more than :data:`AUTO_THIN_RADIUS` px deep somewhere. A group
    often mixes both kinds: a flake beside a few hairlines. When one of its connected holes
    is thick, the group goes to ``structured``, and its thin holes take that method's learned
    layout — what the fast path would give them, at no extra cost — instead of patches; a
    group of thin holes takes the fast path, ``learned`` (``telea`` without weights).

    Parameters
    ----------
    hole : ndarray of bool, shape (h, w)
        The group's holes.
    learned_ok : bool
        Whether the learned network's weights are installed.

    Returns
    -------
    method : str
    smooth : ndarray of bool or None
        For ``structured``: the thin holes it leaves to its layout (None: there are none).
    """
    deep = hole_depth(hole) > AUTO_THIN_RADIUS
    if not deep.any():
        return ("learned" if learned_ok else "telea"), None
    _, labels = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    thin = hole & ~np.isin(labels, np.unique(labels[deep]))
    return "structured", thin if thin.any() else None


def learned_available() -> bool:
    """Whether the learned method's weights are installed."""
    from engine.ops.inpaint.learned import weights_available

    return weights_available()
