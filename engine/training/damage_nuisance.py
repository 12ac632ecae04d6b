"""The nuisances of an old print and its scan: real photos have them, and they are not damage.

Scene text (thin letters in the photo's own colours), gamma, fading towards paper white, a
colour cast, sepia toning or conversion to grey, film grain at one or two scales
(luminance-weighted, mono or colour) — :func:`age` — and the scanner's blur, unsharp masking
(halos), sensor noise and JPEG — :func:`draw_scan`, whose :class:`Scan` is applied alike to the
damaged and the undamaged print, so their difference is the damage alone. Nothing here is ever
labelled; :mod:`engine.training.damage_synth` composes the sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["LUMA", "NUISANCE_KINDS", "SEPIA", "Scan", "age", "draw_scan"]

NUISANCE_KINDS = ("text", "gamma", "fade", "cast", "sepia", "gray", "grain", "blur", "sharpen",
                  "noise", "jpeg", "exposure", "frame")
"""What changes the photo but is not damage (never labelled). ``exposure`` (blown highlights
or crushed shadows: flat white or black areas, often at the photo's edge) and ``frame``
(straight flat bands and lines along an edge) draw no random number when their chance is 0, so
specs without them give the same photos as before they existed."""

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
"""Rec. 601 luma weights."""
SEPIA = np.array([1.07, 0.87, 0.62], np.float32)
"""Per-channel gain of full sepia toning."""
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
          cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,'-"


def _text(rng: np.random.Generator, image: np.ndarray, neutral: bool) -> None:
    """Letters in the scene (a sign, a caption): thin strokes that are not damage."""
    height, width = image.shape[:2]
    canvas = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        word = "".join(rng.choice(list(_LETTERS), int(rng.integers(2, 12))))
        scale = rng.uniform(0.3, 1.4)
        origin = (int(rng.uniform(-0.1, 0.8) * width), int(rng.uniform(0.1, 1.0) * height))
        cv2.putText(canvas, word, origin, int(rng.choice(_FONTS)), scale, 255,
                    int(rng.integers(1, 3)), cv2.LINE_AA)
    alpha = canvas.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.3, 0.8))
    pick = image[int(rng.integers(height)), int(rng.integers(width))]
    colour = 1.0 - pick + rng.uniform(-0.2, 0.2, 3)
    colour = np.clip(colour.mean() if neutral else colour, 0, 1).astype(np.float32)
    image *= 1.0 - alpha[:, :, None]
    image += alpha[:, :, None] * colour


def _grain(rng: np.random.Generator, image: np.ndarray, neutral: bool) -> float:
    """Add film grain in place; return its amplitude (about its standard deviation at
    mid-grey)."""
    height, width = image.shape[:2]
    mono = rng.random() < 0.7 or neutral
    field_ = np.zeros((height, width, 1 if mono else 3), np.float32)
    for _ in range(int(rng.integers(1, 3))):
        noise = rng.standard_normal(field_.shape).astype(np.float32)
        sigma = rng.uniform(0.4, 2.0)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma).reshape(field_.shape)
        field_ += blurred / max(float(blurred.std()), 1e-6)
    luma = image @ LUMA
    weight = (0.4 + 2.4 * luma * (1.0 - luma))[:, :, None]
    amplitude = float(rng.uniform(0.01, 0.07))
    image += amplitude * weight * field_ / math.sqrt(2.0)
    return amplitude


def _exposure(rng: np.random.Generator, image: np.ndarray) -> None:
    """Over- or under-exposure, in place: the brightest (or darkest) part of the photo becomes
    flat white (black), the way a blown sky or a crushed shadow looks, in any shape and often
    touching the photo's edge; what a torn corner or a flake must not be confused with."""
    luma = image @ LUMA
    if rng.random() < 0.6:              # the brightest 5-40 % blown out
        image /= max(float(np.quantile(luma, rng.uniform(0.6, 0.95))), 0.05)
    else:                               # the darkest 5-30 % crushed
        floor = min(float(np.quantile(luma, rng.uniform(0.05, 0.3))), 0.9)
        image -= floor
        image /= 1.0 - floor
    np.clip(image, 0.0, 1.0, out=image)


def _frame(rng: np.random.Generator, image: np.ndarray, tone: np.ndarray, neutral: bool
           ) -> None:
    """Straight structure along one side, in place: what a torn edge must not be confused with.

    A flat band with a straight (barely tilted) inner boundary — a print's white margin, a
    door frame, a painted wall, often paper-coloured, sometimes shaded in parallel stripes —
    and/or a thin straight line hugging that side (a scanner's edge shadow, a mount's rim).
    Torn edges are ragged; these are straight, and never labelled.
    """
    height, width = image.shape[:2]
    side = int(rng.integers(4))                         # top, bottom, left, right
    along, across = (width, height) if side < 2 else (height, width)
    t = np.arange(across, dtype=np.float32)
    depth = t if side in (0, 2) else (across - 1 - t)   # distance from the chosen side
    slope = float(np.tan(np.radians(rng.uniform(-2.0, 2.0))))
    s = np.arange(along, dtype=np.float32) - along / 2
    depth = depth[:, None] + slope * s[None, :]         # (across, along)
    if side >= 2:
        depth = depth.T
        s_map = np.broadcast_to(s[:, None], (height, width))
    else:
        s_map = np.broadcast_to(s[None, :], (height, width))
    if rng.random() < 0.8:                              # a flat band
        band = rng.uniform(0.04, 0.3) * across
        if rng.random() < 0.6:                          # paper-coloured: a margin, white paint
            colour = rng.uniform(0.78, 1.0) * tone / tone.max()
            colour = colour + rng.uniform(-0.03, 0.03, 3).astype(np.float32)
        else:                                           # a flat colour from the photo
            pick = image[int(rng.integers(height)), int(rng.integers(width))]
            colour = pick + rng.uniform(-0.1, 0.1, 3).astype(np.float32)
        if neutral:                                     # a grey print stays grey (or toned)
            colour = float(colour.mean()) * tone / tone.max()
        shade = np.zeros((height, width), np.float32)
        for _ in range(int(rng.integers(0, 3))):        # parallel stripes of other brightness
            at = rng.uniform(0.1, 0.9) * band
            shade += (depth > at) * rng.uniform(-0.12, 0.12)
        shade += rng.uniform(-0.05, 0.05) * s_map / max(along, 1)
        fill = np.clip(colour[None, None, :] + shade[:, :, None], 0.0, 1.0)
        alpha = np.clip(band + 0.5 - depth, 0.0, 1.0)[:, :, None]
        image *= 1.0 - alpha
        image += alpha * fill
        edge = band
    else:
        edge = float(rng.uniform(0.0, 3.0))
    if rng.random() < 0.5:                              # a thin straight line along that side
        half = rng.uniform(0.5, 1.5)
        line = np.clip(half + 0.5 - np.abs(depth - edge - half), 0.0, 1.0)[:, :, None]
        value = rng.uniform(0.0, 0.25) if rng.random() < 0.7 else rng.uniform(0.8, 1.0)
        image *= 1.0 - line
        image += line * value * tone / tone.max()
    np.clip(image, 0.0, 1.0, out=image)


def age(rng: np.random.Generator, image: np.ndarray, probability: Mapping[str, float],
        applied: list[str], gray_source: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Scene text and print ageing, in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random choice.
    image : ndarray of float32, shape (H, W, 3)
        A copy of the clean photo; changed in place.
    probability : mapping of str to float
        Chance of each kind in :data:`NUISANCE_KINDS`.
    applied : list of str
        Receives the names of the nuisances applied.
    gray_source : bool
        The photo is grey: it stays neutral (and is toned more often).

    Returns
    -------
    image : ndarray of float32
        ``image`` itself, clipped to [0, 1].
    tone : ndarray of float32, shape (3,)
        The print's toning (sepia or ones).
    grain : float
        The grain amplitude, 0 without grain.
    """
    p = probability
    tone = np.ones(3, np.float32)
    grain = 0.0
    if rng.random() < p["text"]:
        _text(rng, image, gray_source)
        applied.append("text")
    if rng.random() < p["gamma"]:
        np.power(np.clip(image, 0, 1), rng.uniform(0.7, 1.4), out=image)
        applied.append("gamma")
    # Grey photos are toned more often (0.3 more), as old prints were.
    if rng.random() < p["sepia"] or gray_source and p["sepia"] > 0 and rng.random() < 0.3:
        strength = rng.uniform(0.5, 1.0)
        sepia = (image @ LUMA)[:, :, None] * SEPIA
        image[:] = (1 - strength) * image + strength * np.clip(sepia, 0, 1)
        tone = (1 - strength) + strength * SEPIA
        applied.append("sepia")
    elif rng.random() < p["gray"] or gray_source:
        image[:] = (image @ LUMA)[:, :, None]
        if not gray_source:
            applied.append("gray")
    if rng.random() < p["fade"]:
        amount = rng.uniform(0.1, 0.5)
        paper = np.array([1.0, 0.97, 0.9], np.float32) * rng.uniform(0.85, 1.0) * tone
        image[:] = (1 - amount) * image + amount * np.clip(paper, 0, 1)
        applied.append("fade")
    if rng.random() < p["cast"]:
        gain = 1.0 + rng.uniform(-0.15, 0.15, 3).astype(np.float32)
        image *= gain if not gray_source else gain.mean()
        applied.append("cast")
    if p.get("exposure", 0.0) > 0 and rng.random() < p["exposure"]:
        _exposure(rng, image)
        applied.append("exposure")
    if p.get("frame", 0.0) > 0 and rng.random() < p["frame"]:
        _frame(rng, image, tone, gray_source or "gray" in applied)
        applied.append("frame")
    if rng.random() < p["grain"]:
        grain = _grain(rng, image, gray_source or "gray" in applied or "sepia" in applied)
        applied.append("grain")
    np.clip(image, 0.0, 1.0, out=image)
    return image, tone, grain


@dataclass(frozen=True)
class Scan:
    """Scanner settings drawn once and applied alike to the damaged and the undamaged print.

    Attributes
    ----------
    blur : float
        Gaussian blur σ (px), 0 for none.
    sharpen : tuple of float
        Unsharp-mask amount and σ, ``(0, 0)`` for none.
    noise : ndarray or None
        Sensor noise to add (``H×W×1`` or ``H×W×3``).
    noise_sigma : float
        Its standard deviation (0 without noise).
    jpeg : int
        JPEG quality, 0 for none.
    """

    blur: float
    sharpen: tuple[float, float]
    noise: np.ndarray | None
    noise_sigma: float
    jpeg: int

    def optics(self, image: np.ndarray) -> np.ndarray:
        """Blur, then sharpen (the same for the damaged and the undamaged print)."""
        out = image
        if self.blur > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.blur)
        amount, sigma = self.sharpen
        if amount > 0:
            out = out + amount * (out - cv2.GaussianBlur(out, (0, 0), sigma))
        return out

    def sensor(self, image: np.ndarray) -> np.ndarray:
        """Add the noise, clip to [0, 1], JPEG round trip; float32."""
        out = image if self.noise is None else image + self.noise
        out = np.clip(out, 0.0, 1.0)
        if self.jpeg:
            pixels = np.rint(out[:, :, ::-1] * 255.0).astype(np.uint8)
            ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
        return np.ascontiguousarray(out, dtype=np.float32)


def draw_scan(rng: np.random.Generator, shape: tuple[int, int, int],
              probability: Mapping[str, float], applied: list[str], gray: bool) -> Scan:
    """Draw the scanner's blur, sharpening, noise and JPEG (names appended to ``applied``);
    ``gray`` makes the noise the same in every channel."""
    p = probability
    blur = rng.uniform(0.3, 1.5) if rng.random() < p["blur"] else 0.0
    sharpen = ((rng.uniform(0.3, 1.5), rng.uniform(0.8, 2.0)) if rng.random() < p["sharpen"]
               else (0.0, 0.0))
    noise, noise_sigma = None, 0.0
    if rng.random() < p["noise"]:
        mono = gray or rng.random() < 0.5
        noise = rng.standard_normal((*shape[:2], 1 if mono else 3)).astype(np.float32)
        noise_sigma = float(rng.uniform(0.003, 0.035))
        noise *= noise_sigma
    jpeg = int(rng.integers(30, 96)) if rng.random() < p["jpeg"] else 0
    for name, used in (("blur", blur > 0), ("sharpen", sharpen[0] > 0),
                       ("noise", noise is not None), ("jpeg", jpeg > 0)):
        if used:
            applied.append(name)
    return Scan(blur, sharpen, noise, noise_sigma, jpeg)
