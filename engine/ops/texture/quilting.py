"""Image quilting (Efros & Freeman 2001): texture from overlapping blocks of the sample.

Blocks of the sample are laid in raster order on an output canvas, each overlapping its
neighbours by ``overlap`` pixels. For each new block the sum of squared differences between the
already-placed overlap and every block position in the sample is computed at once with
``cv2.matchTemplate`` (``TM_SQDIFF``, FFT-based), one call per overlap strip; the block is drawn
at random among the positions whose error is within ``(1 + tolerance)`` of the best. Where it
overlaps, the block and the canvas are joined along a minimum-error boundary cut found by
dynamic programming, so the seam follows the texture instead of a straight line.

Tileable quilts live on a torus: the output's last column of blocks overlaps the first and its
last row overlaps the first row, and those wrap-around overlaps are matched and cut like the
others, so the image repeats without a seam. The block steps are spread evenly over the output
size (they may differ by one pixel), so any size tiles exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["QuiltSettings", "block_layout", "min_cut_path", "quilt"]


@dataclass(frozen=True)
class QuiltSettings:
    """The block size and overlap actually used (after fitting them to the sample and output)."""

    block: int
    overlap: int


def block_layout(length: int, block: int, overlap: int, tileable: bool) -> list[int]:
    """Block start positions along one axis; the last entry is where the canvas ends.

    For a plain quilt the step is ``block - overlap`` and the canvas may run past ``length``
    (it is cropped). For a tileable quilt the canvas is exactly ``length`` long (a circle), the
    steps are as even as possible, and block ``i`` spans ``[p[i], p[i + 1] + overlap)`` modulo
    ``length``.
    """
    step = block - overlap
    if not tileable:
        count = max(1, -(-(length - overlap) // step))
        return [i * step for i in range(count + 1)]
    count = max(2, -(-length // step))
    return [round(i * length / count) for i in range(count + 1)]


def min_cut_path(cost: np.ndarray) -> np.ndarray:
    """The top-to-bottom 8-connected path of least total cost through ``cost`` (rows × cols).

    Returns
    -------
    ndarray of int, shape (rows,)
        The column of the path in each row.
    """
    rows, cols = cost.shape
    total = cost.astype(np.float64, copy=True)
    padded = np.full(cols + 2, np.inf)
    for r in range(1, rows):
        padded[1:-1] = total[r - 1]
        total[r] += np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
    # Walk back up: from each row's chosen column to the cheapest of its three neighbours above.
    path = np.empty(rows, dtype=np.int64)
    column = int(np.argmin(total[-1]))
    path[-1] = column
    for r in range(rows - 1, 0, -1):
        lo, hi = max(column - 1, 0), min(column + 2, cols)
        column = lo + int(np.argmin(total[r - 1, lo:hi]))
        path[r - 1] = column
    return path


def _cut_masks(old: np.ndarray, new: np.ndarray, sides: dict[str, bool],
               overlap: int) -> np.ndarray:
    """Where the new block replaces the canvas: the AND of one min-cut per known side."""
    bh, bw = new.shape[:2]
    take = np.ones((bh, bw), dtype=bool)
    error = ((old - new) ** 2).sum(axis=2)
    cols = np.arange(overlap)
    if sides["left"]:
        path = min_cut_path(error[:, :overlap])
        take[:, :overlap] &= cols[None, :] >= path[:, None]
    if sides["right"]:
        path = min_cut_path(error[:, bw - overlap:])
        take[:, bw - overlap:] &= cols[None, :] <= path[:, None]
    if sides["top"]:
        path = min_cut_path(error[:overlap, :].T)
        take[:overlap, :] &= cols[:, None] >= path[None, :]
    if sides["bottom"]:
        path = min_cut_path(error[bh - overlap:, :].T)
        take[bh - overlap:, :] &= cols[:, None] <= path[None, :]
    return take


def _strips(bh: int, bw: int, overlap: int, sides: dict[str, bool]
            ) -> list[tuple[slice, slice]]:
    """Disjoint rectangles covering the block's known overlap (corners counted once)."""
    strips = []
    c0 = overlap if sides["left"] else 0
    c1 = bw - overlap if sides["right"] else bw
    if sides["left"]:
        strips.append((slice(0, bh), slice(0, overlap)))
    if sides["right"]:
        strips.append((slice(0, bh), slice(bw - overlap, bw)))
    if sides["top"] and c1 > c0:
        strips.append((slice(0, overlap), slice(c0, c1)))
    if sides["bottom"] and c1 > c0:
        strips.append((slice(bh - overlap, bh), slice(c0, c1)))
    return strips


