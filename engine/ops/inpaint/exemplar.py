"""Exemplar-based completion: multi-scale PatchMatch with coherence voting.

The family behind Photoshop's Content-Aware Fill and GIMP's Resynthesizer: Wexler, Shechtman &
Irani, "Space-Time Completion of Video" (PAMI 2007) fill a hole by alternating two steps on an
image pyramid, coarse to fine:

1. **Search.** For every patch that overlaps the hole (the *targets*), find the most similar
   patch lying wholly in the source region (outside the hole, and inside an optional allowed
   region). The nearest-neighbour field (NNF) is found with PatchMatch (Barnes et al.,
   SIGGRAPH 2009): random initialisation, *propagation* (a neighbour's match, shifted, is a
   good guess) and *random search* around the current match at halving radii. Here all target
   patches are updated at once with torch gathers (a Jacobi/jump-flooding flavour of the
   propagation: at each jump k ∈ {…, 4, 2, 1} every target tries the matches of its four
   neighbours k pixels away), so the same code runs on a CPU or a GPU.
2. **Vote.** Each hole pixel becomes the weighted mean of the pixels that the overlapping
   target patches' matches put there; a patch's weight is ``α · exp(-d / 2σ²)`` with its match
   distance d, σ² the 75th percentile of d at that level, and α the confidence of the patch
   centre: 1 on known pixels and ``1.3^-depth`` inside the hole. The same confidence weights
   the pixels of the patch distance, so the known context and the hole's rim lead.

The coarsest level is initialised with OpenCV's Telea fill; each finer level starts from the
upsampled NNF (so the fine image is voted from real source pixels, not an upsampled blur) and
refines it with propagation and a local random search. A coarse pixel is a hole when half or
more of its fine pixels are; its other pixels average the known fine pixels only, so no value
from inside the hole ever reaches a source patch.

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

from engine.core.progress import CancelToken, Progress, null_progress

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


class _Level:
    """One pyramid level: padded image, hole, source-centre validity and the NNF."""

    def __init__(self, image: torch.Tensor, hole: torch.Tensor, allowed: torch.Tensor,
                 radius: int) -> None:
        import torch
        import torch.nn.functional as F

        self.c, self.h, self.w = image.shape
        self.r = r = radius
        self.hp, self.wp = self.h + 2 * r, self.w + 2 * r
        self.device = image.device
        self.hole = hole
        self.image = image  # C×h×w, hole pixels hold the current estimate
        # Valid source centres: the whole patch inside the image, allowed and not hole.
        usable = (allowed & ~hole).float()[None, None]
        eroded = -F.max_pool2d(-F.pad(usable, (r, r, r, r), value=0.0), 2 * r + 1, stride=1)
        valid = torch.zeros(self.hp, self.wp, dtype=torch.bool, device=self.device)
        valid[r:r + self.h, r:r + self.w] = eroded[0, 0] > 0.5
        if not valid.any():
            # The allowed region has no full patch at this level: accept centres on usable pixels.
            valid[r:r + self.h, r:r + self.w] = usable[0, 0] > 0.5
        self.valid = valid.reshape(-1)
        self.valid_list = torch.nonzero(self.valid).reshape(-1)
        # Targets: every centre whose patch overlaps the hole.
        grown = F.max_pool2d(hole.float()[None, None], 2 * r + 1, stride=1, padding=r)[0, 0] > 0
        ty, tx = torch.nonzero(grown, as_tuple=True)
        self.ty, self.tx = ty, tx
        self.tflat = (ty + r) * self.wp + (tx + r)           # padded flat index of each target
        self.tdense = ty * self.w + tx                       # unpadded flat index
        self.dense_target = torch.full((self.h * self.w,), -1, dtype=torch.long,
                                       device=self.device)
        self.dense_target[self.tdense] = torch.arange(ty.numel(), device=self.device)
        dy, dx = torch.meshgrid(torch.arange(-r, r + 1, device=self.device),
                                torch.arange(-r, r + 1, device=self.device), indexing="ij")
        self.off_y, self.off_x = dy.reshape(-1), dx.reshape(-1)
        self.offsets = self.off_y * self.wp + self.off_x
        stride = 1 if ty.numel() <= _FAST_TARGETS or r < 2 else (3 if r >= 3 else 2)
        keep = ((self.off_y + r) % stride == 0) & ((self.off_x + r) % stride == 0)
        self.search_offsets = self.offsets[keep]
        # Confidence (Wexler et al.): 1 where known, 1.3^-d inside the hole at d px from its
        # edge, so known context and the hole's rim steer the matching and the vote.
        inside = cv2.distanceTransform((~hole).cpu().numpy().astype(np.uint8) ^ 1,
                                       cv2.DIST_L2, 3)
        confidence = torch.from_numpy(np.maximum(np.power(_GAMMA, -inside), 1e-6
                                                 ).astype(np.float32))
        padded_conf = F.pad(confidence.to(self.device)[None, None], (r, r, r, r),
                            mode="replicate")[0, 0].reshape(-1)
        self.confidence = confidence.reshape(-1).to(self.device)
        self.target_conf = [padded_conf.index_select(0, self.tflat + o)
                            for o in self.search_offsets.tolist()]
        self.conf_total = torch.stack(self.target_conf).sum(dim=0)
        self.hole_yx = torch.nonzero(hole, as_tuple=True)
        self.cover: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.nnf = self.tflat.clone()                        # source centre per target (padded)
        self.dist = torch.full((ty.numel(),), math.inf, device=self.device)
        self.refresh()

    @property
    def targets(self) -> int:
        return int(self.ty.numel())

    def refresh(self) -> None:
        """Rebuild the padded colour planes and the target patches after a vote.

        Planes are 1-D per channel: gathering from them is several times faster on a CPU
        than gathering ``C``-wide rows and reducing over a short last axis.
        """
        import torch.nn.functional as F

        padded = F.pad(self.image[None], (self.r,) * 4, mode="replicate")[0]
        self.planes = [padded[c].reshape(-1).contiguous() for c in range(self.c)]
        self.target_values = [[plane.index_select(0, self.tflat + o) for plane in self.planes]
                              for o in self.search_offsets.tolist()]

    def distance(self, sources: torch.Tensor) -> torch.Tensor:
        """Patch SSD (mean per compared pixel) of each target to ``sources`` (``K×N``)."""
        import torch

        k = sources.shape[0]
        total = torch.zeros(sources.shape, device=self.device)
        flat_sources = sources.reshape(-1)
        for values, conf, offset in zip(self.target_values, self.target_conf,
                                        self.search_offsets.tolist(), strict=True):
            shifted = flat_sources + offset
            pixel = torch.zeros(sources.shape, device=self.device)
            for plane, value in zip(self.planes, values, strict=True):
                diff = plane.index_select(0, shifted).view(k, -1) - value[None]
                pixel.addcmul_(diff, diff)
            total.addcmul_(pixel, conf[None])
        total /= self.conf_total[None] * self.c
        return torch.where(self.valid[sources], total, torch.full_like(total, math.inf))

    def rescore(self) -> None:
        """Recompute the current matches' distances (after the image changed)."""
        self.dist = self.distance(self.nnf[None])[0]

    def consider(self, candidates: torch.Tensor) -> None:
        """Keep, per target, the best of its current match and ``candidates`` (``K×N``)."""
        import torch

        dist = self.distance(candidates)
        best, which = dist.min(dim=0)
        better = best < self.dist
        chosen = candidates.gather(0, which[None])[0]
        self.nnf = torch.where(better, chosen, self.nnf)
        self.dist = torch.where(better, best, self.dist)

    def clamp_source(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r = self.r
        return y.clamp(r, r + self.h - 1) * self.wp + x.clamp(r, r + self.w - 1)

    def random_valid(self, count: int, generator: torch.Generator) -> torch.Tensor:
        import torch

        pick = torch.randint(self.valid_list.numel(), (count,), generator=generator,
                             device=self.device)
        return self.valid_list[pick]

    def propagate(self, jump: int) -> None:
        """Try the matches of the four neighbours ``jump`` px away, shifted back."""
        import torch

        cands = []
        for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
            ny, nx = self.ty + dy, self.tx + dx
            inside = (ny >= 0) & (ny < self.h) & (nx >= 0) & (nx < self.w)
            index = self.dense_target[(ny.clamp(0, self.h - 1) * self.w
                                       + nx.clamp(0, self.w - 1))]
            usable = inside & (index >= 0)
            neighbour = self.nnf[index.clamp(min=0)]
            sy = torch.div(neighbour, self.wp, rounding_mode="floor") - dy
            sx = neighbour % self.wp - dx
            cand = self.clamp_source(sy, sx)
            cands.append(torch.where(usable, cand, self.nnf))
        self.consider(torch.stack(cands))

    def random_search(self, radius: float, generator: torch.Generator, samples: int = 2
                      ) -> None:
        """Try ``samples`` uniform candidates within ``radius`` of each current match."""
        import torch

        sy = torch.div(self.nnf, self.wp, rounding_mode="floor")
        sx = self.nnf % self.wp
        n = self.targets
        shift = (torch.rand((2, samples, n), generator=generator, device=self.device) * 2 - 1)
        shift = torch.round(shift * radius).long()
        cands = self.clamp_source(sy[None] + shift[0], sx[None] + shift[1])
        self.consider(cands)

    def _cover(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per patch offset: which target's patch covers each hole pixel there, and whether."""
        import torch

        hy, hx = self.hole_yx
        cover = []
        for oy, ox in zip(self.off_y.tolist(), self.off_x.tolist(), strict=True):
            cy, cx = hy - oy, hx - ox                      # centre of the patch covering q
            inside = (cy >= 0) & (cy < self.h) & (cx >= 0) & (cx < self.w)
            index = self.dense_target[cy.clamp(0, self.h - 1) * self.w + cx.clamp(0, self.w - 1)]
            ok = inside & (index >= 0)
            cover.append((index.clamp(min=0), ok.to(torch.float32)))
        return cover

    def vote(self) -> None:
        """Set every hole pixel to the weighted mean of what the overlapping matches put there."""
        import torch

        finite = torch.isfinite(self.dist)
        if not finite.any():
            return
        sigma2 = torch.quantile(self.dist[finite][:1_000_000].float(), 0.75).clamp(min=1e-6)
        weight = torch.where(finite, torch.exp(-self.dist / (2 * sigma2)),
                             torch.zeros_like(self.dist))
        weight = weight.clamp(min=1e-6) * finite * self.confidence[self.tdense]
        if self.cover is None:
            self.cover = self._cover()
        hy, hx = self.hole_yx
        acc = torch.zeros(self.c, hy.numel(), device=self.device)
        norm = torch.zeros(hy.numel(), device=self.device)
        for (index, ok), off in zip(self.cover, self.offsets.tolist(), strict=True):
            wgt = weight[index] * ok
            source = self.nnf[index] + off
            for c, plane in enumerate(self.planes):
                acc[c].addcmul_(plane.index_select(0, source), wgt)
            norm += wgt
        filled = norm > 0
        values = acc / norm.clamp(min=1e-30)[None]
        current = self.image[:, hy, hx]
        self.image[:, hy, hx] = torch.where(filled[None], values, current)
        self.refresh()


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


def _telea_init(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Fill the coarsest level's hole with OpenCV Telea (a smooth first guess)."""
    import torch

    array = image.permute(1, 2, 0).cpu().numpy()
    hole8 = hole.cpu().numpy().astype(np.uint8)
    planes = [cv2.inpaint(np.ascontiguousarray(array[:, :, c]) * np.float32(65535.0), hole8,
                          3.0, cv2.INPAINT_TELEA) / np.float32(65535.0)
              for c in range(array.shape[2])]
    filled = torch.from_numpy(np.clip(np.stack(planes), 0.0, 1.0).astype(np.float32))
    return filled.to(image.device)


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


def _upsample_nnf(coarse: _Level, fine: _Level) -> None:
    """Fine target t takes ``2 · match(t // 2) + (t mod 2)``; unmatched ones keep themselves."""
    import torch

    cy, cx = fine.ty // 2, fine.tx // 2
    index = coarse.dense_target[cy * coarse.w + cx]
    have = index >= 0
    source = coarse.nnf[index.clamp(min=0)]
    sy = torch.div(source, coarse.wp, rounding_mode="floor") - coarse.r
    sx = source % coarse.wp - coarse.r
    fy = 2 * sy + (fine.ty - 2 * cy) + fine.r
    fx = 2 * sx + (fine.tx - 2 * cx) + fine.r
    upsampled = fine.clamp_source(fy, fx)
    fine.nnf = torch.where(have, upsampled, fine.nnf)


def patchmatch_fill(image: np.ndarray, hole: np.ndarray, *, source: np.ndarray | None = None,
                    avoid: np.ndarray | None = None, patch_size: int = 7, iterations: int = 4,
                    seed: int = 0, device: Any = "cpu", progress: Progress = null_progress,
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
        An even or too small patch size, or no source pixel to copy from.
    """
    import torch
    import torch.nn.functional as F

    if patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(f"patch size must be odd and at least 3, got {patch_size}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
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
    radius = patch_size // 2
    dev = torch.device(device)
    generator = torch.Generator(device=dev)
    generator.manual_seed(int(seed))

    with torch.inference_mode(), _one_cpu_thread(dev):
        img = torch.from_numpy(out.transpose(2, 0, 1).copy()).to(dev)
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
        coarse_image, coarse_hole, _ = pyramid[-1]
        pyramid[-1] = (_telea_init(coarse_image, coarse_hole), *pyramid[-1][1:])

        previous: _Level | None = None
        rounds = _rounds(iterations, count)
        done, total_rounds = 0, sum(rounds)
        for depth in range(count - 1, -1, -1):
            level_image, level_hole, level_allowed = pyramid[depth]
            level = _Level(level_image.clone(), level_hole, level_allowed, radius)
            if previous is None:
                level.nnf = level.random_valid(level.targets, generator)
                level.rescore()
                level.consider(level.random_valid(level.targets, generator)[None])
                search_radius = float(max(level.h, level.w))
            else:
                guess = F.interpolate(previous.image[None], size=(level.h, level.w),
                                      mode="bilinear", align_corners=False)[0]
                level.image = torch.where(level.hole[None], guess, level.image)
                level.refresh()
                _upsample_nnf(previous, level)
                level.rescore()
                level.vote()
                level.rescore()
                search_radius = float(4 * patch_size)
            bad = ~torch.isfinite(level.dist)
            if bad.any():
                level.nnf = torch.where(bad, level.random_valid(level.targets, generator),
                                        level.nnf)
                level.rescore()
            coarsest = previous is None
            for round_index in range(rounds[count - 1 - depth]):
                cancel.raise_if_cancelled()
                progress(done / total_rounds,
                         f"PatchMatch level {count - depth} of {count}, "
                         f"round {round_index + 1}")
                jumps = [8, 4, 2, 1] if coarsest else (
                    [1] if level.targets > _FAST_TARGETS else [2, 1])
                for jump in jumps:
                    level.propagate(jump)
                radius_now = search_radius
                while radius_now >= 1.0:
                    level.random_search(radius_now, generator, samples=1)
                    radius_now /= 2 if coarsest else 4
                if coarsest:
                    level.consider(level.random_valid(level.targets, generator)[None])
                level.vote()
                level.rescore()
                done += 1
            previous = level
        assert previous is not None
        filled = previous.image.permute(1, 2, 0).cpu().numpy()
        if info is not None:
            finite = torch.isfinite(previous.dist)
            info.update(levels=count, targets=previous.targets,
                        mean_distance=float(previous.dist[finite].mean()) if finite.any()
                        else math.inf)
    out[hole] = np.clip(filled[hole], 0.0, 1.0)
    return out
