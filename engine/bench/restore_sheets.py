"""Contact sheets of the restore bench (:mod:`engine.bench.restore`), to be looked at.

Each row shows one photo: damaged | damage probability | proposal | repaired. On bench images
the proposal is green where it is right, red where it is not damage and blue where damage was
missed (:data:`TOLERANCE` px slack); on real photos, which have no ground truth, it is red.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["TOLERANCE", "Visual", "contact_sheet", "large_sheet"]

TOLERANCE = 2
"""Slack (px) with which found and true damage pixels are matched."""


@dataclass
class Visual:
    """What a contact sheet row shows for one photo.

    Attributes
    ----------
    name : str
        The file name.
    damaged, repaired : ndarray of float32, shape (H, W, C)
        The photo as given to the detector and after the default inpainting.
    probability : ndarray of float32, shape (H, W)
        The learned detector's damage probability.
    proposal : ndarray of bool, shape (H, W)
        The learned detector's mask.
    label : ndarray of bool, optional
        The true damage (bench images only).
    facts : dict
        Printed in the proposal panel's title.
    """

    name: str
    damaged: np.ndarray
    probability: np.ndarray
    proposal: np.ndarray
    repaired: np.ndarray
    label: np.ndarray | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _panel(image: np.ndarray, width: int, title: str) -> np.ndarray:
    rgb = np.repeat(image, 3, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image
    rgb = np.repeat(rgb[:, :, None], 3, axis=2) if rgb.ndim == 2 else rgb
    height = max(int(round(rgb.shape[0] * width / rgb.shape[1])), 1)
    method = cv2.INTER_AREA if width < rgb.shape[1] else cv2.INTER_NEAREST
    scaled = cv2.resize(np.clip(rgb, 0, 1).astype(np.float32), (width, height),
                        interpolation=method)
    band = np.full((18, width, 3), 255, np.uint8)
    cv2.putText(band, title[:60], (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([band.astype(np.float32) / 255.0, scaled], axis=0)


def _overlay(visual: Visual) -> np.ndarray:
    base = visual.damaged
    base = np.repeat(base, 3, axis=2) if base.shape[2] == 1 else base.copy()
    colours = []
    if visual.label is None:
        colours.append((visual.proposal, (1.0, 0.0, 0.0)))
    else:
        kernel = np.ones((2 * TOLERANCE + 1,) * 2, np.uint8)
        near_truth = cv2.dilate(visual.label.astype(np.uint8), kernel) > 0
        near_found = cv2.dilate(visual.proposal.astype(np.uint8), kernel) > 0
        colours += [(visual.proposal & near_truth, (0.0, 0.9, 0.0)),
                    (visual.proposal & ~near_truth, (1.0, 0.0, 0.0)),
                    (visual.label & ~near_found, (0.0, 0.3, 1.0))]
    for where, colour in colours:
        base[where] = 0.35 * base[where] + 0.65 * np.array(colour, np.float32)
    return base


def contact_sheet(visuals: Sequence[Visual], path: Path, *, panel: int = 320) -> Path:
    """Write rows of damaged | probability | proposal | repaired panels as a PNG."""
    rows = []
    for visual in visuals:
        facts = ", ".join(f"{k} {v}" for k, v in visual.facts.items())
        panels = [_panel(visual.damaged, panel, f"{visual.name} damaged"),
                  _panel(visual.probability, panel, "damage probability"),
                  _panel(_overlay(visual), panel, f"proposal {facts}"),
                  _panel(visual.repaired, panel, "repaired (inpaint default)")]
        row = np.concatenate(panels, axis=1)
        rows.append(np.pad(row, ((0, 6), (0, 0), (0, 0)), constant_values=1.0))
    sheet = np.concatenate(rows, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.rint(sheet[:, :, ::-1] * 255.0).astype(np.uint8))
    return path


def large_sheet(visual: Visual, path: Path, panel: int = 640) -> Path:
    """One photo as a 2×2 grid, large enough to see eyes and lips."""
    width = min(panel, visual.damaged.shape[1])
    tiles = [_panel(visual.damaged, width, f"{visual.name}"),
             _panel(visual.probability, width, "damage probability"),
             _panel(_overlay(visual), width, "proposal"),
             _panel(visual.repaired, width, "repaired (inpaint default)")]
    grid = np.concatenate([np.concatenate(tiles[:2], axis=1),
                           np.concatenate(tiles[2:], axis=1)], axis=0)
    cv2.imwrite(str(path), np.rint(grid[:, :, ::-1] * 255.0).astype(np.uint8))
    return path
