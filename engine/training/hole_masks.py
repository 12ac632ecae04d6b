"""Random free-form hole masks for training the inpainting network.

Three kinds of damage, each drawn with OpenCV from a seeded ``numpy`` generator:

``strokes``
    Thick brush strokes: polylines of 2–7 segments with random turns and round joints, like a
    person brushing over an object (the DeepFill v2 free-form recipe, Yu et al., ICCV 2019).
``blobs``
    Compact irregular regions: an ellipse with smaller ellipses scattered along its rim, as a
    lasso around an object or a stain.
``scratches``
    Long thin curves (quadratic Bézier, 1–3 px) and a few specks: the damage on old prints.

:func:`random_mask` mixes them and retries until the hole covers a fraction of the image inside
a requested range. The evaluation masks in ``shared/data/masks`` are never used for training.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MASK_KINDS", "blob_mask", "random_mask", "scratch_mask", "stroke_mask"]

MASK_KINDS = ("strokes", "blobs", "scratches")
_MIX = {"scratches": 0.35, "strokes": 0.35, "blobs": 0.15, "mixed": 0.15}


def stroke_mask(height: int, width: int, rng: np.random.Generator, *,
                strokes: tuple[int, int] = (1, 4),
                thickness: tuple[float, float] = (0.04, 0.15)) -> np.ndarray:
    """Thick free-form brush strokes.

    Parameters
    ----------
    height, width : int
        Mask size.
    rng : numpy.random.Generator
        Source of randomness.
    strokes : (int, int)
        Inclusive range of the number of strokes.
    thickness : (float, float)
        Brush width range as a fraction of the shorter side.

    Returns
    -------
    ndarray of bool, shape (height, width)
    """
    mask = np.zeros((height, width), np.uint8)
    side = min(height, width)
    for _ in range(int(rng.integers(strokes[0], strokes[1] + 1))):
        brush = max(int(round(rng.uniform(*thickness) * side)), 2)
        x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(2, 8))):
            angle += rng.uniform(-np.pi / 2, np.pi / 2)
            length = rng.uniform(0.1, 0.35) * side
            nx = float(np.clip(x + length * np.cos(angle), 0, width - 1))
            ny = float(np.clip(y + length * np.sin(angle), 0, height - 1))
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, brush, cv2.LINE_AA)
            cv2.circle(mask, (int(nx), int(ny)), brush // 2, 1, -1, cv2.LINE_AA)
            x, y = nx, ny
    return mask > 0


def blob_mask(height: int, width: int, rng: np.random.Generator, *,
              blobs: tuple[int, int] = (1, 3),
              radius: tuple[float, float] = (0.06, 0.22)) -> np.ndarray:
    """Compact irregular blobs (an ellipse with a ragged rim).

    Parameters
    ----------
    height, width : int
        Mask size.
    rng : numpy.random.Generator
        Source of randomness.
    blobs : (int, int)
        Inclusive range of the number of blobs.
    radius : (float, float)
        Main radius range as a fraction of the shorter side.
    """
    mask = np.zeros((height, width), np.uint8)
    side = min(height, width)
    for _ in range(int(rng.integers(blobs[0], blobs[1] + 1))):
        cx, cy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
        ra = max(int(rng.uniform(*radius) * side), 2)
        rb = max(int(ra * rng.uniform(0.4, 1.0)), 2)
        tilt = float(rng.uniform(0, 180))
        cv2.ellipse(mask, (cx, cy), (ra, rb), tilt, 0, 360, 1, -1, cv2.LINE_AA)
        for _ in range(int(rng.integers(3, 10))):
            t = rng.uniform(0, 2 * np.pi)
            px = cx + ra * np.cos(t) * np.cos(np.radians(tilt)) - rb * np.sin(t) * np.sin(
                np.radians(tilt))
            py = cy + ra * np.cos(t) * np.sin(np.radians(tilt)) + rb * np.sin(t) * np.cos(
                np.radians(tilt))
            r = max(int(ra * rng.uniform(0.15, 0.45)), 1)
            cv2.ellipse(mask, (int(px), int(py)), (r, max(int(r * rng.uniform(0.5, 1)), 1)),
                        float(rng.uniform(0, 180)), 0, 360, 1, -1, cv2.LINE_AA)
    return mask > 0


def scratch_mask(height: int, width: int, rng: np.random.Generator, *,
                 scratches: tuple[int, int] = (1, 6), width_px: tuple[int, int] = (1, 3),
                 specks: tuple[int, int] = (0, 6)) -> np.ndarray:
    """Thin curved scratches and a few small specks (dust).

    Parameters
    ----------
    height, width : int
        Mask size.
    rng : numpy.random.Generator
        Source of randomness.
    scratches : (int, int)
        Inclusive range of the number of curves.
    width_px : (int, int)
        Inclusive range of a curve's width in pixels.
    specks : (int, int)
        Inclusive range of the number of dust specks (radius 1–3 px).
    """
    mask = np.zeros((height, width), np.uint8)
    side = min(height, width)
    for _ in range(int(rng.integers(scratches[0], scratches[1] + 1))):
        p0 = rng.uniform((0, 0), (width, height))
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.2) * side
        p2 = p0 + length * np.array([np.cos(angle), np.sin(angle)])
        bend = rng.normal(0, 0.15) * length * np.array([-np.sin(angle), np.cos(angle)])
        p1 = (p0 + p2) / 2 + bend
        t = np.linspace(0, 1, max(int(length // 2), 8))[:, None]
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        thick = int(rng.integers(width_px[0], width_px[1] + 1))
        cv2.polylines(mask, [np.round(curve).astype(np.int32)], False, 1, thick)
    for _ in range(int(rng.integers(specks[0], specks[1] + 1))):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        cv2.circle(mask, centre, int(rng.integers(1, 4)), 1, -1)
    return mask > 0


def _one(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "strokes":
        return stroke_mask(height, width, rng)
    if kind == "blobs":
        return blob_mask(height, width, rng)
    if kind == "scratches":
        return scratch_mask(height, width, rng)
    if kind == "mixed":
        return stroke_mask(height, width, rng, strokes=(1, 2)) | scratch_mask(height, width, rng)
    raise ValueError(f"unknown mask kind {kind!r}; use one of: {', '.join(MASK_KINDS)}, mixed")


def random_mask(height: int, width: int, rng: np.random.Generator, kind: str | None = None, *,
                coverage: tuple[float, float] = (0.005, 0.5), tries: int = 50) -> np.ndarray:
    """A random hole mask whose covered fraction lies in ``coverage``.

    Parameters
    ----------
    height, width : int
        Mask size.
    rng : numpy.random.Generator
        Source of randomness (the same seed gives the same mask).
    kind : str, optional
        ``"strokes"``, ``"blobs"``, ``"scratches"`` or ``"mixed"``; drawn from the training mix
        (35 % scratches, 35 % strokes, 15 % blobs, 15 % strokes + scratches) when omitted.
    coverage : (float, float)
        Accepted range of the hole fraction.
    tries : int
        Draws before giving up and returning a centred square of the mid-range area.

    Returns
    -------
    ndarray of bool, shape (height, width)
        True = hole.
    """
    low, high = coverage
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"coverage must satisfy 0 <= low < high <= 1, got {coverage}")
    names, weights = list(_MIX), np.array(list(_MIX.values()))
    for _ in range(tries):
        chosen = kind or names[int(rng.choice(len(names), p=weights / weights.sum()))]
        mask = _one(chosen, height, width, rng)
        if low <= mask.mean() <= high:
            return mask
    side = int(round(np.sqrt((low + high) / 2 * height * width)))
    side_h, side_w = min(side, height), min(side, width)
    mask = np.zeros((height, width), bool)
    top, left = (height - side_h) // 2, (width - side_w) // 2
    mask[top:top + side_h, left:left + side_w] = True
    return mask
