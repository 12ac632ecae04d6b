"""Blind noise-level estimation on textured synthetic images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.ops.denoise.noise_level import (
    estimate_sigma,
    estimate_sigma_channels,
    immerkaer_sigma,
)


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
