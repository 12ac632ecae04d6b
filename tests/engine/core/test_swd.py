"""Sliced Wasserstein distance and seam error: zero on equal inputs, ordered on real cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.core.swd import (
    hole_swd,
    hole_swd_levels,
    laplacian_pyramid,
    seam_error,
    swd,
    swd_levels,
)


def blobs(size: int, seed: int, sigma: float = 3.0) -> np.ndarray:
    """A stationary two-colour blob texture with grain."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    t = np.clip(0.5 + field / (4 * field.std()), 0, 1)[:, :, None]
    dark, light = np.array([0.25, 0.15, 0.1]), np.array([0.9, 0.6, 0.3])
    image = dark + (light - dark) * t + rng.normal(0, 0.02, (size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32)


def stripes(size: int, period: float = 9.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.5 * y) / period)
    return np.repeat(t[:, :, None], 3, axis=2).astype(np.float32)


def test_swd_of_an_image_with_itself_is_zero():
    a = blobs(96, 0)
    assert swd(a, a) == 0.0


def test_swd_is_symmetric_and_orders_similar_before_dissimilar():
    a, b = blobs(128, 0), blobs(128, 1)  # same texture, other instance
    noise = np.random.default_rng(2).random((128, 128, 3)).astype(np.float32)
    same = swd(a, b)
    assert swd(b, a) == pytest.approx(same, rel=0.05)
    assert same < 0.5 * swd(a, noise)
    assert same < 0.5 * swd(a, stripes(128))


def test_joint_normalisation_sees_a_colour_cast_that_karras_normalisation_ignores():
    a = blobs(96, 0)
    cast = np.clip(a * 0.6 + np.array([0.3, 0.0, 0.0], np.float32), 0, 1).astype(np.float32)
    assert swd(a, cast, normalize="joint") > 5 * swd(a, cast, normalize="separate")


def test_swd_levels_shrink_for_small_images_and_reject_tiny_ones():
    assert len(swd_levels(blobs(128, 0), blobs(128, 1))) == 4
    assert len(swd_levels(blobs(40, 0), blobs(40, 1))) == 2  # coarsest level kept ≥ 16 px
    with pytest.raises(ValueError, match="at least"):
        swd(blobs(6, 0), blobs(6, 1))
    with pytest.raises(ValueError, match="channels"):
        swd(blobs(32, 0), blobs(32, 1)[:, :, :1])


def test_laplacian_pyramid_reconstructs_the_image():
    image = blobs(64, 3)
    levels = laplacian_pyramid(image, 3)
    assert [lvl.shape[:2] for lvl in levels] == [(64, 64), (32, 32), (16, 16)]
    current = levels[-1]
    for band in reversed(levels[:-1]):
        up = cv2.pyrUp(current, dstsize=(band.shape[1], band.shape[0])).reshape(band.shape)
        current = up + band
    assert np.abs(current - image).max() < 1e-5


def test_seam_error_equal_for_a_periodic_image_and_large_for_a_ramp():
    y, x = np.mgrid[0:60, 0:80].astype(np.float32)
    rng = np.random.default_rng(0)
    periodic = sum(np.sin(2 * np.pi * (kx * x / 80 + ky * y / 60) + rng.random() * 6)
                   for kx, ky in [(3, 1), (5, -2), (1, 4)])
    periodic = (0.5 + periodic / 6)[:, :, None]
    err = seam_error(periodic)
    assert err.ratio == pytest.approx(1.0, abs=1e-3)
    ramp = np.repeat((x / 80)[:, :, None], 3, axis=2)
    assert seam_error(ramp).ratio > 100
    noise = np.random.default_rng(1).random((64, 64, 3))
    assert abs(seam_error(noise).z) < 3


def _hole(size: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[size // 4:3 * size // 4, size // 3:size // 3 + size // 2] = True
    return hole


def test_hole_swd_is_zero_on_the_truth_and_high_for_blur_and_smears():
    truth, hole = blobs(128, 0), _hole(128)
    assert hole_swd(truth, truth, hole) == 0.0
    blurred = np.where(hole[:, :, None], cv2.GaussianBlur(truth, (0, 0), 3.0), truth)
    flat = np.where(hole[:, :, None], truth[hole].mean(axis=0), truth)
    other = np.where(hole[:, :, None], blobs(128, 1), truth)   # the same texture, elsewhere
    real = hole_swd(other, truth, hole)
    assert hole_swd(blurred, truth, hole) > 3 * real
    assert hole_swd(flat, truth, hole) > 3 * real
    # Blur shows in the band-pass levels first; three levels by default.
    levels = hole_swd_levels(blurred, truth, hole)
    assert len(levels) == 3 and levels[0] > levels[2]


def test_hole_swd_counts_only_the_hole_and_checks_its_inputs():
    truth = blobs(192, 2)
    hole = np.zeros((192, 192), bool)
    hole[80:112, 80:112] = True
    far = np.zeros_like(hole)
    far[:24, :] = True                                          # 56 px and more from the hole
    changed_far = np.where(far[:, :, None], blobs(192, 3), truth)
    assert hole_swd(changed_far, truth, hole) == 0.0            # only the hole's patches count
    assert hole_swd(changed_far, truth, far) > 10.0
    grey = truth.mean(axis=2)
    assert hole_swd(grey, grey, hole) == 0.0                    # H×W works too
    with pytest.raises(ValueError, match="no pixel"):
        hole_swd(truth, truth, np.zeros_like(hole))
    with pytest.raises(ValueError, match="same shape"):
        hole_swd(truth, truth[:64], hole)
    with pytest.raises(ValueError, match="hole is"):
        hole_swd(truth, truth, hole[:64])
