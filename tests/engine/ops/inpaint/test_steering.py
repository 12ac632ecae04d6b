"""The structured completion's steering: each hole's contrast comes back from its own
surroundings."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from engine.ops.inpaint.steering import HoleHistograms
from engine.ops.patchmatch import match_histogram


def _two_halves(size: int = 64, seed: int = 0) -> np.ndarray:
    """Grain on a dark left half (about 0.1) and a bright right half (about 0.8), C×H×W."""
    rng = np.random.default_rng(seed)
    base = np.where(np.arange(size) < size // 2, 0.1, 0.8)[None, None, :]
    grain = 0.03 * rng.standard_normal((3, size, size))
    return (base + grain).astype(np.float32)


def test_one_hole_is_matched_against_its_ring_as_the_plain_match_does() -> None:
    image = torch.from_numpy(_two_halves())
    hole = np.zeros((64, 64), bool)
    hole[20:40, 24:44] = True
    fill = image.clone()
    noise = torch.rand(3, int(hole.sum()), generator=torch.Generator().manual_seed(1))
    fill[:, torch.from_numpy(hole)] = noise
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
    ring &= ~hole
    reference = image.reshape(3, -1)[:, torch.from_numpy(np.flatnonzero(ring))].sort(dim=1).values
    expected = match_histogram(fill, reference, torch.from_numpy(hole))
    restored = HoleHistograms(image, hole, 5).restore(fill)
    assert torch.equal(restored, expected)


def test_a_hole_in_the_dark_stays_dark_beside_a_hole_in_the_light() -> None:
    image = torch.from_numpy(_two_halves())
    hole = np.zeros((64, 64), bool)
    hole[24:36, 6:18] = True                  # in the dark half
    hole[24:36, 44:58] = True                 # in the bright half
    fill = image.clone()
    fill[:, torch.from_numpy(hole)] = 0.45    # a voted average of both
    restored = HoleHistograms(image, hole, 5).restore(fill).numpy()
    dark, bright = restored[:, 24:36, 6:18], restored[:, 24:36, 44:58]
    assert abs(float(dark.mean()) - 0.1) < 0.01 and abs(float(bright.mean()) - 0.8) < 0.01
    # Each keeps its surroundings' grain, not the other side's.
    assert 0.02 < float(dark.std()) < 0.04 and 0.02 < float(bright.std()) < 0.04
    # Outside the holes nothing changes.
    assert np.array_equal(restored[:, ~hole], fill.numpy()[:, ~hole])


def test_without_known_pixels_around_the_holes_keep_their_values() -> None:
    image = torch.from_numpy(_two_halves(16))
    hole = np.ones((16, 16), bool)
    assert torch.equal(HoleHistograms(image, hole, 5).restore(image), image)