def _forbidden_positions(forbidden: np.ndarray | None, bh: int, bw: int) -> np.ndarray | None:
    """True at block positions whose block would touch a forbidden sample pixel."""
    if forbidden is None or not forbidden.any():
        return None
    integral = cv2.integral(forbidden.astype(np.uint8), sdepth=cv2.CV_32S)
    counts = (integral[bh:, bw:] - integral[:-bh, bw:] - integral[bh:, :-bw]
              + integral[:-bh, :-bw])
    return counts > 0


class _BlockSearch:
    """Finds the sample positions whose block best matches a canvas overlap.

    The exact search computes the overlap's sum of squared differences at every position with
    one ``cv2.matchTemplate`` per strip. The coarse-to-fine search (large samples) does that on
    the sample and the overlap downsampled 2×, keeps the ``COARSE_KEEP`` best positions,
    and computes the exact error at the four full-resolution positions under each; it is about
    four times faster and picks among nearly the same candidates.
    """

    COARSE_KEEP = 32

    def __init__(self, src: np.ndarray, forbidden: np.ndarray | None, tolerance: float,
                 coarse: bool) -> None:
        self.src = src
        self.forbidden = forbidden
        self.tolerance = tolerance
        self.coarse = coarse
        self.half = _half(src) if coarse else None
        self.squares = _square_integral(src)
        self.half_squares = _square_integral(self.half) if coarse else None
        self._blocked: dict[tuple[int, int], np.ndarray | None] = {}

    def blocked(self, bh: int, bw: int) -> np.ndarray | None:
        """True at block positions that would touch a forbidden pixel (cached per block size)."""
        if (bh, bw) not in self._blocked:
            blocked = _forbidden_positions(self.forbidden, bh, bw)
            if blocked is not None and blocked.all():
                raise ValueError("no block of the sample avoids the masked area; make the block "
                                 "smaller or the mask smaller")
            self._blocked[(bh, bw)] = blocked
        return self._blocked[(bh, bw)]

    def pick(self, old: np.ndarray, strips: list[tuple[slice, slice]],
             rng: np.random.Generator) -> tuple[int, int]:
        """A random position among those within ``(1 + tolerance)`` of the least error."""
        bh, bw = old.shape[:2]
        sh, sw = self.src.shape[:2]
        blocked = self.blocked(bh, bw)
        if not strips:
            free = np.argwhere(~blocked) if blocked is not None else None
            if free is not None:
                return tuple(int(v) for v in free[rng.integers(len(free))])
            return int(rng.integers(sh - bh + 1)), int(rng.integers(sw - bw + 1))
        if self.coarse:
            ys, xs = self._coarse_candidates(old, strips, blocked)
            error = self._exact_at(old, strips, ys, xs)
        else:
            error_map = _strip_errors(self.src, old, strips, (sh - bh + 1, sw - bw + 1),
                                      self.squares)
            if blocked is not None:
                error_map[blocked] = np.inf
            ys, xs = np.indices(error_map.shape).reshape(2, -1)
            error = error_map.ravel()
        np.maximum(error, 0.0, out=error)
        best = float(error.min())
        candidates = np.flatnonzero(error <= best * (1.0 + self.tolerance) + 1e-6)
        choice = int(rng.choice(candidates))
        return int(ys[choice]), int(xs[choice])

    def _coarse_candidates(self, old: np.ndarray, strips: list[tuple[slice, slice]],
                           blocked: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        bh, bw = old.shape[:2]
        sh, sw = self.src.shape[:2]
        half_old = _half(old)
        half_strips = [(slice(-(-rs.start // 2), rs.stop // 2), slice(-(-cs.start // 2),
                                                                     cs.stop // 2))
                       for rs, cs in strips]
        half_strips = [(rs, cs) for rs, cs in half_strips
                       if rs.stop > rs.start and cs.stop > cs.start]
        hh, hw = self.half.shape[:2]
        shape = (hh - half_old.shape[0] + 1, hw - half_old.shape[1] + 1)
        error = _strip_errors(self.half, half_old, half_strips, shape, self.half_squares)
        if blocked is not None:
            error[blocked[::2, ::2][:shape[0], :shape[1]]] = np.inf
        keep = min(self.COARSE_KEEP, error.size)
        best = np.argpartition(error.ravel(), keep - 1)[:keep]
        qy, qx = np.unravel_index(best, error.shape)
        ys = (2 * qy[:, None] + np.array([0, 0, 1, 1])).ravel()
        xs = (2 * qx[:, None] + np.array([0, 1, 0, 1])).ravel()
        ys = np.minimum(ys, sh - bh)
        xs = np.minimum(xs, sw - bw)
        positions = np.unique(np.stack([ys, xs], axis=1), axis=0)
        if blocked is not None:
            positions = positions[~blocked[positions[:, 0], positions[:, 1]]]
            if not len(positions):
                free = np.argwhere(~blocked)
                positions = free[:: max(1, len(free) // 256)]
        return positions[:, 0], positions[:, 1]

    def _exact_at(self, old: np.ndarray, strips: list[tuple[slice, slice]], ys: np.ndarray,
                  xs: np.ndarray) -> np.ndarray:
        error = np.zeros(len(ys), dtype=np.float64)
        for rs, cs in strips:
            template = old[rs, cs].transpose(2, 0, 1)
            h, w = template.shape[1:]
            windows = np.lib.stride_tricks.sliding_window_view(self.src, (h, w), axis=(0, 1))
            patches = windows[ys + rs.start, xs + cs.start]  # K×C×h×w
            error += ((patches - template[None]) ** 2).sum(axis=(1, 2, 3))
        return error


def _half(image: np.ndarray) -> np.ndarray:
    """2×2 box average (odd trailing rows and columns dropped)."""
    h, w, c = image.shape
    h2, w2 = h // 2, w // 2
    return image[:2 * h2, :2 * w2].reshape(h2, 2, w2, 2, c).mean(axis=(1, 3), dtype=np.float32)


def _strip_errors(src: np.ndarray, old: np.ndarray, strips: list[tuple[slice, slice]],
                  shape: tuple[int, int], squares: np.ndarray | None = None) -> np.ndarray:
    """Sum of squared differences of the strips of ``old`` at every block position of ``src``.

    ``Σ (I - T)² = Σ I² - 2 Σ I·T + Σ T²``: the first term from an integral image of the
    squared sample (``squares``, see :func:`_square_integral`), the cross term by correlating
    each channel with ``cv2.filter2D`` (several times faster than ``cv2.matchTemplate`` on
    colour images).
    """
    if squares is None:
        squares = _square_integral(src)
    error = np.zeros(shape, dtype=np.float64)
    ny, nx = shape
    for rs, cs in strips:
        template = old[rs, cs]
        h, w = template.shape[:2]
        y0, x0 = rs.start, cs.start
        box = (squares[y0 + h:y0 + h + ny, x0 + w:x0 + w + nx]
               - squares[y0:y0 + ny, x0 + w:x0 + w + nx]
               - squares[y0 + h:y0 + h + ny, x0:x0 + nx] + squares[y0:y0 + ny, x0:x0 + nx])
        error += box + float((template.astype(np.float64) ** 2).sum())
        for c in range(src.shape[2]):
            kernel = np.ascontiguousarray(template[:, :, c])
            corr = cv2.filter2D(src[:, :, c], cv2.CV_32F, kernel, anchor=(0, 0),
                                borderType=cv2.BORDER_CONSTANT)
            error -= 2.0 * corr[y0:y0 + ny, x0:x0 + nx]
    return error


def _square_integral(src: np.ndarray) -> np.ndarray:
    """Integral image (float64, one extra leading row and column) of the squared sample."""
    return cv2.integral((src.astype(np.float64) ** 2).sum(axis=2))


def fit_settings(sample_shape: tuple[int, int], height: int, width: int, block: int,
                 overlap: int, tileable: bool) -> QuiltSettings:
    """Shrink the block to fit the sample and the overlap to at most a third of the block."""
    block = max(4, min(block, sample_shape[0] - 1, sample_shape[1] - 1))
    overlap = max(1, min(overlap, block // 3))
    while tileable and overlap > 1:
        # The shortest step of an even layout must leave room for both side overlaps.
        shortest = min(int(np.diff(block_layout(length, block, overlap, True)).min())
                       for length in (height, width))
        if shortest >= 2 * overlap:
            break
        overlap = max(1, shortest // 2)
    return QuiltSettings(block=block, overlap=overlap)


def quilt(sample: np.ndarray, height: int, width: int, *, block: int = 48, overlap: int = 8,
          tolerance: float = 0.1, seed: int = 0, tileable: bool = False,
          forbidden: np.ndarray | None = None, progress: Progress = null_progress,
          cancel: CancelToken | None = None) -> np.ndarray:
    """Synthesise a ``height×width`` texture from ``sample`` by image quilting.

    Parameters
    ----------
    sample : ndarray, float32 H×W×C in [0, 1]
        The texture to copy blocks from.
    height, width : int
        Output size.
    block, overlap : int
        Block edge and overlap in pixels (shrunk to fit a small sample or output; the overlap
        is at most a third of the block). A block should hold the texture's largest element.
    tolerance : float
        Blocks whose overlap error is within ``(1 + tolerance)`` of the best are equally likely.
    seed : int
        The same seed gives the same quilt.
    tileable : bool
        Make the output repeat seamlessly (a quilt on a torus).
    forbidden : ndarray of bool H×W, optional
        Sample pixels no block may contain (the hole, when filling a mask).
    progress, cancel
        Reported and checked once per row of blocks.

    Returns
    -------
    ndarray, float32 height×width×C

    Raises
    ------
    ValueError
        The sample is too small, or every block position touches ``forbidden``.
    """
    cancel = cancel or CancelToken()
    if height < 1 or width < 1:
        raise ValueError(f"the texture size must be positive, got {width}×{height}")
    if sample.ndim != 3 or min(sample.shape[:2]) < 8:
        raise ValueError("the texture sample must be at least 8×8 pixels")
    settings = fit_settings(sample.shape[:2], height, width, block, overlap, tileable)
    block, overlap = settings.block, settings.overlap
    src = np.ascontiguousarray(sample, dtype=np.float32)
    sh, sw, channels = src.shape
    rng = np.random.default_rng(seed)
    ys = block_layout(height, block, overlap, tileable)
    xs = block_layout(width, block, overlap, tileable)
    canvas_h = height if tileable else ys[-1] + overlap
    canvas_w = width if tileable else xs[-1] + overlap
    canvas = np.zeros((canvas_h, canvas_w, channels), dtype=np.float32)
    rows_of_blocks, cols_of_blocks = len(ys) - 1, len(xs) - 1
    search = _BlockSearch(src, forbidden, tolerance, coarse=min(sh, sw) >= 96 and overlap >= 4)

    for j in range(rows_of_blocks):
        cancel.raise_if_cancelled()
        for i in range(cols_of_blocks):
            bh = ys[j + 1] - ys[j] + overlap
            bw = xs[i + 1] - xs[i] + overlap
            rows = np.arange(ys[j], ys[j] + bh) % canvas_h
            cols = np.arange(xs[i], xs[i] + bw) % canvas_w
            sides = {"left": i > 0, "top": j > 0,
                     "right": tileable and i == cols_of_blocks - 1,
                     "bottom": tileable and j == rows_of_blocks - 1}
            old = canvas[np.ix_(rows, cols)]
            strips = _strips(bh, bw, overlap, sides)
            py, px = search.pick(old, strips, rng)
            new = src[py:py + bh, px:px + bw]
            if any(sides.values()):
                take = _cut_masks(old, new, sides, overlap)
                old[take] = new[take]
                canvas[np.ix_(rows, cols)] = old
            else:
                canvas[np.ix_(rows, cols)] = new
        progress((j + 1) / rows_of_blocks, f"quilting row {j + 1} of {rows_of_blocks}")
    return np.ascontiguousarray(canvas[:height, :width])
