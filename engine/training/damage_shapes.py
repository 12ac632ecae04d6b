"""Shapes of photo damage as anti-aliased opacity maps: curved strokes, forking cracks, blobs.

Each function returns ``(alpha, box)``: a float32 opacity patch in [0, 1] and the
``(rows, cols)`` slices of the image it covers (already clipped to the image). Shapes are drawn
with OpenCV on a canvas eight times finer than the image and averaged down, so a stroke can be
0.7 px wide (to a quarter of a pixel) and its edge is soft the way a scanned scratch is. Only
the shape's bounding box is ever allocated, so a long scratch on a 12 MP image costs a few tens
of megabytes at most.

:mod:`engine.training.damage_kinds` draws damage with these; :mod:`engine.training.damage_synth`
composes the damaged photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = [
    "SUPERSAMPLE",
    "Box",
    "blob_outline",
    "crack_paths",
    "render_polygon",
    "render_stroke",
    "smooth_noise",
    "smooth_path",
]

SUPERSAMPLE = 8
_SHIFT = 3  # fractional bits of OpenCV's sub-pixel drawing coordinates

Box = tuple[slice, slice]


def smooth_noise(rng: np.random.Generator, count: int, period: float) -> np.ndarray:
    """``count`` samples of a smooth 1-D random signal (unit variance knots every ``period``)."""
    knots = max(int(math.ceil(count / max(period, 1.0))) + 2, 2)
    values = rng.standard_normal(knots)
    where = np.linspace(0.0, knots - 1.0, count)
    return np.interp(where, np.arange(knots), values).astype(np.float32)


def smooth_path(rng: np.random.Generator, start: tuple[float, float], angle: float,
                length: float, *, bend: float, step: float = 2.0,
                period: float = 40.0) -> np.ndarray:
    """A gently curving path of ``length`` px from ``start`` (x, y) heading ``angle`` (rad).

    ``bend`` is the standard deviation of the heading's smooth drift, in radians over the
    path (0 = straight). Returns ``N×2`` float32 points (x, y).
    """
    count = max(int(length / step), 2)
    heading = angle + bend * smooth_noise(rng, count, period / step)
    steps = np.stack([np.cos(heading), np.sin(heading)], axis=1) * step
    return (np.asarray(start, np.float32) + np.cumsum(steps, axis=0)).astype(np.float32)


def crack_paths(rng: np.random.Generator, start: tuple[float, float], angle: float,
                length: float, *, fork: float, jag: float = 0.35, step: float = 2.0,
                depth: int = 0, max_depth: int = 3) -> list[tuple[np.ndarray, int]]:
    """A jagged random walk that forks: ``[(points N×2, depth), ...]``, trunk first.

    The heading wanders around ``angle`` (an AR(1) walk of ``jag`` rad per step that keeps
    being pulled back), and at every step a branch starts with probability ``fork``, heading
    25–75° to one side, a fifth to a half as long, up to ``max_depth`` levels.
    """
    count = max(int(length / step), 2)
    heading = np.empty(count, np.float32)
    wander = 0.0
    for index in range(count):
        wander = 0.8 * wander + jag * float(rng.standard_normal())
        heading[index] = angle + wander
    steps = np.stack([np.cos(heading), np.sin(heading)], axis=1) * step
    points = np.asarray(start, np.float32) + np.cumsum(steps, axis=0)
    paths = [(points.astype(np.float32), depth)]
    if depth >= max_depth:
        return paths
    for index in np.nonzero(rng.random(count) < fork)[0]:
        side = 1.0 if rng.random() < 0.5 else -1.0
        turn = side * math.radians(float(rng.uniform(25.0, 75.0)))
        paths += crack_paths(rng, tuple(points[index]), float(heading[index]) + turn,
                             length * float(rng.uniform(0.2, 0.5)), fork=fork * 0.7,
                             jag=jag, step=step, depth=depth + 1, max_depth=max_depth)
    return paths


def _box(points: np.ndarray, margin: float, shape: tuple[int, int]) -> Box | None:
    height, width = shape
    x0 = max(int(math.floor(points[:, 0].min() - margin)), 0)
    y0 = max(int(math.floor(points[:, 1].min() - margin)), 0)
    x1 = min(int(math.ceil(points[:, 0].max() + margin)) + 1, width)
    y1 = min(int(math.ceil(points[:, 1].max() + margin)) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def _canvas(box: Box) -> np.ndarray:
    rows, cols = box
    return np.zeros(((rows.stop - rows.start) * SUPERSAMPLE,
                     (cols.stop - cols.start) * SUPERSAMPLE), np.uint8)


def _fixed(points: np.ndarray, box: Box) -> np.ndarray:
    """Image (x, y) → fixed-point canvas coordinates of ``box``'s canvas (pixel centres)."""
    rows, cols = box
    offset = np.array([cols.start, rows.start], np.float32)
    scaled = (points - offset + 0.5) * SUPERSAMPLE - 0.5
    return np.rint(scaled * (1 << _SHIFT)).astype(np.int32)


