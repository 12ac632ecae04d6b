"""Antialiased bicubic shrinking (the SR benchmarks' inputs), enlarging, plane resizing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.core.resample import (
    bicubic_downscale,
    cubic,
    enlarge,
    modcrop,
    resize_matrix,
    resize_plane,
)


def test_the_cubic_kernel_interpolates_and_sums_to_one():
    assert cubic(np.array([0.0]))[0] == 1.0
    assert np.allclose(cubic(np.array([1.0, 2.0, -1.0, 2.5])), 0.0)
    offsets = np.arange(-2, 3) + 0.3
    assert cubic(offsets).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_rows_sum_to_one_and_a_flat_image_stays_flat(factor: int):
    matrix = resize_matrix(48, 48 // factor)
    assert matrix.shape == (48 // factor, 48)
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
    flat = np.full((24, 36, 3), 0.4, np.float32)
    assert np.allclose(bicubic_downscale(flat, factor), 0.4, atol=1e-6)


@pytest.mark.parametrize("factor", [2, 4])
def test_the_shrink_matches_an_antialiased_bicubic_away_from_the_edges(factor: int):
    # Pillow's bicubic shrink stretches the same kernel; it differs only in its edge handling.
    rng = np.random.default_rng(factor)
    pixels = (rng.random((64, 48)) * 255).astype(np.uint8)
    reference = np.asarray(Image.fromarray(pixels).resize((48 // factor, 64 // factor),
                                                          Image.BICUBIC), np.float64)
    ours = bicubic_downscale(pixels[:, :, None].astype(np.float32), factor)[:, :, 0]
    ours = np.clip(np.round(ours), 0, 255)
    assert np.abs(ours - reference)[2:-2, 2:-2].max() <= 1.0


def test_the_shrink_low_passes_instead_of_aliasing():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (32, 16))[:, :, None]  # 1 px stripes
    assert np.ptp(bicubic_downscale(stripes, 2)[4:-4, 4:-4]) < 0.05


def test_sizes_that_do_not_divide_are_refused_and_modcrop_makes_them_divide():
    image = np.zeros((31, 50, 3), np.float32)
    with pytest.raises(ValueError, match="multiple of 3"):
        bicubic_downscale(image, 3)
    assert modcrop(image, 3).shape == (30, 48, 3)
    assert bicubic_downscale(modcrop(image, 3), 3).shape == (10, 16, 3)


def test_enlarge_gives_the_size_and_keeps_the_range():
    image = np.random.default_rng(0).random((10, 14, 1), dtype=np.float32)
    for method in ("bicubic", "lanczos"):
        big = enlarge(image, 3, method)
        assert big.shape == (30, 42, 1) and big.dtype == np.float32
        assert big.min() >= 0.0 and big.max() <= 1.0
    with pytest.raises(ValueError, match="unknown interpolation"):
        enlarge(image, 2, "nearest")


def test_resize_plane_keeps_the_dtype_and_range():
    alpha = np.zeros((20, 30, 1), np.uint16)
    alpha[5:15, 10:20] = 65535
    big = resize_plane(alpha, (40, 60))
    assert big.shape == (40, 60, 1) and big.dtype == np.uint16
    assert big[20, 30, 0] == 65535 and big[0, 0, 0] == 0
