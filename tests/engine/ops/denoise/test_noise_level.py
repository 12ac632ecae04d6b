"""Blind noise-level estimation on textured synthetic images: per channel, luma and chroma,
blotchy (correlated) noise, per region."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.ops.denoise.noise_level import (
    estimate_level_map,
    estimate_levels,
    estimate_sigma,
    estimate_sigma_channels,
    immerkaer_sigma,
)
from engine.ops.denoise.opponent import from_opponent


def _textured(size: int = 192, seed: int = 0) -> np.ndarray:
    """Gradients, a hard-edged block, fine stripes and a strong random texture (3 channels)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 0.5 + 0.2 * np.sin(x / 9.0) * np.cos(y / 13.0) + 0.08 * np.sin((x + 2 * y) / 2.5)
    texture = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 1.2)
    base = base + 0.25 * texture
    image = np.stack([base, 0.8 * base + 0.1, 0.6 * base + 0.2 - 0.1 * texture], axis=2)
    image[size // 3:2 * size // 3, size // 4:size // 2] += 0.15
    return np.clip(image, 0.03, 0.97).astype(np.float32)


@pytest.fixture(scope="module")
def textured() -> np.ndarray:
    return _textured()


@pytest.mark.parametrize("sigma", [5, 15, 30])
def test_estimate_within_15_percent_on_texture(textured: np.ndarray, sigma: int) -> None:
    rng = np.random.default_rng(sigma)
    noisy = textured + rng.standard_normal(textured.shape).astype(np.float32) * (sigma / 255)
    assert estimate_sigma(noisy) * 255 == pytest.approx(sigma, rel=0.15)
    # Saved images are clipped and 8-bit; that must not throw the estimate off either.
    saved = np.rint(np.clip(noisy, 0, 1) * 255) / 255
    assert estimate_sigma(saved) * 255 == pytest.approx(sigma, rel=0.15)


def test_clean_smooth_image_gives_almost_zero() -> None:
    y, x = np.mgrid[0:128, 0:128].astype(np.float32) / 128
    clean = np.stack([x, y, 0.5 * (x + y)], axis=2).astype(np.float32)
    assert estimate_sigma(clean) * 255 < 0.5


def test_grey_2d_input_and_per_channel_figures(textured: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    plane = textured[:, :, 0] + rng.standard_normal(textured.shape[:2]).astype(np.float32) * 0.08
    assert estimate_sigma(plane) == pytest.approx(0.08, rel=0.15)
    noisy = textured.copy()
    for channel, level in enumerate((0.02, 0.04, 0.1)):
        noisy[:, :, channel] += rng.standard_normal(textured.shape[:2]).astype(np.float32) * level
    figures = estimate_sigma_channels(noisy)
    assert figures == pytest.approx([0.02, 0.04, 0.1], rel=0.15)
    assert estimate_sigma(noisy) == pytest.approx(figures[1])


def test_immerkaer_on_flat_noise_is_accurate() -> None:
    rng = np.random.default_rng(4)
    plane = 0.5 + rng.standard_normal((128, 128)).astype(np.float32) * 0.05
    assert immerkaer_sigma(plane) == pytest.approx(0.05, rel=0.05)


def test_tiny_image_is_rejected() -> None:
    with pytest.raises(ValueError, match="too small"):
        estimate_sigma(np.zeros((10, 40, 3), np.float32))


# ------------------------------------------------------------------------------- luma / chroma


def _opponent_noise(shape: tuple[int, int], luma: float, chroma: float, seed: int,
                    blur: float = 0.0) -> np.ndarray:
    """RGB noise with the given luma and chroma σ (chroma blurred by ``blur`` px, renormalised)."""
    rng = np.random.default_rng(seed)
    planes = rng.standard_normal((*shape, 3)).astype(np.float32)
    if blur:
        for c in (1, 2):
            plane = cv2.GaussianBlur(planes[:, :, c], (0, 0), blur)
            planes[:, :, c] = plane / plane.std()
    planes *= np.array([luma, chroma, chroma], np.float32)
    return from_opponent(planes)


@pytest.mark.parametrize(("luma", "chroma"), [(10, 10), (5, 20), (20, 3), (0.0, 12)])
def test_luma_and_chroma_levels_are_measured_apart(textured: np.ndarray, luma: float,
                                                   chroma: float) -> None:
    noisy = textured + _opponent_noise(textured.shape[:2], luma / 255, chroma / 255, 11)
    got_luma, got_chroma = estimate_levels(noisy)
    assert got_luma * 255 == pytest.approx(luma, rel=0.15, abs=1.0)
    assert got_chroma * 255 == pytest.approx(chroma, rel=0.15, abs=1.0)


def test_white_noise_gives_equal_levels_and_grey_noise_is_all_luma(textured: np.ndarray
                                                                  ) -> None:
    rng = np.random.default_rng(5)
    noisy = textured + rng.standard_normal(textured.shape).astype(np.float32) * (25 / 255)
    luma, chroma = estimate_levels(noisy)
    assert luma * 255 == pytest.approx(25, rel=0.1) and chroma * 255 == pytest.approx(25, rel=0.1)
    grey = textured[:, :, :1] + rng.standard_normal(textured.shape[:2] + (1,)).astype(
        np.float32) * (20 / 255)
    luma, chroma = estimate_levels(grey)
    assert luma * 255 == pytest.approx(20 * np.sqrt(3), rel=0.15) and chroma == 0.0


@pytest.mark.parametrize("blur", [1.0, 1.5])
def test_blotchy_chroma_noise_is_measured_at_its_strength(blur: float) -> None:
    """Chroma blurred over a pixel or two: 8×8 patches see a fraction of it, the octaves most
    of it."""
    clean = _textured(384, seed=4)
    noisy = clean + _opponent_noise(clean.shape[:2], 4 / 255, 15 / 255, 12, blur=blur)
    fine_luma, fine = (v * 255 for v in estimate_levels(noisy))
    coarse = estimate_levels(noisy, coarse=True)[1] * 255
    assert fine_luma == pytest.approx(4, abs=1.0)
    assert fine < 0.6 * 15
    assert coarse == pytest.approx(15, rel=0.25)
    # (This image's luma texture is blurred noise itself, so coarse luma reads it as noise.)


def test_regional_map_follows_noise_that_differs_between_halves() -> None:
    clean = _textured(256, seed=2)
    rng = np.random.default_rng(9)
    noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * (8 / 255)
    noisy[:, 128:] = clean[:, 128:] + rng.standard_normal((256, 128, 3)).astype(np.float32) * (
        24 / 255)
    level_map, (luma, chroma) = estimate_level_map(noisy, cells=8)
    assert level_map.shape == (256, 256, 2) and level_map.dtype == np.float32
    left, right = level_map[:, 16:96] * 255, level_map[:, 160:240] * 255
    assert np.median(left) == pytest.approx(8, rel=0.25)
    assert np.median(right) == pytest.approx(24, rel=0.2)
    # One global patch-PCA figure of such noise reads about the lower level.
    assert 7 / 255 < luma < 24 / 255 and 7 / 255 < chroma < 24 / 255
    # Smooth: no step larger than a quarter of the range between neighbouring pixels.
    assert np.abs(np.diff(level_map, axis=1)).max() * 255 < 4.0


def test_regional_map_on_uniform_noise_stays_near_the_global_level(textured: np.ndarray
                                                                  ) -> None:
    rng = np.random.default_rng(10)
    noisy = textured + rng.standard_normal(textured.shape).astype(np.float32) * (15 / 255)
    level_map, _ = estimate_level_map(noisy, cells=4, min_cell=48)
    # 48 px cells of strong texture: each cell's figure is within a quarter of the truth.
    assert np.median(level_map * 255) == pytest.approx(15, abs=1.5)
    assert np.abs(level_map * 255 - 15).max() < 0.25 * 15
