"""Image quilting: reproduces the sample's statistics, copies its pixels, tiles seamlessly."""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np
import pytest

from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import seam_error, swd
from engine.ops.texture.quilting import block_layout, min_cut_path, quilt


def blobs(size: int, seed: int, sigma: float = 3.0) -> np.ndarray:
    """A stationary two-colour blob texture with grain."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    t = np.clip(0.5 + field / (4 * field.std()), 0, 1)[:, :, None]
    dark, light = np.array([0.25, 0.15, 0.1]), np.array([0.9, 0.6, 0.3])
    image = dark + (light - dark) * t + rng.normal(0, 0.02, (size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return blobs(112, 0)


@pytest.fixture(scope="module")
def quilted(sample) -> np.ndarray:
    return quilt(sample, 128, 128, block=24, overlap=6, seed=1)


def test_quilt_reproduces_the_sample_statistics(sample, quilted):
    noise = np.random.default_rng(5).random((128, 128, 3)).astype(np.float32)
    y, x = np.mgrid[0:128, 0:128].astype(np.float32)
    other = np.repeat((0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.5 * y) / 9))[:, :, None], 3, 2)
    d_quilt = swd(sample, quilted)
    assert d_quilt < 0.25 * swd(sample, noise)
    assert d_quilt < 0.5 * swd(sample, other.astype(np.float32))
    # About as close as another instance of the same random texture.
    assert d_quilt < 2.0 * swd(sample, blobs(128, 7))


def test_every_output_pixel_is_copied_from_the_sample(sample, quilted):
    colours = {tuple(p) for p in sample.reshape(-1, 3).view(np.uint32).tolist()}
    out = {tuple(p) for p in quilted.reshape(-1, 3).view(np.uint32).tolist()}
    assert out <= colours


def test_same_seed_same_quilt_other_seed_other_quilt(sample, quilted):
    assert np.array_equal(quilt(sample, 128, 128, block=24, overlap=6, seed=1), quilted)
    other = quilt(sample, 128, 128, block=24, overlap=6, seed=2)
    assert np.abs(other - quilted).mean() > 0.05


def test_tileable_quilt_has_no_seam_and_plain_quilt_has_one(sample):
    tiled = quilt(sample, 100, 84, block=24, overlap=6, seed=3, tileable=True)
    assert tiled.shape == (100, 84, 3)
    err = seam_error(tiled)
    assert abs(err.seam - err.interior) < 3 * err.spread
    plain = seam_error(quilt(sample, 100, 84, block=24, overlap=6, seed=3))
    assert plain.ratio > 2.0 * err.ratio


def test_forbidden_pixels_are_never_copied():
    sample = blobs(96, 4)
    forbidden = np.zeros((96, 96), bool)
    forbidden[30:60, 20:70] = True
    marked = sample.copy()
    marked[forbidden] = (0.0, 1.0, 0.0)  # a colour the texture never has
    out = quilt(marked, 96, 96, block=16, overlap=4, seed=0, forbidden=forbidden)
    assert not np.any(np.all(out == (0.0, 1.0, 0.0), axis=2))
    with pytest.raises(ValueError, match="masked"):
        quilt(marked, 64, 64, block=40, overlap=8, forbidden=np.ones((96, 96), bool))


def test_large_sample_takes_the_fast_coarse_to_fine_search():
    sample = blobs(256, 6)
    started = time.perf_counter()
    out = quilt(sample, 512, 512, seed=0)
    # Under a second on two idle cores (1024×1024 in about three); room for a busy machine.
    assert time.perf_counter() - started < 20
    assert out.shape == (512, 512, 3)
    assert swd(sample, out[:256, :256]) < 2.0 * swd(sample, blobs(256, 8))


def test_min_cut_path_is_the_cheapest_connected_path():
    rng = np.random.default_rng(0)
    for _ in range(30):
        cost = rng.random((5, 4))
        best = min(sum(cost[r, c] for r, c in enumerate(path))
                   for path in itertools.product(range(4), repeat=5)
                   if all(abs(a - b) <= 1 for a, b in itertools.pairwise(path)))
        path = min_cut_path(cost)
        assert all(abs(a - b) <= 1 for a, b in itertools.pairwise(path))
        assert sum(cost[r, c] for r, c in enumerate(path)) == pytest.approx(best)


def test_tileable_layout_covers_the_circle_evenly():
    starts = block_layout(100, 24, 6, tileable=True)
    assert starts[0] == 0 and starts[-1] == 100
    steps = np.diff(starts)
    assert steps.max() - steps.min() <= 1 and steps.max() <= 18


def test_cancel_stops_quilting(sample):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        quilt(sample, 64, 64, cancel=token)
