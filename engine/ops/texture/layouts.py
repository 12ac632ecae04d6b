"""Choosing the layout of a synthesised texture, then rebuilding it from the sample's patches.

Where large structures go decides most of how close a synthesis comes to its sample, and one start
often settles on a poor arrangement, so :func:`rebuild_best_layout` lays out several starts at 1/8
scale (cheap), keeps the one whose patches are distributed most like the sample's
(:func:`layout_distance`) and details only that one
(:func:`engine.ops.texture.synthesis.refine_texture`). The ``texture_gan`` op draws its starts from
the GAN (:func:`rebuild_gan_texture`), ``texture_patch``'s patchmatch method from smooth noise
(:func:`synthesise_texture`).

On one core of a shared 2-core Xeon, 32 layouts and the rebuild take 12 s (noise layouts) to
25 s (GAN layouts) for 256×256, 34 to 57 s for 512×512 and 151 to 255 s for 1024×1024.
torch is imported inside the functions only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress, sub_range
from engine.ops.texture.synthesis import refine_texture, shrink, shrink_mask, usable_origins

if TYPE_CHECKING:
    from engine.ops.texture.gan import TextureModel

__all__ = ["LAYOUTS", "LAYOUT_SCALE", "candidate_seed", "layout_distance", "layout_factor",
           "rebuild_best_layout", "rebuild_gan_texture", "smooth_noise", "synthesise_texture"]

LAYOUT_SCALE = 8
"""Scale (a power of two) at which :func:`rebuild_best_layout` compares candidate layouts: at
1/8 a 7×7 patch spans 56 sample pixels, the scale of a texture's large structures."""

LAYOUTS = 32
"""Candidate layouts tried by default. On the 25 samples of the texture bench (256×256 output)
the best of 1, 8, 16 and 32 GAN layouts gave a mean SWD of about 74, 61, 59 and 56 (noise
layouts: 74 and 62 for 1 and 8). Each layout costs about 0.25 s at 256×256 on one core, plus
its GAN generation (0.4 s)."""

_LAYOUT_SCORE_SEED = 4242
"""Fixes the patches and directions of the layout score, so that choices are reproducible."""

def candidate_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th candidate layout for ``seed``: unrelated for neighbouring seeds
    (``seed + index`` would make seeds 0 and 1 share seven of eight candidates)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, index]).generate_state(1)[0])


