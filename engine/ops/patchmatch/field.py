"""One pyramid level of PatchMatch: a nearest-neighbour field between target and source patches.

The family behind Photoshop's Content-Aware Fill, GIMP's Resynthesizer and texture optimisation
(Barnes et al., "PatchMatch", SIGGRAPH 2009; Wexler, Shechtman & Irani, PAMI 2007; Kwatra et
al., SIGGRAPH 2005). A :class:`PatchField` holds a *source* image (where patches are copied
from: a texture sample, or the known part of a photo), a *target* image (what is being made:
a texture, or a photo whose hole is being filled) and, for every target patch, the source patch
it currently matches (the NNF). It offers the three moves every PatchMatch method is made of:

1. **Search.** :meth:`propagate` tries each neighbour's match, shifted (a neighbour's match is
   a good guess, which is what makes matches coherent and fills sharp), and
   :meth:`random_search` tries random matches around the current one. All targets move at once
   with torch gathers (a Jacobi / jump-flooding flavour of the propagation), so the same code
   runs on a CPU or a GPU.
2. **Vote.** :meth:`vote` sets every writable target pixel to the weighted mean of the source
   pixels that the overlapping matches put there; a match weighs ``exp(-d / 2σ²)`` (σ² a
   quantile of the match distances) times the target patch's confidence.
3. **Coarse to fine.** :meth:`upsample_from` starts a level from the level below it: each
   target takes its parent's match, doubled.

Patches are ``patch × patch`` and named by their top-left corner. Targets are every corner of
the target (a texture; with ``periodic`` the patches wrap around its edges) or the corners a
``targets`` mask selects (the patches that overlap a hole). Per-pixel ``weights`` (the
confidence of a fill, high on known pixels and decaying into the hole) weight both the patch
distance and the vote, and only ``writable`` pixels change. Source corners are usable when
their whole patch may be copied.

torch is imported inside the methods only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["PatchField", "VOTE_QUANTILE", "match_histogram"]

VOTE_QUANTILE = 0.75
"""σ² of the vote weights is this quantile of the match distances (Wexler et al.); sharper
weights (0.25, 0.05) left more stray matches in and scored worse on the texture bench."""
_CACHE_FLOATS = 1 << 25
"""Largest set of shifted target values kept between distance evaluations (128 MB)."""


class PatchField:
    """The nearest-neighbour field of one pyramid level (see the module notes).

    Parameters
    ----------
    source : Tensor, C×Hs×Ws
        Where patches are copied from.
    usable : ndarray or Tensor of bool, (Hs - p + 1)×(Ws - p + 1)
        Source corners whose patch may be copied; at least one must be set.
    target : Tensor, C×Ht×Wt
        The image being made; its writable pixels change at every :meth:`vote`.
    patch : int
        Patch edge ``p`` in pixels.
    periodic : bool
        Target patches wrap around the target's edges (a tileable texture); then every target
        pixel is a corner, and ``targets`` must be None.
    targets : ndarray or Tensor of bool, optional
        Target corners to match (a ``(Ht - p + 1)×(Wt - p + 1)`` mask); None: all of them.
    weights : Tensor, Ht×Wt, optional
        Confidence of each target pixel, weighting the patch distance and the vote.
    writable : Tensor of bool, Ht×Wt, optional
        Target pixels the vote may change; None: all.
    stride : int
        Compare every ``stride``-th row and column of a patch in the search (the vote always
        uses every pixel); 1 compares them all.
    """

    def __init__(self, source: torch.Tensor, usable: np.ndarray | torch.Tensor,
                 target: torch.Tensor, patch: int, *, periodic: bool = False,
                 targets: np.ndarray | torch.Tensor | None = None,
                 weights: torch.Tensor | None = None, writable: torch.Tensor | None = None,
                 stride: int = 1) -> None:
        import torch

        if periodic and targets is not None:
            raise ValueError("periodic fields match every target corner")
        device = source.device
        self.device = device
        self.patch = patch
        self.periodic = periodic
        self.source = source
        self.channels, self.sh, self.sw = source.shape
        _, self.h, self.w = target.shape
        self.uh, self.uw = self.sh - patch + 1, self.sw - patch + 1
        usable = torch.as_tensor(usable, device=device).reshape(-1)
        if usable.numel() != self.uh * self.uw:
            raise ValueError("usable must cover the source's patch corners")
        if not usable.any():
            raise ValueError("no source patch may be copied")
        self.usable = usable
        self.usable_list = torch.nonzero(usable).reshape(-1)
        self.flat_source = source.reshape(self.channels, -1)
        # The corner grid of the target and which of its corners are targets.
        self.gh, self.gw = (self.h, self.w) if periodic else (self.h - patch + 1,
                                                              self.w - patch + 1)
        if targets is None:
            self.dense = True
            ty, tx = torch.meshgrid(torch.arange(self.gh, device=device),
                                    torch.arange(self.gw, device=device), indexing="ij")
            self.ty, self.tx = ty.reshape(-1), tx.reshape(-1)
        else:
            self.dense = False
            mask = torch.as_tensor(targets, device=device).reshape(self.gh, self.gw)
            self.ty, self.tx = torch.nonzero(mask, as_tuple=True)
        self.count = int(self.ty.numel())
        self.grid_id = torch.full((self.gh * self.gw,), -1, dtype=torch.long, device=device)
        self.grid_id[self.ty * self.gw + self.tx] = torch.arange(self.count, device=device)
        offsets = [(dy, dx) for dy in range(patch) for dx in range(patch)]
        self.vote_offsets = offsets
        self.search_offsets = [(dy, dx) for dy, dx in offsets
                               if dy % stride == 0 and dx % stride == 0]
        self.weights = weights
        self._weight_values = [] if weights is None else [
            self._values_at(weights, dy, dx).contiguous() for dy, dx in self.search_offsets]
        self.writable = writable
        self.nnf = torch.zeros(self.count, dtype=torch.long, device=device)
        self.dist = torch.full((self.count,), float("inf"), device=device)
        self._cache: tuple[torch.Tensor, list[torch.Tensor] | None] | None = None
        self.image = target

    # --- geometry -----------------------------------------------------------------------

    def _target_index(self, dy: int, dx: int) -> torch.Tensor:
        """Flat target-pixel index at offset (dy, dx) of every target patch."""
        if self.periodic:
            return ((self.ty + dy) % self.h) * self.w + (self.tx + dx) % self.w
        return (self.ty + dy) * self.w + (self.tx + dx)

    def _values_at(self, image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """``image`` (C×Ht×Wt or Ht×Wt) at offset (dy, dx) of every target: ``C×N`` (or ``N``)."""
        import torch

        planes = image if image.ndim == 3 else image[None]
        if self.dense and not self.periodic:
            values = planes[:, dy:dy + self.gh, dx:dx + self.gw].reshape(planes.shape[0], -1)
        elif self.dense:
            values = torch.roll(planes, shifts=(-dy, -dx), dims=(1, 2)).reshape(
                planes.shape[0], -1)
        else:
            values = planes.reshape(planes.shape[0], -1)[:, self._target_index(dy, dx)]
        return values if image.ndim == 3 else values[0]

    def _target_values(self) -> list[torch.Tensor] | None:
        """The target's values at each search offset, kept while the image is unchanged (when
        they fit in about 128 MB; None otherwise, and they are gathered per evaluation)."""
        if self._cache is None or self._cache[0] is not self.image:
            size = len(self.search_offsets) * self.channels * self.count
            values = None
            if size <= _CACHE_FLOATS:
                values = [self._values_at(self.image, dy, dx).contiguous()
                          for dy, dx in self.search_offsets]
            self._cache = (self.image, values)
        return self._cache[1]

    def _base(self, corners: torch.Tensor) -> torch.Tensor:
        """Flat source-pixel index of the top-left pixel of each source corner."""
        return (corners // self.uw) * self.sw + corners % self.uw

    # --- search -------------------------------------------------------------------------

    def distance(self, corners: torch.Tensor) -> torch.Tensor:
        """Patch distance of every target to the source corner in ``corners`` (``N`` or
        ``K×N``): the (confidence-weighted) mean squared difference per compared value."""
        import torch

        shape = corners.shape
        corners = corners.reshape(-1, self.count)
        base = self._base(corners)
        cached = self._target_values()
        total = torch.zeros(corners.shape, device=self.device)
        norm = torch.zeros(self.count, device=self.device) if self.weights is not None else None
        for index, (dy, dx) in enumerate(self.search_offsets):
            target = cached[index] if cached is not None else self._values_at(self.image, dy, dx)
            source = self.flat_source[:, base + (dy * self.sw + dx)]        # C×K×N
            diff = source - target[:, None, :]
            part = (diff * diff).sum(dim=0)
            if self.weights is not None:
                weight = self._weight_values[index]
                part = part * weight
                norm += weight
            total += part
        if norm is None:
            total /= float(len(self.search_offsets) * self.channels)
        else:
            total /= norm.clamp_min(1e-12)[None] * self.channels
        return total.reshape(shape)

    def consider(self, candidates: torch.Tensor) -> None:
        """Keep, per target, the closest of its match and ``candidates`` (``N`` or ``K×N``
        source corners; −1 or an unusable corner is no candidate)."""
        import torch

        candidates = candidates.reshape(-1, self.count)
        valid = candidates >= 0
        safe = torch.where(valid, candidates, self.nnf[None])
        valid &= self.usable[safe]
        dist = torch.where(valid, self.distance(safe), torch.full_like(safe, float("inf"),
                                                                         dtype=torch.float32))
        best, which = dist.min(dim=0)
        better = best < self.dist
        self.nnf = torch.where(better, safe.gather(0, which[None])[0], self.nnf)
        self.dist = torch.where(better, best, self.dist)

    def rescore(self) -> None:
        """Recompute the current matches' distances (after the target changed)."""
        self.dist = self.distance(self.nnf)

    def random_corners(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` usable source corners drawn uniformly."""
        import torch

        pick = torch.randint(self.usable_list.numel(), (count,), generator=generator,
                             device=self.device)
        return self.usable_list[pick]

    def random_init(self, generator: torch.Generator) -> None:
        """Give every target a random usable match and score it."""
        self.nnf = self.random_corners(self.count, generator)
        self.rescore()

    def propagate(self, jump: int) -> None:
        """Try the matches of the four targets ``jump`` px away, shifted back by ``jump``."""
        import torch

        rows, cols = self.nnf // self.uw, self.nnf % self.uw
        candidates = []
        for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
            ny, nx = self.ty + dy, self.tx + dx
            if self.periodic:
                ny, nx = ny % self.gh, nx % self.gw
                inside = torch.ones_like(ny, dtype=torch.bool)
            else:
                inside = (ny >= 0) & (ny < self.gh) & (nx >= 0) & (nx < self.gw)
            neighbour = self.grid_id[ny.clamp(0, self.gh - 1) * self.gw
                                     + nx.clamp(0, self.gw - 1)]
            inside &= neighbour >= 0
            safe = neighbour.clamp(min=0)
            sy, sx = rows[safe] - dy, cols[safe] - dx
            inside &= (sy >= 0) & (sy < self.uh) & (sx >= 0) & (sx < self.uw)
            candidates.append(torch.where(inside, sy * self.uw + sx, -1))
        self.consider(torch.stack(candidates))

    def random_search(self, radius: float, generator: torch.Generator, samples: int = 1) -> None:
        """Try ``samples`` random corners within ``radius`` of each current match."""
        import torch

        r = max(1, int(radius))
        rows, cols = self.nnf // self.uw, self.nnf % self.uw
        shape = (samples, self.count)
        dy = torch.randint(-r, r + 1, shape, generator=generator, device=self.device)
        dx = torch.randint(-r, r + 1, shape, generator=generator, device=self.device)
        sy = (rows[None] + dy).clamp(0, self.uh - 1)
        sx = (cols[None] + dx).clamp(0, self.uw - 1)
        self.consider(sy * self.uw + sx)

    def search(self, jumps: tuple[int, ...], radius: float, generator: torch.Generator, *,
               shrink: float = 2.0, samples: int = 1) -> None:
        """One round of search: propagation at each jump, then random search from ``radius``
        down to 1 px, dividing it by ``shrink`` each time."""
        for jump in jumps:
            self.propagate(jump)
        while radius >= 1.0:
            self.random_search(radius, generator, samples)
            radius /= shrink

    def upsample_from(self, coarse: PatchField, generator: torch.Generator) -> None:
        """Start from ``coarse`` (half the size): each target takes its parent's match doubled
        plus its own offset; targets whose parent had no match, or whose doubled match is not
        usable, get a random one. Then every match is scored."""
        import torch

        py = (self.ty // 2).clamp(max=coarse.gh - 1)
        px = (self.tx // 2).clamp(max=coarse.gw - 1)
        parent = coarse.grid_id[py * coarse.gw + px]
        have = parent >= 0
        match = coarse.nnf[parent.clamp(min=0)]
        rows = ((match // coarse.uw) * 2 + self.ty % 2).clamp(0, self.uh - 1)
        cols = ((match % coarse.uw) * 2 + self.tx % 2).clamp(0, self.uw - 1)
        nnf = rows * self.uw + cols
        have &= self.usable[nnf]
        self.nnf = torch.where(have, nnf, self.random_corners(self.count, generator))
        self.rescore()

    # --- vote ---------------------------------------------------------------------------

    def vote(self, quantile: float = VOTE_QUANTILE) -> None:
        """Every writable pixel ← the weighted mean of what the overlapping matches put there."""
        import torch

        finite = torch.isfinite(self.dist)
        if not finite.any():
            return
        sample = self.dist[finite][:: max(1, int(finite.sum()) // 65536)]
        sigma2 = torch.quantile(sample.float(), quantile).clamp_min(1e-6)
        weight = torch.where(finite, torch.exp(-self.dist / (2.0 * sigma2)),
                             torch.zeros_like(self.dist))
        if self.weights is not None:
            centre = self.patch // 2
            weight = weight * self._values_at(self.weights, centre, centre)
        base = self._base(self.nnf)
        total = torch.zeros_like(self.image)
        norm = torch.zeros((1, self.h, self.w), device=self.device)
        flat_total, flat_norm = total.reshape(self.channels, -1), norm.reshape(1, -1)
        for dy, dx in self.vote_offsets:
            values = self.flat_source[:, base + (dy * self.sw + dx)] * weight
            if self.dense and not self.periodic:
                total[:, dy:dy + self.gh, dx:dx + self.gw] += values.view(-1, self.gh, self.gw)
                norm[:, dy:dy + self.gh, dx:dx + self.gw] += weight.view(1, self.gh, self.gw)
            elif self.dense:
                total += torch.roll(values.view(-1, self.gh, self.gw), (dy, dx), dims=(1, 2))
                norm += torch.roll(weight.view(1, self.gh, self.gw), (dy, dx), dims=(1, 2))
            else:
                index = self._target_index(dy, dx)
                flat_total.index_add_(1, index, values)
                flat_norm.index_add_(1, index, weight[None])
        update = norm > 1e-12
        if self.writable is not None:
            update &= self.writable[None]
        self.image = torch.where(update, total / norm.clamp_min(1e-12), self.image)


def match_histogram(image: torch.Tensor, sorted_reference: torch.Tensor,
                    where: torch.Tensor | None = None) -> torch.Tensor:
    """Give each channel of ``image`` (C×H×W) the distribution of ``sorted_reference``
    (C×M, each row sorted), rank for rank, at the pixels ``where`` selects (all when None).

    Averaging overlapping matches pulls values toward the mean, and a search against a
    washed-out image then prefers the flattest source patches; restoring the histogram after
    every vote keeps the highlights and shadows in play (Heeger & Bergen 1995).
    """
    import torch

    channels = image.shape[0]
    flat = image.reshape(channels, -1)
    chosen = flat if where is None else flat[:, where.reshape(-1)]
    n, m = chosen.shape[1], sorted_reference.shape[1]
    if n == 0:
        return image
    order = chosen.argsort(dim=1)
    picks = ((torch.arange(n, device=image.device, dtype=torch.float64) + 0.5) * (m / n))
    picks = picks.long().clamp_(0, m - 1)
    matched = torch.empty_like(chosen)
    matched.scatter_(1, order, sorted_reference[:, picks])
    if where is None:
        return matched.reshape(image.shape)
    out = flat.clone()
    out[:, where.reshape(-1)] = matched
    return out.reshape(image.shape)
