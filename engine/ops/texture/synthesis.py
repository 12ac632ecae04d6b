"""Patch re-synthesis: rebuild a synthesised texture from the sample's own patches.

The GAN gets the layout of a texture right long before its fine detail (on a CPU budget its
output is soft). This step keeps the layout and replaces the detail with real sample pixels:
texture optimisation (Kwatra et al., "Texture Optimization for Example-based Synthesis",
SIGGRAPH 2005) with a PatchMatch search (Barnes et al., SIGGRAPH 2009), started from the given
texture instead of noise. On an image pyramid, coarse to fine, each level alternates:

1. **Search.** Every ``patch×patch`` neighbourhood of the texture keeps a match in the sample
   (a nearest-neighbour field, NNF). It improves by *propagation* (the match of the neighbour
   ``k`` pixels away, shifted by ``k``, for ``k`` = 8, 4, 2, 1 on the coarsest level and 2, 1
   above it) and by *random search* around the current match at shrinking radii. Propagation
   is what makes neighbouring matches coherent, so the vote below copies whole regions of the
   sample sharply instead of averaging unrelated patches into a blur.
2. **Vote.** Each pixel becomes the weighted mean of the sample pixels that the ``patch²``
   overlapping matches put there; a match weighs ``exp(-d / 2σ²)`` with its distance ``d`` and
   σ² the 75th percentile of the distances (Wexler et al., PAMI 2007).

The coarsest level searches against the starting texture, so it sets where things go; each
finer level starts from the upsampled NNF (its first image is voted from real sample pixels)
and refines it. Periodic input stays periodic: its neighbourhoods wrap around the edges.
Sample neighbourhoods that touch ``forbidden`` pixels (a hole being filled) are never used.

Where large structures go decides most of how close a synthesis comes to its sample, and one
start often settles on a poor arrangement, so :func:`rebuild_best_layout` lays out several
starts at 1/8 scale (cheap), keeps the one whose patches are distributed most like the
sample's (:func:`layout_distance`) and details only that one. The ``texture_gan`` op draws its
starts from the GAN (:func:`rebuild_gan_texture`), ``texture_patch``'s patchmatch method from
smooth noise (:func:`synthesise_texture`).

All targets are updated at once with torch gathers, so the same code runs on a CPU or a GPU.
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

if TYPE_CHECKING:
    import torch

    from engine.ops.texture.gan import TextureModel

__all__ = ["LAYOUTS", "LAYOUT_SCALE", "candidate_seed", "layout_distance", "layout_factor",
           "rebuild_best_layout", "rebuild_gan_texture", "refine_levels", "refine_texture",
           "smooth_noise", "synthesise_texture"]

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

VOTE_QUANTILE = 0.75
"""σ² of the vote weights is this quantile of the match distances (Wexler et al.); sharper
weights (0.25, 0.05) left more stray matches in and scored worse."""
_WINDOW_CACHE_FLOATS = 1 << 25
"""Largest set of shifted texture windows kept between distance evaluations (128 MB)."""


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
    previous: _Level | None = None
    with torch.inference_mode():
        for level in reversed(range(count)):
            factor = 2 ** level
            source = _shrink(sample, factor)
            state = _Level(_to_tensor(source, dev), _usable_origins(bad, source.shape[:2], patch),
                           _to_tensor(_shrink(texture, factor, periodic), dev), patch, periodic)
            coarsest = previous is None
            if coarsest:
                state.nnf = state.random_origins(state.target_count, generator)
                state.rescore()
            else:
                state.upsample_from(previous, generator)
                state.vote()
                state.rescore()
            for _ in range(rounds[level]):
                cancel.raise_if_cancelled()
                for jump in ((8, 4, 2, 1) if coarsest else (2, 1)):
                    state.propagate(jump)
                radius = float(max(source.shape[:2])) if coarsest else float(4 * patch)
                while radius >= 1.0:
                    state.random_search(radius, generator)
                    radius /= 2.0
                state.vote()
                state.match_histogram()
                state.rescore()
                done += 1
                progress(done / total, f"rebuilding from the sample's patches ({done}/{total})")
            previous = state
    assert previous is not None
    out = previous.image.clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(out, dtype=np.float32)


def _to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(device)


def _shrink(image: np.ndarray, factor: int, periodic: bool = False) -> np.ndarray:
    """``image`` at ``1/factor`` of its size (area averaging; Fourier when periodic)."""
    if factor == 1:
        return np.ascontiguousarray(image, dtype=np.float32)
    h, w = (max(1, round(side / factor)) for side in image.shape[:2])
    if periodic:
        from engine.ops.texture.periodic import periodic_resize

        return np.clip(periodic_resize(image, h, w), 0.0, 1.0)
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return out.reshape(h, w, -1).astype(np.float32)


def _usable_origins(forbidden: np.ndarray, size: tuple[int, int], patch: int) -> np.ndarray:
    """Top-left corners of the ``patch×patch`` sample neighbourhoods free of forbidden pixels
    (a shrunken pixel is forbidden when any pixel under it is)."""
    h, w = size
    if forbidden.any():
        forbidden = _shrink_mask(forbidden, size)
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


class _Level:
    """One pyramid level: the sample, the texture being rebuilt and its NNF.

    Target neighbourhoods are indexed by their top-left corner: every pixel when periodic
    (wrapping), else the ``(H - p + 1) × (W - p + 1)`` corners that fit. ``nnf`` holds, per
    target, the flat index of the matched sample corner.
    """

    def __init__(self, source: torch.Tensor, usable: np.ndarray, image: torch.Tensor,
                 patch: int, periodic: bool) -> None:
        import torch

        self.source = source
        self.image = image
        self.patch = patch
        self.periodic = periodic
        self.channels, self.sh, self.sw = source.shape
        _, self.h, self.w = image.shape
        self.th, self.tw = (self.h, self.w) if periodic else (self.h - patch + 1,
                                                              self.w - patch + 1)
        self.target_count = self.th * self.tw
        self.uh, self.uw = usable.shape                         # corner grid of the sample
        self.usable = torch.from_numpy(usable.reshape(-1)).to(source.device)
        self.usable_list = torch.nonzero(self.usable).reshape(-1)
        self.flat_source = source.reshape(self.channels, -1)
        # Comparing only every second row and column of the patches (a lattice) halved the
        # time and cost 40 % in SWD (9 samples: 126 → 178), so every pixel counts.
        self.search_offsets = [(dy, dx) for dy in range(patch) for dx in range(patch)]
        sorted_values = source.reshape(self.channels, -1)
        if not usable.all():
            sorted_values = sorted_values[:, _covered_pixels(usable, patch, self.sh, self.sw)]
        self.sorted_source = sorted_values.sort(dim=1).values
        self.nnf = torch.zeros(self.target_count, dtype=torch.long, device=source.device)
        self.dist = torch.full((self.target_count,), float("inf"), device=source.device)
        self._window_cache: tuple[torch.Tensor, list[torch.Tensor]] | None = None

    # --- helpers ------------------------------------------------------------------------

    def random_origins(self, count: int, generator: torch.Generator) -> torch.Tensor:
        import torch

        pick = torch.randint(self.usable_list.numel(), (count,), generator=generator,
                             device=self.usable_list.device)
        return self.usable_list[pick]

    def _target_window(self, dy: int, dx: int) -> torch.Tensor:
        """Texture pixels at offset (dy, dx) of every target: ``C × th × tw``."""
        import torch

        if self.periodic:
            return torch.roll(self.image, shifts=(-dy, -dx), dims=(1, 2))
        return self.image[:, dy:dy + self.th, dx:dx + self.tw]

    def _source_pixels(self, base: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """Sample pixels at offset (dy, dx) of the corners whose top-left pixels are at the
        flat indices ``base`` (from :meth:`_base`): ``C × th × tw``."""
        values = self.flat_source[:, base + (dy * self.sw + dx)]
        return values.reshape(self.channels, self.th, self.tw)

    def _base(self, origins: torch.Tensor) -> torch.Tensor:
        """Flat sample index of the top-left pixel of each corner in ``origins``."""
        return (origins // self.uw) * self.sw + origins % self.uw

    def _windows(self) -> list[torch.Tensor] | None:
        """The texture's pixels at each search offset, kept while the image is unchanged
        (when they fit in about 128 MB)."""
        size = len(self.search_offsets) * self.channels * self.target_count
        if size > _WINDOW_CACHE_FLOATS:
            return None
        if self._window_cache is None or self._window_cache[0] is not self.image:
            windows = [self._target_window(dy, dx).contiguous()
                       for dy, dx in self.search_offsets]
            self._window_cache = (self.image, windows)
        return self._window_cache[1]

    def distance(self, origins: torch.Tensor) -> torch.Tensor:
        """Mean squared difference of every target to the sample corner in ``origins``."""
        base = self._base(origins)
        windows = self._windows()
        total = None
        for n, (dy, dx) in enumerate(self.search_offsets):
            target = windows[n] if windows is not None else self._target_window(dy, dx)
            diff = target - self._source_pixels(base, dy, dx)
            part = (diff * diff).sum(dim=0)
            total = part if total is None else total + part
        assert total is not None
        return total.reshape(-1) / float(len(self.search_offsets) * self.channels)

    def consider(self, candidates: torch.Tensor) -> None:
        """Keep each candidate corner (invalid ones are −1) where it is closer."""
        import torch

        valid = candidates >= 0
        safe = torch.where(valid, candidates, self.nnf)
        valid &= self.usable[safe]
        dist = self.distance(safe)
        better = valid & (dist < self.dist)
        self.nnf = torch.where(better, safe, self.nnf)
        self.dist = torch.where(better, dist, self.dist)

    def rescore(self) -> None:
        self.dist = self.distance(self.nnf)

    # --- search -------------------------------------------------------------------------

    def propagate(self, jump: int) -> None:
        """Try the matches of the four neighbours ``jump`` away, shifted by ``jump``."""
        import torch

        grid = self.nnf.reshape(self.th, self.tw)
        rows, cols = grid // self.uw, grid % self.uw
        for axis, sign in ((0, 1), (0, -1), (1, 1), (1, -1)):
            shift = sign * jump
            if self.periodic:
                n_rows = torch.roll(rows, shifts=shift, dims=axis)
                n_cols = torch.roll(cols, shifts=shift, dims=axis)
                inside = torch.ones_like(grid, dtype=torch.bool)
            else:
                n_rows, n_cols, inside = _shifted(rows, cols, shift, axis)
            if axis == 0:
                n_rows = n_rows + shift
            else:
                n_cols = n_cols + shift
            inside &= (n_rows >= 0) & (n_rows < self.uh) & (n_cols >= 0) & (n_cols < self.uw)
            candidate = torch.where(inside, n_rows * self.uw + n_cols, -1)
            self.consider(candidate.reshape(-1))

    def random_search(self, radius: float, generator: torch.Generator) -> None:
        """Try one random corner within ``radius`` of each current match."""
        import torch

        rows, cols = self.nnf // self.uw, self.nnf % self.uw
        r = max(1, int(radius))
        dy = torch.randint(-r, r + 1, rows.shape, generator=generator, device=rows.device)
        dx = torch.randint(-r, r + 1, rows.shape, generator=generator, device=rows.device)
        rows = (rows + dy).clamp(0, self.uh - 1)
        cols = (cols + dx).clamp(0, self.uw - 1)
        self.consider(rows * self.uw + cols)

    def upsample_from(self, coarse: _Level, generator: torch.Generator) -> None:
        """Start from the coarse NNF: each target takes its parent's match, doubled."""
        import torch

        dev = self.nnf.device
        y = torch.arange(self.th, device=dev)
        x = torch.arange(self.tw, device=dev)
        py = (y // 2).clamp(max=coarse.th - 1)
        px = (x // 2).clamp(max=coarse.tw - 1)
        parent = coarse.nnf.reshape(coarse.th, coarse.tw)[py][:, px]
        rows = (parent // coarse.uw) * 2 + (y % 2)[:, None]
        cols = (parent % coarse.uw) * 2 + (x % 2)[None, :]
        rows = rows.clamp(0, self.uh - 1)
        cols = cols.clamp(0, self.uw - 1)
        nnf = (rows * self.uw + cols).reshape(-1)
        fallback = self.random_origins(nnf.numel(), generator)
        self.nnf = torch.where(self.usable[nnf], nnf, fallback)

    # --- vote ---------------------------------------------------------------------------

    def match_histogram(self) -> None:
        """Give each channel the sample's distribution of values (rank for rank).

        Averaging overlapping matches pulls values toward the mean, and a search against a
        washed-out image then prefers the sample's flattest patches; restoring the histogram
        after every vote keeps the highlights and shadows in play (Heeger & Bergen 1995)."""
        import torch

        flat = self.image.reshape(self.channels, -1)
        order = flat.argsort(dim=1)
        n, m = flat.shape[1], self.sorted_source.shape[1]
        picks = ((torch.arange(n, device=flat.device, dtype=torch.float64) + 0.5) * (m / n))
        picks = picks.long().clamp_(0, m - 1)
        matched = torch.empty_like(flat)
        matched.scatter_(1, order, self.sorted_source[:, picks])
        self.image = matched.reshape(self.image.shape)

    def vote(self) -> None:
        """Each pixel ← weighted mean of what the overlapping matches put there."""
        import torch

        dist = self.dist if torch.isfinite(self.dist).all() else self.distance(self.nnf)
        sigma2 = torch.quantile(dist[:: max(1, dist.numel() // 65536)], VOTE_QUANTILE)
        sigma2 = sigma2.clamp_min(1e-6)
        weight = torch.exp(-dist / (2.0 * sigma2)).reshape(1, self.th, self.tw)
        total = torch.zeros_like(self.image)
        norm = torch.zeros_like(self.image[:1])
        base = self._base(self.nnf)
        for dy in range(self.patch):
            for dx in range(self.patch):
                values = self._source_pixels(base, dy, dx) * weight
                if self.periodic:
                    total += torch.roll(values, shifts=(dy, dx), dims=(1, 2))
                    norm += torch.roll(weight, shifts=(dy, dx), dims=(1, 2))
                else:
                    total[:, dy:dy + self.th, dx:dx + self.tw] += values
                    norm[:, dy:dy + self.th, dx:dx + self.tw] += weight
        self.image = total / norm.clamp_min(1e-12)


def _shifted(rows: torch.Tensor, cols: torch.Tensor, shift: int, axis: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``rows``/``cols`` moved by ``shift`` along ``axis`` (no wrap) and where that is defined."""
    import torch

    n_rows = torch.zeros_like(rows)
    n_cols = torch.zeros_like(cols)
    inside = torch.zeros_like(rows, dtype=torch.bool)
    size = rows.shape[axis]
    if abs(shift) >= size:
        return n_rows, n_cols, inside
    src = [slice(None), slice(None)]
    dst = [slice(None), slice(None)]
    if shift > 0:
        src[axis], dst[axis] = slice(0, size - shift), slice(shift, size)
    else:
        src[axis], dst[axis] = slice(-shift, size), slice(0, size + shift)
    n_rows[tuple(dst)] = rows[tuple(src)]
    n_cols[tuple(dst)] = cols[tuple(src)]
    inside[tuple(dst)] = True
    return n_rows, n_cols, inside


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
    small = _shrink(sample, factor)
    small_bad = _shrink_mask(bad, small.shape[:2])
    choosing = sub_range(progress, 0.0, 0.25)
    best, best_score = None, float("inf")
    for index, start in enumerate(itertools.chain((first, second), remaining)):
        if start.shape != shape:
            raise ValueError("all candidate starts must have the same size")
        layout = refine_texture(
            _shrink(start, factor, periodic), small, periodic=periodic, forbidden=small_bad,
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
    reference = _patch_set(sample, _usable_origins(bad, sample.shape[:2], patch), patch)
    mine = _patch_set(layout, np.ones((layout.shape[0] - patch + 1,
                                       layout.shape[1] - patch + 1), bool), patch)
    channels = sample.shape[2]
    both = np.concatenate([reference, mine]).reshape(-1, channels, patch * patch)
    mean = both.mean(axis=(0, 2)).repeat(patch * patch)
    std = both.std(axis=(0, 2)).repeat(patch * patch) + 1e-6
    return sliced_wasserstein((reference - mean) / std, (mine - mean) / std,
                              seed=_LAYOUT_SCORE_SEED)


def _shrink_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` at ``size``: a pixel is set when any pixel under it is."""
    if not mask.any():
        return np.zeros(size, bool)
    if mask.shape == size:
        return mask
    area = cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return area > 0.0


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
