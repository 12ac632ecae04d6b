"""Exemplar-based completion: multi-scale PatchMatch with coherence voting.

The family behind Photoshop's Content-Aware Fill and GIMP's Resynthesizer: Wexler, Shechtman &
Irani, "Space-Time Completion of Video" (PAMI 2007) fill a hole by alternating two steps on an
image pyramid, coarse to fine:

1. **Search.** For every patch that overlaps the hole (the *targets*), find the most similar
   patch lying wholly in the source region (outside the hole, and inside an optional allowed
   region). The nearest-neighbour field (NNF) is found with PatchMatch (Barnes et al.,
   SIGGRAPH 2009): random initialisation, *propagation* (a neighbour's match, shifted, is a
   good guess) and *random search* around the current match at halving radii — the shared
   core, :class:`engine.ops.patchmatch.PatchField`.
2. **Vote.** Each hole pixel becomes the weighted mean of the pixels that the overlapping
   target patches' matches put there; a patch's weight is ``α · exp(-d / 2σ²)`` with its match
   distance d, σ² the 75th percentile of d at that level, and α the confidence of the patch
   centre: 1 on known pixels and ``1.3^-depth`` inside the hole. The same confidence weights
   the pixels of the patch distance, so the known context and the hole's rim lead.

The coarsest level is initialised with OpenCV's Telea fill
(:func:`engine.ops.inpaint.diffusion.telea_fill`), or with a given ``start`` (a *layout*: the
structured method's learned fill); each finer level starts from the upsampled NNF (so the
fine image is voted from real source pixels, not an upsampled blur) and refines it with
propagation and a local random search. A coarse pixel is a hole when half or
more of its fine pixels are; its other pixels average the known fine pixels only, so no value
from inside the hole ever reaches a source patch.

A :class:`~engine.ops.inpaint.steering.Steering` can make each level follow the layout, keep
the surroundings' contrast and vote sharply (the structured method,
:mod:`engine.ops.inpaint.structured`); the default steers nothing (the exemplar method).

Everything runs on the crop the caller gives; :class:`engine.ops.inpaint.inpaint_op.InpaintOp`
cuts a crop around each hole with a ``sample_margin`` of context. torch is imported inside the
functions only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.pixels import from_tensor, to_tensor
from engine.core.progress import CancelToken, Progress, null_progress
from engine.ops.inpaint.diffusion import telea_fill
from engine.ops.inpaint.steering import LevelSteer, Steering
from engine.ops.patchmatch import PatchField

if TYPE_CHECKING:
    import torch

__all__ = ["patchmatch_fill", "pyramid_levels"]

_GAMMA = 1.3
"""Confidence decay per pixel of depth into the hole (Wexler et al. 2007)."""
_FAST_TARGETS = 40_000
"""Above this many targets at a level, the search compares a lattice of every third patch pixel
(3×3 of a 7×7 patch) and propagates from the nearest neighbours only; voting still uses every
pixel of every patch."""


def pyramid_levels(hole: np.ndarray, patch_size: int, shape: tuple[int, int]) -> int:
    """Number of pyramid levels: halve while the hole is thicker than a patch and the image
    stays at least ``max(4 · patch, 24)`` pixels on its short side."""
    radius = patch_size // 2
    inside = cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1), cv2.DIST_L2, 3)
    thickness = float(inside.max())
    h, w = shape
    levels = 1
    while thickness > radius and min(h, w) / 2 >= max(4 * patch_size, 24):
        thickness /= 2
        h, w = (h + 1) // 2, (w + 1) // 2
        levels += 1
    return levels


def _downsample(image: torch.Tensor, hole: torch.Tensor, allowed: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Half size: known pixels averaged (holes excluded); a coarse pixel is a hole when at
    least half of its fine pixels are, and allowed as a source only when all of them are."""
    import torch.nn.functional as F

    known = (~hole).float()[None, None]
    total = F.avg_pool2d(image[None] * known, 2, ceil_mode=True)
    weight = F.avg_pool2d(known, 2, ceil_mode=True)
    small = (total / weight.clamp(min=1e-6))[0]
    small_hole = weight[0, 0] < 0.5
    small_allowed = -F.max_pool2d(-allowed.float()[None, None], 2, ceil_mode=True)[0, 0] > 0.5
    return small, small_hole, small_allowed


@contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """On the CPU, run with one intra-op thread and restore the setting afterwards.

    The search is thousands of small gathers: a second thread gains nothing (measured: 3.5 s
    either way for 1 MP), and when the other core is busy OpenMP's spin-waiting made the same
    fill take 10-30 s. (The setting is process-wide; it is restored on exit.)
    """
    import torch

    if device.type != "cpu" or torch.get_num_threads() == 1:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _rounds(iterations: int, count: int) -> list[int]:
    """Rounds per level, coarsest first: 2×, then ``iterations``, and on the two finest levels
    (which start from a good upsampled field and cost the most) half and a quarter of it."""
    rounds = [iterations] * count
    rounds[0] = 2 * iterations
    if count >= 2:
        rounds[-1] = max(1, iterations // 4)
    if count >= 3:
        rounds[-2] = max(1, iterations // 2)
    return rounds


def _corners_overlapping(hole: np.ndarray, patch: int) -> np.ndarray:
    """Corners (top-left) of the ``patch×patch`` windows that hold at least one hole pixel."""
    integral = cv2.integral(hole.astype(np.uint8)).astype(np.int64)
    hits = (integral[patch:, patch:] - integral[:-patch, patch:]
            - integral[patch:, :-patch] + integral[:-patch, :-patch])
    return hits > 0


def _corners_inside(region: np.ndarray, patch: int) -> np.ndarray:
    """Corners of the ``patch×patch`` windows that lie wholly in ``region``; where none does,
    the corners whose window centre lies in it."""
    integral = cv2.integral(region.astype(np.uint8)).astype(np.int64)
    inside = (integral[patch:, patch:] - integral[:-patch, patch:]
              - integral[patch:, :-patch] + integral[:-patch, :-patch]) == patch * patch
    if inside.any():
        return inside
    r = patch // 2
    return region[r:region.shape[0] - r, r:region.shape[1] - r].copy()


def _confidence(hole: np.ndarray) -> np.ndarray:
    """1 on known pixels, ``1.3^-d`` inside the hole at ``d`` px from its edge (Wexler et al.)."""
    inside = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    return np.maximum(np.power(_GAMMA, -inside), 1e-6).astype(np.float32)


def _field(image: torch.Tensor, hole: np.ndarray, allowed: np.ndarray, patch: int
           ) -> PatchField:
    """The level's field: the hole's patches against the known patches of the allowed region."""
    import torch

    targets = _corners_overlapping(hole, patch)
    stride = 1 if targets.sum() <= _FAST_TARGETS or patch < 5 else (3 if patch >= 7 else 2)
    return PatchField(image.clone(), _corners_inside(allowed & ~hole, patch), image, patch,
                      targets=targets, weights=torch.from_numpy(_confidence(hole)).to(image.device),
                      writable=torch.from_numpy(hole).to(image.device), stride=stride)


def patchmatch_fill(image: np.ndarray, hole: np.ndarray, *, source: np.ndarray | None = None,
                    avoid: np.ndarray | None = None, patch_size: int = 7, iterations: int = 3,
                    seed: int = 0, device: Any = "cpu", start: np.ndarray | None = None,
                    steering: Steering | None = None, progress: Progress = null_progress,
                    cancel: CancelToken | None = None, info: dict[str, Any] | None = None
                    ) -> np.ndarray:
    """Fill ``hole`` of ``image`` with patches copied from the rest of it.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        The crop to complete, values in [0, 1]; not modified. Pixels in the hole are ignored.
    hole : ndarray of bool, H×W
        True = fill.
    source : ndarray of bool, H×W, optional
        Where patches may be taken from (default: everywhere outside the hole).
    avoid : ndarray of bool, H×W, optional
        Where patches must never come from (e.g. another object).
    patch_size : int
        Odd patch edge in pixels (7 by default).
    iterations : int
        Search-and-vote rounds per pyramid level (the coarsest level gets twice as many).
    seed : int
        Seed of the random initialisation and search: the same seed gives the same fill.
    device : str or torch.device
        Where to compute.
    start : ndarray, float32 H×W×C, optional
        A complete guess of the hole (a layout) to start the coarsest level from and, with
        ``steering``, to follow at every level; default: OpenCV Telea at the coarsest level.
    steering : Steering, optional
        How to steer the completion (default: not at all, the exemplar method).
    progress, cancel
        Reported and checked once per iteration of each level.
    info : dict, optional
        Filled with ``levels``, ``targets`` and ``mean_distance``.

    Returns
    -------
    ndarray, float32 H×W×C
        ``image`` with the hole filled; pixels outside the hole are returned unchanged.

    Raises
    ------
    ValueError
        An even or too small patch size, no source pixel to copy from, or a ``start`` of
        another shape.
    """
    import torch
    import torch.nn.functional as F

    if patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(f"patch size must be odd and at least 3, got {patch_size}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if start is not None and np.shape(start) != np.shape(image):
        raise ValueError(f"the start is {np.shape(start)}, the image {np.shape(image)}")
    steering = steering or Steering()
    cancel = cancel or CancelToken()
    hole = np.asarray(hole, dtype=bool)
    out = np.array(image, dtype=np.float32, copy=True)
    if not hole.any():
        return out
    allowed = np.ones_like(hole) if source is None else np.asarray(source, dtype=bool).copy()
    if avoid is not None:
        allowed &= ~np.asarray(avoid, dtype=bool)
    if not (allowed & ~hole).any():
        raise ValueError("there is no pixel to copy patches from: widen the sample region or "
                         "make the hole smaller")
    dev = torch.device(device)
    generator = torch.Generator(device=dev)
    generator.manual_seed(int(seed))

    with torch.inference_mode(), _one_cpu_thread(dev):
        img = to_tensor(out, dev)[0]
        hol = torch.from_numpy(hole).to(dev)
        alw = torch.from_numpy(allowed).to(dev)
        count = pyramid_levels(hole, patch_size, hole.shape)
        pyramid = [(img, hol, alw)]
        for _ in range(count - 1):
            smaller = _downsample(*pyramid[-1])
            if not (smaller[2] & ~smaller[1]).any():
                break                       # no source left at that scale: stop one level up
            pyramid.append(smaller)
        count = len(pyramid)
        layouts: list[torch.Tensor | None] = [None] * count
        if start is not None:
            layouts[0] = to_tensor(np.asarray(start, dtype=np.float32), dev)[0]
            for depth in range(1, count):
                layouts[depth] = F.avg_pool2d(layouts[depth - 1][None], 2, ceil_mode=True)[0]
        coarse_image, coarse_hole, coarse_allowed = pyramid[-1]
        first = layouts[-1] if start is not None else to_tensor(telea_fill(
            from_tensor(coarse_image), coarse_hole.cpu().numpy(), 3.0), dev)[0]
        pyramid[-1] = (torch.where(coarse_hole[None], first, coarse_image), coarse_hole,
                       coarse_allowed)

        previous: PatchField | None = None
        rounds = _rounds(iterations, count)
        done, total_rounds = 0, sum(rounds)
        for depth in range(count - 1, -1, -1):
            level_image, level_hole, level_allowed = pyramid[depth]
            hole_np, allowed_np = level_hole.cpu().numpy(), level_allowed.cpu().numpy()
            coarsest = previous is None
            if not coarsest:
                guess = F.interpolate(previous.image[None], size=hole_np.shape,
                                      mode="bilinear", align_corners=False)[0]
                level_image = torch.where(level_hole[None], guess, level_image)
            level = _field(level_image, hole_np, allowed_np, patch_size)
            steer = LevelSteer(steering, depth, level_image, hole_np, layouts[depth])
            if coarsest:
                level.random_init(generator)
                level.consider(level.random_corners(level.count, generator))
                search_radius = float(max(hole_np.shape))
            else:
                level.upsample_from(previous, generator)
                steer.vote(level)
                level.rescore()
                search_radius = float(4 * patch_size)
            level_rounds = rounds[count - 1 - depth]
            for round_index in range(level_rounds):
                cancel.raise_if_cancelled()
                progress(done / total_rounds,
                         f"PatchMatch level {count - depth} of {count}, "
                         f"round {round_index + 1}")
                jumps = (8, 4, 2, 1) if coarsest else (
                    (1,) if level.count > _FAST_TARGETS else (2, 1))
                level.search(jumps, search_radius, generator, shrink=2.0 if coarsest else 4.0)
                if coarsest:
                    level.consider(level.random_corners(level.count, generator))
                steer.vote(level, last=depth == 0 and round_index == level_rounds - 1)
                level.rescore()
                done += 1
            previous = level
        assert previous is not None
        filled = from_tensor(previous.image)
        if info is not None:
            finite = torch.isfinite(previous.dist)
            info.update(levels=count, targets=previous.count,
                        mean_distance=float(previous.dist[finite].mean()) if finite.any()
                        else math.inf)
    out[hole] = np.clip(filled[hole], 0.0, 1.0)
    return out