def layout_factor(texture_shape: tuple[int, int], sample_shape: tuple[int, int], patch: int = 7,
                  scale: int = LAYOUT_SCALE) -> int:
    """The power of two, at most ``scale``, at which both images are still two patches
    across; 1 when even full size is too small for that."""
    factor = 1
    while (factor * 2 <= scale
           and min(*texture_shape, *sample_shape) // (factor * 2) >= 2 * patch):
        factor *= 2
    return factor


def rebuild_best_layout(starts: Iterable[np.ndarray], sample: np.ndarray, *,
                        count: int | None = None, periodic: bool = False,
                        forbidden: np.ndarray | None = None, patch: int = 7,
                        scale: int = LAYOUT_SCALE, seed: int = 0, device: Any = "cpu",
                        progress: Progress = null_progress,
                        cancel: CancelToken | None = None) -> np.ndarray:
    """Rebuild the best of several candidate layouts from ``sample``'s patches.

    Which large structures go where decides most of how close a synthesis comes to its sample,
    and a single start often settles on a poor arrangement (on the texture bench one seed can
    score twice another's distance). So every start is first rebuilt from the sample's patches
    at ``1/scale`` of its size (:func:`refine_texture`, two levels; milliseconds), each of those
    small layouts is scored by the sliced Wasserstein distance between its 7×7 patches and the
    sample's at the same scale, and only the closest is carried up, through
    ``log2(scale) + 1`` levels, to full size.

    Parameters
    ----------
    starts : iterable of ndarray, float32 H×W×C
        Candidate starting textures, all the same size (GAN outputs for several seeds, or
        noise); the result has their size. They are read one at a time and only their
        ``1/scale`` layouts are kept, so a generator keeps just one full-size start in memory.
    sample : ndarray, float32 h×w×C
        The texture sample, same channels.
    count : int, optional
        How many starts there are, for progress (``len(starts)`` when omitted).
    periodic, forbidden, patch, seed, device, progress, cancel
        As for :func:`refine_texture`; ``periodic`` starts must be periodic.
    scale : int
        Largest scale (a power of two) at which the layouts are compared; smaller where the
        images are too small (:func:`layout_factor`).

    Returns
    -------
    ndarray, float32 H×W×C
        The rebuilt texture, values in [0, 1].

    Raises
    ------
    ValueError
        No starts, starts of different sizes, or the conditions of :func:`refine_texture`.
    engine.core.progress.Cancelled
        When ``cancel`` is set.
    """
    remaining = iter(starts)
    first = next(remaining, None)
    if first is None:
        raise ValueError("rebuild_best_layout needs at least one start")
    shape = first.shape
    if len(shape) != 3 or sample.ndim != 3 or shape[2] != sample.shape[2]:
        raise ValueError("texture and sample must be H×W×C images with the same channels")
    if patch < 3 or patch % 2 == 0:
        raise ValueError(f"patch must be odd and at least 3, got {patch}")
    factor = layout_factor(shape[:2], sample.shape[:2], patch, scale)
    second = next(remaining, None) if factor > 1 else None
    if second is None:
        return refine_texture(first, sample, periodic=periodic, forbidden=forbidden,
                              patch=patch, levels=factor.bit_length(), coarsest=2, seed=seed,
                              device=device, progress=progress, cancel=cancel)
    total = count if count is not None else len(starts)
    bad = (np.zeros(sample.shape[:2], bool) if forbidden is None
           else np.asarray(forbidden, dtype=bool))
    small = shrink(sample, factor)
    small_bad = shrink_mask(bad, small.shape[:2])
    choosing = sub_range(progress, 0.0, 0.25)
    best, best_score = None, float("inf")
    for index, start in enumerate(itertools.chain((first, second), remaining)):
        if start.shape != shape:
            raise ValueError("all candidate starts must have the same size")
        layout = refine_texture(
            shrink(start, factor, periodic), small, periodic=periodic, forbidden=small_bad,
            patch=patch, levels=2, coarsest=2, seed=candidate_seed(seed, index), device=device,
            progress=sub_range(choosing, index / total, min(1.0, (index + 1) / total)),
            cancel=cancel)
        del start                  # only the small layout is kept
        score = layout_distance(layout, small, small_bad, patch)
        if score < best_score:
            best, best_score = layout, score
    assert best is not None
    height, width = shape[:2]
    if periodic:
        from engine.ops.texture.periodic import periodic_resize

        grown = periodic_resize(best, height, width)
    else:
        grown = cv2.resize(best, (width, height), interpolation=cv2.INTER_CUBIC)
    grown = np.clip(grown.reshape(height, width, -1), 0.0, 1.0).astype(np.float32)
    return refine_texture(grown, sample, periodic=periodic, forbidden=forbidden, patch=patch,
                          levels=factor.bit_length(), coarsest=2, seed=seed, device=device,
                          progress=sub_range(progress, 0.25, 1.0), cancel=cancel)


def rebuild_gan_texture(model: TextureModel, sample: np.ndarray, height: int, width: int, *,
                        tileable: bool = False, forbidden: np.ndarray | None = None,
                        layouts: int = LAYOUTS, seed: int = 0, device: Any = "cpu",
                        progress: Progress = null_progress, cancel: CancelToken | None = None,
                        info: dict[str, Any] | None = None) -> np.ndarray:
    """The ``texture_gan`` output: the best of ``layouts`` GAN textures, rebuilt from
    ``sample``'s patches.

    The trained generator gives a new arrangement of the texture for every seed in
    milliseconds; :func:`rebuild_best_layout` keeps the one closest to the sample and replaces
    its soft detail with the sample's own pixels.

    Parameters
    ----------
    model : engine.ops.texture.gan.TextureModel
        The texture's trained GAN.
    sample : ndarray, float32 h×w×C
        The sample it was trained on.
    height, width : int
        Output size.
    tileable : bool
        Periodic GAN layouts and a periodic rebuild: the result tiles without a seam.
    layouts : int
        GAN layouts to choose from (seeds derived from ``seed`` by :func:`candidate_seed`).
    forbidden, seed, device, progress, cancel
        As for :func:`rebuild_best_layout`.
    info : dict, optional
        Receives the GAN generation's device and fallbacks
        (:func:`engine.ops.texture.gan.generate_texture`).

    Returns
    -------
    ndarray, float32 height×width×C
        The texture, values in [0, 1].
    """
    from engine.ops.texture.gan import generate_texture

    if layouts < 1:
        raise ValueError(f"layouts must be at least 1, got {layouts}")
    # Generated one at a time as the layout choice reads them (32 full-size textures at once
    # would hold gigabytes at 4096×4096).
    starts = (generate_texture(model, height, width, seed=candidate_seed(seed, index),
                               tileable=tileable, device=device, info=info, cancel=cancel)
              for index in range(layouts))
    return rebuild_best_layout(starts, sample, count=layouts, periodic=tileable,
                               forbidden=forbidden, seed=seed, device=device,
                               progress=progress, cancel=cancel)


def layout_distance(layout: np.ndarray, sample: np.ndarray,
                    forbidden: np.ndarray | None = None, patch: int = 7) -> float:
    """How far ``layout``'s ``patch×patch`` neighbourhoods are, as a distribution, from
    ``sample``'s (those free of ``forbidden`` pixels): their sliced Wasserstein distance, each
    channel normalised by both sets' statistics as in :func:`engine.core.swd.swd`, with
    fixed patches and directions. 0 for a layout equal to the sample; lower is closer."""
    from engine.core.swd import sliced_wasserstein

    bad = np.zeros(sample.shape[:2], bool) if forbidden is None else forbidden
    reference = _patch_set(sample, usable_origins(bad, sample.shape[:2], patch), patch)
    mine = _patch_set(layout, np.ones((layout.shape[0] - patch + 1,
                                       layout.shape[1] - patch + 1), bool), patch)
    channels = sample.shape[2]
    both = np.concatenate([reference, mine]).reshape(-1, channels, patch * patch)
    mean = both.mean(axis=(0, 2)).repeat(patch * patch)
    std = both.std(axis=(0, 2)).repeat(patch * patch) + 1e-6
    return sliced_wasserstein((reference - mean) / std, (mine - mean) / std,
                              seed=_LAYOUT_SCORE_SEED)


def _patch_set(image: np.ndarray, usable: np.ndarray, patch: int) -> np.ndarray:
    """The ``patch×patch`` neighbourhoods of ``image`` whose top-left corners are ``usable``,
    as rows of a ``N × (patch²·C)`` array."""
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch), axis=(0, 1))
    windows = windows[:usable.shape[0], :usable.shape[1]][usable]
    return windows.reshape(windows.shape[0], -1).astype(np.float32)


