"""The damage the classical suite plants in clean images, each with what it planted."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["DEGRADATIONS", "Degradation", "Sample", "gaussian_blur", "strokes"]


@dataclass
class Sample:
    """A degraded image and what was planted: a hole or defect mask, template positions."""

    image: np.ndarray
    mask: np.ndarray | None = None
    truth_mask: np.ndarray | None = None
    positions: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Degradation:
    """A named way of damaging a clean image, and a phrase for the table."""

    label: str
    make: Callable[[np.ndarray, np.random.Generator], Sample]


def _gaussian_noise(sigma: float) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        noise = rng.normal(0.0, sigma, truth.shape).astype(np.float32)
        return Sample(np.clip(truth + noise, 0.0, 1.0))

    return make


def _salt_pepper(amount: float) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        hit = rng.random(truth.shape[:2]) < amount
        salt = rng.random(truth.shape[:2]) < 0.5
        image = truth.copy()
        image[hit & salt] = 1.0
        image[hit & ~salt] = 0.0
        return Sample(image, truth_mask=hit)

    return make


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with a Gaussian of ``sigma`` px (kernel radius 3σ, reflected borders)."""
    size = 2 * math.ceil(3 * sigma) + 1
    blurred = cv2.GaussianBlur(image, (size, size), sigma, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(image.shape)


def _blur(sigma: float, noise: float = 0.0) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        image = gaussian_blur(truth, sigma)
        if noise:
            image = image + rng.normal(0.0, noise, truth.shape).astype(np.float32)
        return Sample(np.clip(image, 0.0, 1.0).astype(np.float32))

    return make


def strokes(shape: tuple[int, int], rng: np.random.Generator, count: int,
             widths: tuple[int, int]) -> np.ndarray:
    """Random polyline strokes (scratches, scribbles) as a ``bool`` mask."""
    height, width = shape
    canvas = np.zeros(shape, np.uint8)
    for _ in range(count):
        points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))]
        for _ in range(int(rng.integers(1, 4))):
            x, y = points[-1]
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.1, 0.35) * min(height, width)
            points.append((int(np.clip(x + length * math.cos(angle), 0, width - 1)),
                           int(np.clip(y + length * math.sin(angle), 0, height - 1))))
        thickness = int(rng.integers(widths[0], widths[1] + 1))
        cv2.polylines(canvas, [np.array(points, np.int32)], False, 255, thickness)
    return canvas > 0


def _scribbles(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    scale = max(1, min(truth.shape[:2]) // 100)
    hole = strokes(truth.shape[:2], rng, 6, (2 * scale, 4 * scale))
    image = truth.copy()
    image[hole] = 1.0
    return Sample(image, mask=hole, truth_mask=hole)


def _defects(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    """Salt and pepper (0.5 %), thin scratches and dust spots, all recorded in ``truth_mask``."""
    height, width = truth.shape[:2]
    image = truth.copy()
    impulses = rng.random((height, width)) < 0.005
    salt = rng.random((height, width)) < 0.5
    image[impulses & salt] = 1.0
    image[impulses & ~salt] = 0.0
    scratches = strokes((height, width), rng, 4, (1, 2))
    image[scratches] = np.where(rng.random() < 0.5, 0.97, 0.03)
    spots = np.zeros((height, width), np.uint8)
    for _ in range(8):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(spots, centre, int(rng.integers(2, 5)), 255, -1)
    image[spots > 0] = 0.05
    return Sample(image, truth_mask=impulses | scratches | (spots > 0))


def _template_copies(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    """Paste copies of one patch at random non-overlapping places; the mask marks the source."""
    height, width = truth.shape[:2]
    size = max(8, min(height, width) // 12)
    image = truth.copy()
    taken = np.zeros((height, width), bool)
    boxes: list[tuple[int, int]] = []
    for _ in range(200):
        y, x = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
        if not taken[max(0, y - size):y + 2 * size, max(0, x - size):x + 2 * size].any():
            taken[y:y + size, x:x + size] = True
            boxes.append((y, x))
        if len(boxes) == 4:
            break
    # A person picks a distinctive patch (a speck, a logo): take the box with the most detail.
    boxes.sort(key=lambda box: -float(truth[box[0]:box[0] + size, box[1]:box[1] + size].std()))
    (sy, sx), copies = boxes[0], boxes[1:]
    patch = truth[sy:sy + size, sx:sx + size]
    for y, x in copies:
        image[y:y + size, x:x + size] = patch
    source = np.zeros((height, width), bool)
    source[sy:sy + size, sx:sx + size] = True
    return Sample(image, mask=source, positions=[(sy, sx), *copies])


def _clean(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    return Sample(truth.copy())


DEGRADATIONS: dict[str, Degradation] = {
    "noise15": Degradation("Gaussian noise σ=15/255", _gaussian_noise(15 / 255)),
    "sp10": Degradation("salt & pepper 10%", _salt_pepper(0.10)),
    "blur2": Degradation("Gaussian blur σ=2 + noise 0.5/255", _blur(2.0, 0.5 / 255)),
    "blur1": Degradation("Gaussian blur σ=1", _blur(1.0)),
    "scribbles": Degradation("scribble holes", _scribbles),
    "defects": Degradation("S&P 0.5% + scratches + spots", _defects),
    "copies": Degradation("3 pasted copies", _template_copies),
    "clean": Degradation("none (speed only)", _clean),
}
