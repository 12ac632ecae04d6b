"""The face window model: histograms of oriented gradients (HOG) scored by a learned template,
as in Dalal & Triggs (2005) and dlib's face detector.

A window is ``WINDOW × WINDOW`` pixels of a grey plane: 8 × 8 cells of 4 px, each a histogram of
9 unsigned gradient orientations weighted by the gradient's magnitude; each 2 × 2 group of cells
is normalised (L2, clipped at 0.2, normalised again), which makes the features blind to
brightness and contrast; the template scores the 7 × 7 groups of a window. A whole plane is
scored at once, one window every ``STRIDE`` (one cell) pixels. HOG with a small template is the
classic choice when few faces are marked to learn from: its normalisation does what a network
would need thousands of faces to learn.

The template is trained by :mod:`engine.training.faces`; it ships as
``resources/models/face_detector.safetensors`` and is a torch module (a 7 × 7 convolution over
the groups, with an optional hidden layer) so the shipped-weights machinery (checksums,
manifest, cache) loads it like any other model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

__all__ = ["BINS", "CELL", "GROUPS", "STRIDE", "WINDOW", "FaceTemplate", "build_face_model",
           "hog_groups", "score_plane", "window_groups"]

CELL = 4
"""Cell side in pixels."""

WINDOW = 32
"""Window side in pixels (8 cells)."""

STRIDE = CELL
"""Distance between two scored windows, in pixels."""

BINS = 9
"""Unsigned orientation bins (20° each)."""

GROUPS = WINDOW // CELL - 1
"""2 × 2-cell groups across a window (7)."""

CHANNELS = 4 * BINS
"""Features per group (36)."""


def _groups(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Normalised 2 × 2-cell groups from the gradients of a plane."""
    rows, cols = gx.shape[0] // CELL, gx.shape[1] // CELL
    gx, gy = gx[:rows * CELL, :cols * CELL], gy[:rows * CELL, :cols * CELL]
    magnitude = np.sqrt(gx * gx + gy * gy)
    angle = (np.arctan2(gy, gx) % np.pi) * np.float32(BINS / np.pi)
    low = np.floor(angle)
    upper = (angle - low).astype(np.float32)
    low = low.astype(np.int64) % BINS
    # Each pixel votes for its cell's two nearest orientation bins.
    r, c = np.indices((rows * CELL, cols * CELL))
    cell = (r // CELL) * cols + c // CELL
    size = rows * cols * BINS
    cells = (np.bincount((cell * BINS + low).ravel(), (magnitude * (1 - upper)).ravel(), size)
             + np.bincount((cell * BINS + (low + 1) % BINS).ravel(), (magnitude * upper).ravel(),
                           size))
    cells = cells.reshape(rows, cols, BINS).astype(np.float32)
    groups = np.concatenate([cells[:-1, :-1], cells[:-1, 1:], cells[1:, :-1], cells[1:, 1:]],
                            axis=2)
    groups /= np.sqrt((groups * groups).sum(axis=2, keepdims=True) + 1e-4)
    np.minimum(groups, 0.2, out=groups)
    groups /= np.sqrt((groups * groups).sum(axis=2, keepdims=True) + 1e-4)
    return groups.astype(np.float32)


def _gradients(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    gx = cv2.Sobel(plane, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(plane, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    return gx, gy


def hog_groups(plane: np.ndarray) -> np.ndarray:
    """The normalised HOG groups of a grey plane.

    Parameters
    ----------
    plane : ndarray of float32, shape (H, W)
        Grey values in [0, 1]; gradients are central differences (reflected at the border).

    Returns
    -------
    ndarray of float32, shape (H // CELL - 1, W // CELL - 1, 36)
        Group ``[i, j]`` covers the cells ``i, i + 1`` × ``j, j + 1``.
    """
    return _groups(*_gradients(plane))


def window_groups(framed: np.ndarray) -> np.ndarray:
    """The ``GROUPS × GROUPS × 36`` features of one window given with a 1 px frame
    (``(WINDOW + 2)²`` pixels): the frame gives the window's edge pixels the gradients they have
    inside a plane scored by :func:`score_plane`."""
    gx, gy = _gradients(framed)
    return _groups(gx[1:-1, 1:-1], gy[1:-1, 1:-1])


class FaceTemplate(nn.Module):
    """Scores of every window from a map of HOG groups.

    Parameters
    ----------
    hidden : int
        0 for a linear template (a 7 × 7 × 36 convolution); otherwise the channels of a hidden
        layer between that convolution and a 1 × 1 one.
    """

    def __init__(self, hidden: int = 0) -> None:
        super().__init__()
        if hidden:
            self.body = nn.Sequential(nn.Conv2d(CHANNELS, hidden, GROUPS), nn.ReLU(),
                                      nn.Conv2d(hidden, 1, 1))
        else:
            self.body = nn.Sequential(nn.Conv2d(CHANNELS, 1, GROUPS))

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        """Logits ``N×1×h×w`` from groups ``N×36×H×W``."""
        return self.body(groups)


def build_face_model(config: Mapping[str, Any]) -> FaceTemplate:
    """The untrained model for a manifest entry's ``config`` (``hidden``)."""
    return FaceTemplate(int(config.get("hidden", 0)))


def score_plane(model: nn.Module, plane: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Face probability of every window of ``plane``.

    Parameters
    ----------
    model : nn.Module
        A :class:`FaceTemplate` in eval mode.
    plane : ndarray of float32, shape (H, W)
        Equalised luma in [0, 1], at least ``WINDOW`` px on each side.
    device : str
        Where the model lives.

    Returns
    -------
    ndarray of float32, shape ((H - WINDOW) // STRIDE + 1, (W - WINDOW) // STRIDE + 1)
        Entry ``[i, j]`` scores the window whose top-left corner is ``(STRIDE·j, STRIDE·i)``.
    """
    groups = hog_groups(plane)
    with torch.inference_mode():
        tensor = torch.from_numpy(np.ascontiguousarray(groups.transpose(2, 0, 1)))
        logits = model(tensor.to(device)[None])[0, 0]
        return torch.sigmoid(logits).float().cpu().numpy()
