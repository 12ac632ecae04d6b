"""Patch re-synthesis: sharper than its start, sample statistics, periodic, forbidden, cancel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import seam_error, swd
from engine.ops.texture.synthesis import refine_levels, refine_texture

torch.set_num_threads(1)


def cells(h: int, w: int, seed: int) -> np.ndarray:
    """Sharp-edged cells of a few distinct colours on a dark ground."""
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), (0.1, 0.1, 0.15), np.float32)
    colours = np.array([(0.9, 0.3, 0.2), (0.2, 0.8, 0.3), (0.95, 0.9, 0.3)], np.float32)
    for _ in range(h * w // 60):
        y, x = int(rng.integers(h)), int(rng.integers(w))
        cv2.circle(image, (x, y), int(rng.integers(2, 5)), colours[rng.integers(3)].tolist(), -1)
    return image


def test_rebuild_sharpens_a_blurred_start_toward_the_sample():
    sample = cells(96, 112, 0)
    start = cv2.GaussianBlur(cells(80, 80, 1), (0, 0), 2.0)
    out = refine_texture(start, sample, seed=3)
    assert out.shape == start.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert swd(sample, out) < 0.5 * swd(sample, start)
    # The sample's colour distribution comes back: the bright yellow is there again.
    assert np.quantile(out[:, :, 2], 0.99) > 0.25
    assert abs(out.mean() - sample.mean()) < 0.03


def test_rebuild_keeps_the_layout_of_its_start():
    sample = cells(96, 112, 0)
    start = np.full((64, 64, 3), (0.1, 0.1, 0.15), np.float32)
    start[:, 32:] = (0.9, 0.3, 0.2)                 # right half: the red of the cells
    out = refine_texture(start, sample, seed=0)
    red_left = (out[:, :24, 0] > 0.6).mean()
    red_right = (out[:, 40:, 0] > 0.6).mean()
    assert red_right > red_left + 0.2


def test_same_seed_same_result_other_seed_differs():
    sample = cells(72, 72, 2)
    start = cv2.GaussianBlur(cells(56, 56, 3), (0, 0), 1.5)
    a = refine_texture(start, sample, seed=1)
    assert np.array_equal(a, refine_texture(start, sample, seed=1))
    assert not np.array_equal(a, refine_texture(start, sample, seed=2))


def test_periodic_start_gives_a_seamless_tile():
    sample = cells(96, 96, 4)
    start = np.tile(cv2.GaussianBlur(cells(40, 40, 5), (0, 0), 1.0), (2, 2, 1))  # 80×80, periodic
    out = refine_texture(start, sample, periodic=True, seed=0)
    assert abs(seam_error(out).z) < 3.0
    # Without wrap-around the edges do not continue into each other.
    plain = refine_texture(np.roll(start, 17, axis=(0, 1)), sample, seed=0)
    assert seam_error(plain).seam > seam_error(out).seam


def test_forbidden_pixels_never_reach_the_output():
    sample = cells(80, 120, 6)
    sample[:, 60:] = (0.0, 1.0, 0.0)                # a pure green half …
    forbidden = np.zeros(sample.shape[:2], bool)
    forbidden[:, 60:] = True                        # … that may not be copied
    start = np.full((48, 48, 3), (0.0, 1.0, 0.0), np.float32)
    out = refine_texture(start, sample, forbidden=forbidden, seed=0)
    assert (np.abs(out - (0.0, 1.0, 0.0)).max(axis=2) < 0.05).sum() == 0


def test_gray_and_tiny_inputs_work():
    sample = cells(40, 40, 7).mean(axis=2, keepdims=True)
    out = refine_texture(np.full((20, 24, 1), 0.3, np.float32), sample, seed=0)
    assert out.shape == (20, 24, 1)
    assert refine_levels((20, 24), (40, 40), 7, 3) == 1
    assert refine_levels((256, 256), (256, 300), 7, 3) == 3


def test_bad_arguments_are_refused():
    sample = cells(40, 40, 0)
    with pytest.raises(ValueError, match="odd"):
        refine_texture(sample, sample, patch=6)
    with pytest.raises(ValueError, match="same channels"):
        refine_texture(sample[:, :, :1], sample)
    with pytest.raises(ValueError, match="free of the masked area"):
        refine_texture(sample, sample, forbidden=np.ones((40, 40), bool))


def test_cancel_stops_it():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        refine_texture(cells(40, 40, 0), cells(40, 40, 1), cancel=token)
