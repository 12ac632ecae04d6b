"""Face detection for privacy masks: a window classifier run over an image pyramid, its hits
merged into one box per face, and the boxes drawn as a mask.

The steps, each a function here so the tests can check them one by one:

1. :func:`detection_plane` — luma, downscaled so its longer side is at most ``max_side`` (a
   50 MP photo is searched on a 1024 px copy; boxes are scaled back), and histogram-equalised,
   so grey, faded and dark photos reach the classifier with a full range of tones.
2. :func:`pyramid_scales` — the levels at which a face of ``min_face`` px up to the whole image
   fills the classifier's window.
3. :func:`raw_detections` — every window that scores above the threshold, at every level, as a
   face box in image pixels. The scorer sees each level and its mirror image (faces turned to
   either side score alike) and keeps the mean.
4. :func:`merge_detections` — overlapping hits are grouped, a group counts as a face when it
   has enough support (hits at neighbouring positions and scales, as a real face has), and its
   box is the score-weighted mean of its members; then one box per face is kept.
5. :func:`faces_mask` — ellipses or boxes around the faces, grown by a margin (more above the
   face, for the hair).

The scorer is any function from a grey plane to a window-probability map (see
:func:`engine.ops.privacy.facemodel.score_plane`); :func:`detect_faces` uses the shipped network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.core.pixels import to_gray
from engine.core.progress import CancelToken, Progress, null_progress

__all__ = [
    "FaceBox",
    "Scorer",
    "detect_faces",
    "detection_plane",
    "faces_mask",
    "iou",
    "merge_detections",
    "pyramid_scales",
    "raw_detections",
    "sensitivity_settings",
]

WINDOW = 32
STRIDE = 4
FACE_FRACTION = 1.0 / 1.25
# The same constants as engine.ops.privacy.facemodel (which imports torch); a test holds them
# equal.

SCALE_STEP = 1.2
"""Ratio between two pyramid levels."""

MAX_UPSCALE = 2.0
"""The pyramid enlarges the plane at most this much (faces below ~10 px are not looked for)."""

Scorer = Callable[[np.ndarray], np.ndarray]
"""Maps a float32 grey plane ``H×W`` in [0, 1] to the face probability of its windows, shape
``((H - WINDOW) // STRIDE + 1, (W - WINDOW) // STRIDE + 1)``."""


@dataclass(frozen=True)
class FaceBox:
    """A face found: its box in image pixels, its score and how many hits support it.

    Attributes
    ----------
    x0, y0, x1, y1 : float
        Left, top, right, bottom edges (pixels; right and bottom exclusive).
    score : float
        The best window probability in its group (0–1).
    support : float
        Sum of the probabilities of the hits merged into it.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    support: float = 1.0

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y1 - self.y0

    def scaled(self, factor: float) -> FaceBox:
        """The box with its coordinates multiplied by ``factor``."""
        return FaceBox(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor,
                       self.score, self.support)

    def as_list(self) -> list[float]:
        """``[x, y, width, height, score]`` rounded for an info dict or a JSON file."""
        return [round(self.x0, 1), round(self.y0, 1), round(self.width, 1),
                round(self.height, 1), round(self.score, 3)]


def iou(a: FaceBox | Sequence[float], b: FaceBox | Sequence[float]) -> float:
    """Intersection over union of two boxes given as :class:`FaceBox` or ``(x0, y0, x1, y1)``."""
    ax0, ay0, ax1, ay1 = _corners(a)
    bx0, by0, bx1, by1 = _corners(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _corners(box: FaceBox | Sequence[float]) -> tuple[float, float, float, float]:
    if isinstance(box, FaceBox):
        return box.x0, box.y0, box.x1, box.y1
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    return x0, y0, x1, y1


def detection_plane(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The grey plane the detector searches, and its scale relative to ``image``.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The photo, C = 1 or 3, in [0, 1].
    max_side : int
        Longer side of the plane; larger images are shrunk to it (area averaging).

    Returns
    -------
    plane : ndarray of float32, shape (h, w)
        Histogram-equalised luma in [0, 1].
    scale : float
        ``plane size / image size`` (1.0 when the image is not shrunk).
    """
    luma = to_gray(image)
    height, width = luma.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    levels = np.clip(np.rint(luma * 255.0), 0, 255).astype(np.uint8)
    return cv2.equalizeHist(levels).astype(np.float32) / 255.0, scale


def pyramid_scales(shape: tuple[int, int], min_face: float) -> list[float]:
    """Resize factors of the pyramid levels, largest first.

    At factor ``s`` a face of side ``WINDOW · FACE_FRACTION / s`` px fills the window, so the
    first level finds faces of ``min_face`` px (enlarging at most :data:`MAX_UPSCALE` times)
    and the last is the smallest level that still holds one window.
    """
    first = min(WINDOW * FACE_FRACTION / max(min_face, 1.0), MAX_UPSCALE)
    scales = []
    scale = first
    while min(shape) * scale >= WINDOW:
        scales.append(scale)
        scale /= SCALE_STEP
    return scales


def raw_detections(plane: np.ndarray, scorer: Scorer, scales: Sequence[float],
                   threshold: float, *, progress: Progress = null_progress,
                   cancel: CancelToken | None = None) -> list[FaceBox]:
    """Every window scoring at least ``threshold`` at any level, as a face box in plane pixels.

    Each level is scored as it is and mirrored (the mirrored map flipped back); a window's
    probability is the mean of the two.
    """
    found: list[FaceBox] = []
    height, width = plane.shape
    side = WINDOW * FACE_FRACTION
    inset = (WINDOW - side) / 2.0
    for index, scale in enumerate(scales):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(index / max(len(scales), 1), "looking for faces")
        size = (max(WINDOW, round(width * scale)), max(WINDOW, round(height * scale)))
        level = cv2.resize(plane, size, interpolation=cv2.INTER_AREA if scale < 1
                           else cv2.INTER_LINEAR)
        fx = width / level.shape[1]
        fy = height / level.shape[0]
        # Mirrored window j starts at column (W - WINDOW) - STRIDE·j of the level: it lines up
        # with window (W - WINDOW) / STRIDE - j when that is whole, so the level loses the
        # (under STRIDE) columns that would leave a remainder.
        level = np.ascontiguousarray(level[:, :level.shape[1] - (level.shape[1] - WINDOW) % STRIDE])
        probability = scorer(level)
        mirrored = scorer(np.ascontiguousarray(level[:, ::-1]))
        probability = 0.5 * (probability + mirrored[:, ::-1])
        rows, cols = np.nonzero(probability >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            x0 = (col * STRIDE + inset) * fx
            y0 = (row * STRIDE + inset) * fy
            found.append(FaceBox(x0, y0, x0 + side * fx, y0 + side * fy,
                                 float(probability[row, col]), float(probability[row, col])))
    return found


def merge_detections(hits: Sequence[FaceBox], *, min_support: float,
                     overlap: float = 0.3) -> list[FaceBox]:
    """Group overlapping hits into faces.

    Parameters
    ----------
    hits : sequence of FaceBox
        Raw window hits (:func:`raw_detections`).
    min_support : float
        A group counts as a face when the probabilities of its hits add up to at least this
        (a real face fires at neighbouring positions and scales; a stray texture seldom does).
    overlap : float
        Intersection over union that puts a hit in a group, and above which two merged faces
        are one: the one with less support is dropped, and so is a face whose centre lies in
        one with more support or that holds the centre of one with more support.

    Returns
    -------
    list of FaceBox
        Most supported first; each box is the probability-weighted mean of its group.
    """
    order = sorted(range(len(hits)), key=lambda i: -hits[i].score)
    taken = np.zeros(len(hits), dtype=bool)
    corners = np.array([_corners(h) for h in hits], dtype=np.float64).reshape(-1, 4)
    merged: list[FaceBox] = []
    for seed in order:
        if taken[seed]:
            continue
        members = np.flatnonzero(~taken & (_ious(corners[seed], corners) >= overlap))
        members = np.union1d(members, [seed])
        taken[members] = True
        weights = np.array([hits[m].score for m in members])
        support = float(weights.sum())
        if support < min_support:
            continue
        box = (corners[members] * weights[:, None]).sum(axis=0) / support
        merged.append(FaceBox(*box.tolist(), score=hits[seed].score, support=support))
    kept: list[FaceBox] = []
    for face in sorted(merged, key=lambda f: (-f.support, -f.score)):
        if any(iou(face, other) >= overlap or _centre_in(face, other) or _centre_in(other, face)
               for other in kept):
            continue
        kept.append(face)
    return kept


def _centre_in(a: FaceBox, b: FaceBox) -> bool:
    """Whether the centre of ``a`` lies inside ``b``."""
    cx, cy = (a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2
    return b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1


def _ious(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def sensitivity_settings(sensitivity: float) -> tuple[float, float]:
    """The window threshold and the support a face needs, for a sensitivity in [0, 1].

    At 0.5 (the default) a window needs a probability of 0.46 and a face a support of 1.2. On
    the held-out part of the training photos (``engine/training/faces.py``) this setting and
    the next stricter one (0.5, 1.5) find the same faces, the stricter with fewer false boxes;
    for privacy a missed face is the worse error, so the default is the one that finds more
    on the bench's photos (recall 0.50 against 0.32 there, at a precision of 0.40 against
    0.43). Higher lowers both, finding fainter and more turned faces and more false ones;
    lower raises both.
    """
    sensitivity = min(max(float(sensitivity), 0.0), 1.0)
    threshold = 0.46 - 0.4 * (sensitivity - 0.5)
    support = 1.2 * math.exp(-2.2 * (sensitivity - 0.5))
    return threshold, support


def detect_faces(image: np.ndarray, *, sensitivity: float = 0.5, min_face: float = 20.0,
                 max_side: int = 1024, scorer: Scorer | None = None,
                 device: str = "cpu", progress: Progress = null_progress,
                 cancel: CancelToken | None = None) -> tuple[list[FaceBox], float]:
    """Find faces in a photo.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The photo (C = 1 or 3) in [0, 1].
    sensitivity : float
        0–1; higher finds more faces and more false ones (:func:`sensitivity_settings`).
    min_face : float
        Smallest face side to look for, in image pixels.
    max_side : int
        Images with a longer side are searched on a copy shrunk to it.
    scorer : callable, optional
        Window scorer (:data:`Scorer`); the shipped network by default.
    device : str
        Where the shipped network runs.
    progress, cancel
        Progress callback and cancel token.

    Returns
    -------
    faces : list of FaceBox
        In image pixels, most supported first.
    scale : float
        The scale of the plane that was searched (1.0 when the image was not shrunk).
    """
    plane, scale = detection_plane(image, max_side)
    if scorer is None:
        scorer = shipped_scorer(device)
    threshold, support = sensitivity_settings(sensitivity)
    scales = pyramid_scales(plane.shape, min_face * scale)
    hits = raw_detections(plane, scorer, scales, threshold, progress=progress, cancel=cancel)
    faces = merge_detections(hits, min_support=support)
    height, width = image.shape[:2]
    boxes = [_clip(face.scaled(1.0 / scale), width, height) for face in faces]
    return [box for box in boxes if box.width > 0 and box.height > 0], scale


def _clip(box: FaceBox, width: int, height: int) -> FaceBox:
    return FaceBox(max(box.x0, 0.0), max(box.y0, 0.0), min(box.x1, float(width)),
                   min(box.y1, float(height)), box.score, box.support)


def shipped_scorer(device: str = "cpu") -> Scorer:
    """The window scorer of the shipped face detector (loads torch and the weights)."""
    from engine.models.weights import load_model
    from engine.ops.privacy import MODEL_NAME
    from engine.ops.privacy.facemodel import score_plane

    model, _ = load_model(MODEL_NAME, device)

    def score(plane: np.ndarray) -> np.ndarray:
        return score_plane(model, plane, device)

    return score


def faces_mask(shape: tuple[int, int], faces: Sequence[FaceBox], *, margin: float = 0.25,
               ellipse: bool = True) -> np.ndarray:
    """A mask over the faces.

    Parameters
    ----------
    shape : (int, int)
        Image height and width.
    faces : sequence of FaceBox
        Face boxes in image pixels.
    margin : float
        Grow each face by this fraction of its size on the left, right and below, and by 1.5
        times it above (the hair).
    ellipse : bool
        An ellipse inside the grown box (True) or the box itself.

    Returns
    -------
    ndarray of bool, shape ``shape``
    """
    height, width = shape
    canvas = np.zeros((height, width), dtype=np.uint8)
    for face in faces:
        dx, dy = margin * face.width, margin * face.height
        x0, x1 = face.x0 - dx, face.x1 + dx
        y0, y1 = face.y0 - 1.5 * dy, face.y1 + dy
        if ellipse:
            centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
            axes = (max(1, round((x1 - x0) / 2)), max(1, round((y1 - y0) / 2)))
            cv2.ellipse(canvas, centre, axes, 0.0, 0.0, 360.0, 1, thickness=-1)
        else:
            top, left = max(0, math.floor(y0)), max(0, math.floor(x0))
            canvas[top:max(top, math.ceil(y1)), left:max(left, math.ceil(x1))] = 1
    return canvas > 0
