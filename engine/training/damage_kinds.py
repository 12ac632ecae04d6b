"""The damage an old print suffers, drawn at random on a :class:`Print` and recorded per kind.

Curved hairlines (0.7–2 px) and scratches (2–4.5 px), bright or dark, with soft edges, an
opacity and a width that vary along their length, sometimes broken; cracks (jagged random walks
that fork, 0.8–2.5 px); dust and specks (irregular blobs of 1–6.5 px, some with a soft halo);
lint (short curly fibres); flakes of missing emulsion (irregular patches 6–36 px across); torn
or missing corners and edges of the print (paper-coloured or a dark backing, with a ragged
boundary). Counts are Poisson per 100 000 px times a per-photo intensity, so a crop and a full
photo see the same density. Shapes come from :mod:`engine.training.damage_shapes`;
:mod:`engine.training.damage_synth` composes the whole sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.training.damage_shapes import (
    Box,
    blob_outline,
    crack_paths,
    render_polygon,
    render_stroke,
    smooth_noise,
    smooth_path,
)

__all__ = ["DAMAGE_KINDS", "Print", "draw_damage"]

DAMAGE_KINDS = ("hairline", "scratch", "crack", "dust", "lint", "flake", "tear")
"""What is drawn and labelled."""

_PER_AREA = 1e5
_DRAWN = 0.05
"""Opacity above which a pixel counts as drawn on (a damage kind's footprint)."""


# ----------------------------------------------------------------------------- compositing


@dataclass
class Print:
    """The print being damaged: pixels, the tone damage takes, the footprints drawn.

    Attributes
    ----------
    pixels : ndarray of float32, shape (H, W, 3)
        The print, painted on in place.
    tone : ndarray of float32, shape (3,)
        The print's toning (ones, or sepia): bright and dark damage take it.
    tinted : bool
        A colour print: damage colours get a slight random tint.
    kinds : dict of str to ndarray of bool
        Each damage kind's footprint so far (opacity above 0.05).
    """

    pixels: np.ndarray
    tone: np.ndarray
    tinted: bool
    kinds: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.pixels.shape[:2]

    def paint(self, kind: str, drawn: tuple[np.ndarray, Box] | None,
              colour: np.ndarray) -> None:
        """Composite ``colour`` (``(3,)`` or a patch) over the print with ``drawn``'s opacity."""
        if drawn is None:
            return
        alpha, box = drawn
        region = self.pixels[box]
        a = alpha[:, :, None]
        region *= 1.0 - a
        region += a * colour
        footprint = self.kinds.setdefault(kind, np.zeros(self.shape, bool))
        footprint[box] |= alpha > _DRAWN


def _pad(drawn: tuple[np.ndarray, Box] | None, margin: int, shape: tuple[int, int]
         ) -> tuple[np.ndarray, Box] | None:
    """Grow a patch by ``margin`` px of zeros (room for a halo or a blur), clipped to the image."""
    if drawn is None:
        return None
    alpha, (rows, cols) = drawn
    top, left = min(margin, rows.start), min(margin, cols.start)
    bottom, right = min(margin, shape[0] - rows.stop), min(margin, shape[1] - cols.stop)
    padded = np.pad(alpha, ((top, bottom), (left, right)))
    return padded, (slice(rows.start - top, rows.stop + bottom),
                    slice(cols.start - left, cols.stop + right))


def _soften(drawn: tuple[np.ndarray, Box] | None, sigma: float, shape: tuple[int, int]
            ) -> tuple[np.ndarray, Box] | None:
    if drawn is None or sigma <= 0:
        return drawn
    alpha, box = _pad(drawn, int(math.ceil(3 * sigma)), shape)
    return cv2.GaussianBlur(alpha, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT), box


def _colour(rng: np.random.Generator, bright: bool, paper: Print) -> np.ndarray:
    """A damage colour: near white (exposed paper, emulsion scratch) or near black (dirt),
    in the print's tone, slightly tinted on a colour print."""
    value = rng.uniform(0.78, 1.0) if bright else rng.uniform(0.0, 0.28)
    tint = rng.uniform(-0.04, 0.04, 3).astype(np.float32) if paper.tinted else 0.0
    return np.clip(value * paper.tone / paper.tone.max() + tint, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------- damage


def _entry(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """A start point (a little beyond the image too) and a heading."""
    height, width = shape
    x = rng.uniform(-0.1, 1.1) * width
    y = rng.uniform(-0.1, 1.1) * height
    return (float(x), float(y)), float(rng.uniform(0.0, 2.0 * math.pi))


def _profile(rng: np.random.Generator, count: int, base: float, swing: float, period: float,
             low: float, high: float) -> np.ndarray:
    return np.clip(base * (1.0 + swing * smooth_noise(rng, count, period)), low, high)


def _taper(count: int, step: float, length_px: float) -> np.ndarray:
    index = np.arange(count, dtype=np.float32) * step
    ends = np.minimum(index, index[-1] - index)
    return np.clip(ends / max(length_px, 1e-3), 0.15, 1.0)


def _line(rng: np.random.Generator, paper: Print, kind: str, *, width: tuple[float, float],
          length: tuple[float, float], bend: tuple[float, float], period: tuple[float, float],
          bright_share: float) -> None:
    """A hairline, scratch or lint fibre: a curved stroke with varying width and opacity."""
    height, width_px = paper.shape
    step = 1.0 if kind == "lint" else 2.0
    start, heading = _entry(rng, paper.shape)
    if kind == "lint":
        start = (rng.uniform(0, width_px), rng.uniform(0, height))
    span = rng.uniform(*length)
    if kind != "lint":
        span *= math.hypot(height, width_px)
    points = smooth_path(rng, start, heading, max(span, 8.0), bend=rng.uniform(*bend),
                         step=step, period=rng.uniform(*period))
    count = len(points)
    size = math.exp(rng.uniform(math.log(width[0]), math.log(width[1])))
    widths = _profile(rng, count, size, 0.3, rng.uniform(20, 80) / step, 0.5, 6.0)
    widths *= _taper(count, step, rng.uniform(3.0, 25.0))
    opacity = _profile(rng, count, rng.uniform(0.35, 1.0), 0.35,
                       rng.uniform(30, 120) / step, 0.1, 1.0)
    if rng.random() < 0.3:  # broken: gaps along the line
        gaps = smooth_noise(rng, count, rng.uniform(10, 40) / step) < rng.uniform(-1.2, -0.4)
        opacity = np.where(gaps, 0.0, opacity)
    drawn = render_stroke(points, widths, opacity, paper.shape)
    if rng.random() < 0.5:
        drawn = _soften(drawn, rng.uniform(0.3, 0.9), paper.shape)
    paper.paint(kind, drawn, _colour(rng, rng.random() < bright_share, paper))


def _crack(rng: np.random.Generator, paper: Print) -> None:
    start, heading = _entry(rng, paper.shape)
    span = max(rng.uniform(0.1, 0.6) * math.hypot(*paper.shape), 20.0)
    trunk = rng.uniform(0.8, 2.5)
    colour = _colour(rng, rng.random() < 0.3, paper)
    opacity = rng.uniform(0.5, 1.0)
    for points, depth in crack_paths(rng, start, heading, span, fork=rng.uniform(0.01, 0.05),
                                     jag=rng.uniform(0.2, 0.5)):
        count = len(points)
        widths = np.maximum(_profile(rng, count, trunk * 0.7**depth, 0.3, 10, 0.5, 4.0), 0.5)
        alphas = _profile(rng, count, opacity, 0.25, 20, 0.2, 1.0)
        drawn = render_stroke(points, widths, alphas, paper.shape)
        paper.paint("crack", _soften(drawn, rng.uniform(0.0, 0.6), paper.shape), colour)


def _dust(rng: np.random.Generator, paper: Print) -> None:
    height, width = paper.shape
    centre = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
    diameter = math.exp(rng.uniform(math.log(0.9), math.log(6.5)))
    parts = []
    for _ in range(int(rng.integers(1, 4))):
        offset = rng.normal(0.0, diameter / 5.0, 2)
        parts.append(blob_outline(rng, (centre[0] + offset[0], centre[1] + offset[1]),
                                  diameter / 2.0 * rng.uniform(0.6, 1.0),
                                  rough=rng.uniform(0.2, 0.9), vertices=12))
    drawn = render_polygon(parts, paper.shape)
    if drawn is not None:
        alpha, box = drawn
        drawn = (alpha * rng.uniform(0.5, 1.0)).astype(np.float32), box
    if drawn is not None and rng.random() < 0.3:  # a soft halo around the speck
        sigma = rng.uniform(1.0, 2.5)
        alpha, box = _pad(drawn, int(math.ceil(3 * sigma)), paper.shape)
        halo = cv2.GaussianBlur(alpha, (0, 0), sigma) * rng.uniform(0.3, 0.7)
        drawn = np.maximum(alpha, halo), box
    paper.paint("dust", drawn, _colour(rng, rng.random() < 0.4, paper))


def _paper(rng: np.random.Generator, drawn: tuple[np.ndarray, Box], paper: Print,
           bright: bool) -> np.ndarray:
    """A paper-coloured (or dark backing) patch with a faint texture."""
    alpha, _ = drawn
    base = _colour(rng, bright, paper)
    if bright and paper.tinted:
        base = np.clip(base + np.array([0.02, 0.0, -0.04], np.float32)
                       * rng.uniform(0.0, 1.5), 0.0, 1.0)
    grain = cv2.GaussianBlur(rng.standard_normal(alpha.shape).astype(np.float32), (0, 0), 1.5)
    grain *= rng.uniform(0.0, 0.03 if bright else 0.01) / max(float(grain.std()), 1e-6)
    return np.clip(base + grain[:, :, None], 0.0, 1.0).astype(np.float32)


def _flake(rng: np.random.Generator, paper: Print) -> None:
    height, width = paper.shape
    centre = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
    outline = blob_outline(rng, centre, rng.uniform(3.0, 18.0), rough=rng.uniform(0.3, 0.9))
    drawn = _soften(render_polygon([outline], paper.shape), rng.uniform(0.3, 0.7), paper.shape)
    if drawn is not None:
        alpha, box = drawn
        alpha = alpha * rng.uniform(0.85, 1.0)
        paper.paint("flake", (alpha, box),
                    _paper(rng, (alpha, box), paper, rng.random() < 0.75))


def _tear(rng: np.random.Generator, paper: Print, edges: tuple[bool, bool, bool, bool]
          ) -> None:
    """A missing corner or a bite out of an edge of the print, with a ragged boundary.

    ``edges`` says which sides of the image (top, bottom, left, right) are the print's own
    edges; only those can be torn.
    """
    height, width = paper.shape
    top, bottom, left, right = edges
    ys = [y for y, ok in ((0.0, top), (float(height), bottom)) if ok]
    xs = [x for x, ok in ((0.0, left), (float(width), right)) if ok]
    if not ys and not xs:
        return
    if ys and xs and rng.random() < 0.6:
        centre = (float(rng.choice(xs)), float(rng.choice(ys)))
    elif xs and (not ys or rng.random() < 0.5):
        centre = (float(rng.choice(xs)), float(rng.uniform(0, height)))
    else:
        centre = (float(rng.uniform(0, width)), float(rng.choice(ys)))
    radius = max(rng.uniform(0.06, 0.3) * min(height, width), 6.0)
    outline = blob_outline(rng, centre, radius, rough=rng.uniform(0.4, 1.0), vertices=64)
    drawn = _soften(render_polygon([outline], paper.shape), rng.uniform(0.3, 0.8), paper.shape)
    if drawn is not None:
        paper.paint("tear", drawn, _paper(rng, drawn, paper, rng.random() < 0.7))


_LINES = {
    "hairline": dict(width=(0.7, 2.0), length=(0.1, 1.0), bend=(0.0, 0.6),
                     period=(60.0, 300.0), bright_share=0.6),
    "scratch": dict(width=(2.0, 4.5), length=(0.08, 0.7), bend=(0.0, 0.4),
                    period=(80.0, 300.0), bright_share=0.7),
    "lint": dict(width=(0.6, 1.6), length=(8.0, 60.0), bend=(0.8, 3.0),
                 period=(8.0, 25.0), bright_share=0.25),
}


def draw_damage(rng: np.random.Generator, paper: Print, rates: Sequence[float],
                tear_probability: float, intensity: tuple[float, float],
                edges: tuple[bool, bool, bool, bool]) -> None:
    """Draw random damage of every kind on ``paper`` (in place), at least one item.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random choice.
    paper : Print
        The print; its pixels and footprints are updated.
    rates : sequence of float
        Expected count per 100 000 px of each kind in :data:`DAMAGE_KINDS` but ``tear``.
    tear_probability : float
        Chance of one torn corner or edge.
    intensity : tuple of float
        Range of the per-photo multiplier of ``rates`` (drawn log-uniformly).
    edges : tuple of bool
        Which sides (top, bottom, left, right) are the print's own edges (only those tear).
    """
    area = paper.shape[0] * paper.shape[1] / _PER_AREA
    low, high = intensity
    strength = math.exp(rng.uniform(math.log(low), math.log(high)))
    counts = {kind: int(rng.poisson(rate * area * strength))
              for kind, rate in zip(DAMAGE_KINDS[:-1], rates, strict=True)}
    tear = rng.random() < tear_probability
    if not tear and not any(counts.values()):
        counts[str(rng.choice(["hairline", "dust", "scratch"]))] = 1
    for kind in DAMAGE_KINDS[:-1]:
        for _ in range(counts[kind]):
            if kind in _LINES:
                _line(rng, paper, kind, **_LINES[kind])
            elif kind == "crack":
                _crack(rng, paper)
            elif kind == "dust":
                _dust(rng, paper)
            else:
                _flake(rng, paper)
    if tear:
        _tear(rng, paper, edges)