def _down(canvas: np.ndarray, box: Box) -> np.ndarray:
    rows, cols = box
    size = (cols.stop - cols.start, rows.stop - rows.start)
    return cv2.resize(canvas, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _thickness(width_px: float) -> int:
    """OpenCV ``thickness`` that draws an anti-aliased line ``width_px`` image px wide.

    An anti-aliased line of thickness ``t`` ≥ 2 covers about ``2·⌊t/2⌋ + 1.45`` canvas px
    (``t`` = 1 covers 1.35), so only odd widths are reachable; take the nearest.
    """
    canvas = width_px * SUPERSAMPLE
    odd = max(2 * int(round((canvas - 1.45) / 2.0)) + 1, 1)
    return max(odd - 1, 1)


def render_stroke(points: np.ndarray, widths: np.ndarray, opacity: np.ndarray,
                  shape: tuple[int, int]) -> tuple[np.ndarray, Box] | None:
    """Draw a path with a width and an opacity per point; None when it misses the image.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        Path vertices (x, y) in image pixels.
    widths, opacity : ndarray, shape (N,)
        Stroke width (px) and opacity (0–1) at each vertex; segment ``i`` uses vertex ``i``.
    shape : tuple of int
        ``(height, width)`` of the image.
    """
    box = _box(points, float(widths.max()) + 2.0, shape)
    if box is None:
        return None
    canvas = _canvas(box)
    fixed = _fixed(points, box)
    for index in range(len(points) - 1):
        value = int(round(255.0 * float(np.clip(opacity[index], 0.0, 1.0))))
        if value == 0:
            continue
        thickness = _thickness(float(widths[index]))
        cv2.line(canvas, tuple(fixed[index]), tuple(fixed[index + 1]), value, thickness,
                 cv2.LINE_AA, _SHIFT)
    alpha = _down(canvas, box)
    return (alpha, box) if alpha.max() > 0 else None


def blob_outline(rng: np.random.Generator, centre: tuple[float, float], radius: float, *,
                 rough: float, vertices: int = 24) -> np.ndarray:
    """An irregular closed outline around ``centre``: radius × (1 + ``rough`` × smooth noise),
    plus a little high-frequency raggedness. Returns ``vertices×2`` float32 points (x, y)."""
    theta = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    wobble = smooth_noise(rng, vertices + 1, max(vertices / 5.0, 1.0))[:vertices]
    wobble = wobble - (wobble[0] - wobble[-1]) * np.linspace(0, 1, vertices)  # close the loop
    ragged = rng.uniform(-0.12, 0.12, vertices) * rough
    r = radius * np.clip(1.0 + rough * 0.5 * wobble + ragged, 0.25, 2.0)
    return np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)],
                    axis=1).astype(np.float32)


def render_polygon(polygons: Sequence[np.ndarray], shape: tuple[int, int]
                   ) -> tuple[np.ndarray, Box] | None:
    """Fill the union of closed outlines (each ``N×2`` x, y) as an anti-aliased opacity patch."""
    points = np.concatenate(polygons, axis=0)
    box = _box(points, 2.0, shape)
    if box is None:
        return None
    canvas = _canvas(box)
    cv2.fillPoly(canvas, [_fixed(p, box) for p in polygons], 255, cv2.LINE_AA, _SHIFT)
    alpha = _down(canvas, box)
    return (alpha, box) if alpha.max() > 0 else None
