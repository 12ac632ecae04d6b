"""Training hole masks: kinds, coverage ranges, thinness of scratches, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.training.hole_masks import blob_mask, random_mask, scratch_mask, stroke_mask


def _radius(mask: np.ndarray) -> float:
    return float(cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 3).max())


@pytest.mark.parametrize("kind", ["strokes", "blobs", "scratches", "mixed", None])
def test_random_mask_coverage_stays_in_the_requested_range(kind: str | None) -> None:
    rng = np.random.default_rng(0)
    for low, high in ((0.005, 0.5), (0.02, 0.1)):
        fractions = [random_mask(96, 80, rng, kind, coverage=(low, high)).mean()
                     for _ in range(40)]
        assert low <= min(fractions) and max(fractions) <= high


def test_default_mix_spans_small_and_large_holes() -> None:
    rng = np.random.default_rng(1)
    fractions = np.array([random_mask(80, 80, rng).mean() for _ in range(200)])
    assert (fractions < 0.03).mean() > 0.1         # plenty of thin damage
    assert (fractions > 0.2).mean() > 0.1          # and some large holes
    assert 0.05 < fractions.mean() < 0.25


def test_kinds_differ_in_shape() -> None:
    rng = np.random.default_rng(2)
    scratches = [scratch_mask(128, 128, rng) for _ in range(30)]
    strokes = [stroke_mask(128, 128, rng) for _ in range(30)]
    blobs = [blob_mask(128, 128, rng) for _ in range(30)]
    assert max(_radius(m) for m in scratches) <= 4.5        # 1-3 px lines, specks of r ≤ 3
    assert np.median([m.mean() for m in scratches]) < 0.04
    assert np.median([_radius(m) for m in strokes]) >= 3.0
    assert np.median([_radius(m) for m in blobs]) > np.median([_radius(m) for m in strokes])


def test_same_seed_same_mask_and_bad_range_is_refused() -> None:
    a = random_mask(64, 64, np.random.default_rng(7))
    b = random_mask(64, 64, np.random.default_rng(7))
    assert np.array_equal(a, b) and a.dtype == bool
    with pytest.raises(ValueError, match="coverage"):
        random_mask(64, 64, np.random.default_rng(0), coverage=(0.5, 0.2))
    with pytest.raises(ValueError, match="unknown mask kind"):
        random_mask(64, 64, np.random.default_rng(0), "dots")