def smooth_noise(sample: np.ndarray, height: int, width: int, *, seed: int = 0,
                 forbidden: np.ndarray | None = None) -> np.ndarray:
    """Smooth periodic noise (16 px features) with the per-channel mean and spread of the
    sample pixels outside ``forbidden``: a neutral start for :func:`refine_texture`."""
    from engine.ops.texture.periodic import periodic_resize

    channels = sample.shape[2]
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((max(2, height // 16), max(2, width // 16), channels))
    noise = periodic_resize(coarse.astype(np.float32), height, width)
    usable = sample if forbidden is None else sample[~np.asarray(forbidden, dtype=bool)]
    usable = usable.reshape(-1, channels)
    if usable.size == 0:
        raise ValueError("the sample has no pixel outside the masked area; select a larger "
                         "sample")
    spread = noise.reshape(-1, channels).std(axis=0) + 1e-6
    start = (noise - noise.reshape(-1, channels).mean(axis=0)) / spread
    start = start * usable.std(axis=0) + usable.mean(axis=0)
    return np.clip(start, 0.0, 1.0).astype(np.float32)


def synthesise_texture(sample: np.ndarray, height: int, width: int, *, periodic: bool = False,
                       forbidden: np.ndarray | None = None, layouts: int = LAYOUTS,
                       seed: int = 0, device: Any = "cpu", progress: Progress = null_progress,
                       cancel: CancelToken | None = None) -> np.ndarray:
    """A new ``height×width`` texture made of ``sample``'s patches, from scratch.

    ``layouts`` smooth-noise starts (:func:`smooth_noise`, periodic) go to
    :func:`rebuild_best_layout`, which lays each out coarsely from the sample's patches, keeps
    the closest to the sample and details it, like PatchMatch-based synthesis tools (Barnes et
    al. 2009; G'MIC's ``syntexturize_matchpatch``). Other parameters are those of
    :func:`rebuild_best_layout`.

    Returns
    -------
    ndarray, float32 height×width×C
        The texture, values in [0, 1]; exactly periodic when ``periodic``.
    """
    if layouts < 1:
        raise ValueError(f"layouts must be at least 1, got {layouts}")
    starts = (smooth_noise(sample, height, width, seed=candidate_seed(seed, index),
                           forbidden=forbidden) for index in range(layouts))
    return rebuild_best_layout(starts, sample, count=layouts, periodic=periodic,
                               forbidden=forbidden, seed=seed, device=device,
                               progress=progress, cancel=cancel)
