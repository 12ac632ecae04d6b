"""Texture optimisation: rebuild a synthesised texture from the sample's own patches.

The GAN gets the layout of a texture right long before its fine detail (on a CPU budget its
output is soft). :func:`refine_texture` keeps the layout and replaces the detail with real
sample pixels: texture optimisation (Kwatra et al., "Texture Optimization for Example-based
Synthesis", SIGGRAPH 2005) on the shared PatchMatch core (:mod:`engine.ops.patchmatch`),
started from the given texture instead of noise. On an image pyramid, coarse to fine, each level
alternates a search (propagation at jumps 8, 4, 2, 1 on the coarsest level and 2, 1 above it,
then random search at shrinking radii) and a vote, after which each channel gets the sample's
histogram back (otherwise the vote washes out to the sample's flattest patches).

The coarsest level searches against the starting texture, so it sets where things go; each
finer level starts from the upsampled NNF (its first image is voted from real sample pixels)
and refines it. Periodic input stays periodic: its neighbourhoods wrap around the edges.
Sample neighbourhoods that touch ``forbidden`` pixels (a hole being filled) are never used.
Choosing among several starting layouts is :mod:`engine.ops.texture.layouts`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from engine.core.pixels import to_tensor
from engine.core.progress import CancelToken, Progress, null_progress
from engine.ops.patchmatch import PatchField, match_histogram

__all__ = ["refine_levels", "refine_texture", "shrink", "shrink_mask", "usable_origins"]


def refine_levels(texture_shape: tuple[int, int], sample_shape: tuple[int, int], patch: int,
                  levels: int, coarsest: int = 4) -> int:
    """Pyramid levels actually used: at most ``levels``, with the coarsest sample and texture
    still at least ``coarsest`` patches across."""
    count = 1
    while (count < levels
           and min(*sample_shape, *texture_shape) // 2 ** count >= coarsest * patch):
        count += 1
    return count


def refine_texture(texture: np.ndarray, sample: np.ndarray, *, periodic: bool = False,
                   forbidden: np.ndarray | None = None, patch: int = 7, levels: int = 3,
                   coarsest: int = 4, iterations: int = 4, seed: int = 0, device: Any = "cpu",
                   progress: Progress = null_progress, cancel: CancelToken | None = None
                   ) -> np.ndarray:
    """Rebuild ``texture`` from ``sample``'s patches, keeping its layout.

    Parameters
    ----------
    texture : ndarray, float32 H×W×C
        The starting texture (a GAN output), values in [0, 1].
    sample : ndarray, float32 h×w×C
        The texture sample, same channels.
    periodic : bool
        ``texture`` repeats (a tileable output): neighbourhoods wrap around its edges, so the
        result repeats too.
    forbidden : ndarray of bool, h×w, optional
        Sample pixels that no copied neighbourhood may contain.
    patch : int
        Odd neighbourhood edge in pixels, the same at every level.
    levels : int
        Pyramid levels (fewer on small images, see :func:`refine_levels`). Each level halves
        the scale at which the start's layout is kept: 3 keeps it, 5 lets the sample's
        patches rearrange almost everything.
    coarsest : int
        The coarsest level keeps at least this many patches across the smaller image.
    iterations : int
        Search-and-vote rounds per level; the coarsest level gets two more.
    seed : int
        Seeds the random search: the same seed gives the same result.
    device : str or torch.device
        Where to compute.
    progress, cancel
        Reported and checked every round.

    Returns
    -------
    ndarray, float32 H×W×C
        The rebuilt texture, values in [0, 1].

    Raises
    ------
    ValueError
        Mismatched channels, an even or tiny patch, images smaller than a patch, or a sample
        with no neighbourhood free of ``forbidden`` pixels.
    engine.core.progress.Cancelled
        When ``cancel`` is set.
    """
    import torch

    if texture.ndim != 3 or sample.ndim != 3 or texture.shape[2] != sample.shape[2]:
        raise ValueError("texture and sample must be H×W×C images with the same channels")
    if patch < 3 or patch % 2 == 0:
        raise ValueError(f"patch must be odd and at least 3, got {patch}")
    if min(sample.shape[:2]) < patch or min(texture.shape[:2]) < patch:
        raise ValueError(f"texture and sample must be at least {patch} px on each side")
    cancel = cancel or CancelToken()
    dev = torch.device(device)
    generator = torch.Generator(device=dev)
    generator.manual_seed(int(seed))
    count = refine_levels(texture.shape[:2], sample.shape[:2], patch, levels, coarsest)
    bad = (np.zeros(sample.shape[:2], bool) if forbidden is None
           else np.asarray(forbidden, dtype=bool))
    rounds = [iterations + 2 * (level == count - 1) for level in range(count)]
    total, done = sum(rounds), 0
    previous: PatchField | None = None
    with torch.inference_mode():
        for level in reversed(range(count)):
            factor = 2 ** level
            source = shrink(sample, factor)
            usable = usable_origins(bad, source.shape[:2], patch)
            state = PatchField(to_tensor(source, dev)[0], usable,
                               to_tensor(shrink(texture, factor, periodic), dev)[0], patch,
                               periodic=periodic)
            reference = state.flat_source
            if not usable.all():
                reference = reference[:, _covered_pixels(usable, patch, *source.shape[:2])]
            reference = reference.sort(dim=1).values
            coarsest = previous is None
            if coarsest:
                state.random_init(generator)
            else:
                state.upsample_from(previous, generator)
                state.vote()
                state.rescore()
            for _ in range(rounds[level]):
                cancel.raise_if_cancelled()
                state.search((8, 4, 2, 1) if coarsest else (2, 1),
                             float(max(source.shape[:2])) if coarsest else float(4 * patch),
                             generator)
                state.vote()
                state.image = match_histogram(state.image, reference)
                state.rescore()
                done += 1
                progress(done / total, f"rebuilding from the sample's patches ({done}/{total})")
            previous = state
    assert previous is not None
    out = previous.image.clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(out, dtype=np.float32)


def shrink(image: np.ndarray, factor: int, periodic: bool = False) -> np.ndarray:
    """``image`` at ``1/factor`` of its size (area averaging; Fourier when periodic)."""
    if factor == 1:
        return np.ascontiguousarray(image, dtype=np.float32)
    h, w = (max(1, round(side / factor)) for side in image.shape[:2])
    if periodic:
        from engine.ops.texture.periodic import periodic_resize

        return np.clip(periodic_resize(image, h, w), 0.0, 1.0)
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return out.reshape(h, w, -1).astype(np.float32)


def usable_origins(forbidden: np.ndarray, size: tuple[int, int], patch: int) -> np.ndarray:
    """Top-left corners of the ``patch×patch`` sample neighbourhoods free of forbidden pixels
    (a shrunken pixel is forbidden when any pixel under it is)."""
    h, w = size
    if forbidden.any():
        forbidden = shrink_mask(forbidden, size)
        integral = cv2.integral(forbidden.astype(np.uint8)).astype(np.int64)
        hits = (integral[patch:, patch:] - integral[:-patch, patch:]
                - integral[patch:, :-patch] + integral[:-patch, :-patch])
        usable = hits == 0
    else:
        usable = np.ones((h - patch + 1, w - patch + 1), bool)
    if not usable.any():
        raise ValueError("the sample has no neighbourhood free of the masked area; select a "
                         "larger sample")
    return usable


def _covered_pixels(usable: np.ndarray, patch: int, height: int, width: int) -> np.ndarray:
    """Flat indices of the sample pixels inside at least one usable neighbourhood."""
    kernel = np.ones((patch, patch), np.uint8)
    corners = np.zeros((height, width), np.uint8)
    corners[:usable.shape[0], :usable.shape[1]] = usable
    # A pixel is covered when a usable corner lies within patch-1 above and left of it.
    anchor = (patch - 1, patch - 1)
    covered = cv2.dilate(corners, kernel, anchor=anchor, borderType=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return np.flatnonzero(covered)


def shrink_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` at ``size``: a pixel is set when any pixel under it is."""
    if not mask.any():
        return np.zeros(size, bool)
    if mask.shape == size:
        return mask
    area = cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return area > 0.0
