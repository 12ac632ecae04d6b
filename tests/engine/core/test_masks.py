import numpy as np
import pytest

from engine.core.masks import (
    as_bool_mask,
    blend_inside,
    feather_weights,
    grow_mask,
    hole_depth,
    hole_radius,
    mask_bbox,
    on_mask_region,
)


def test_blend_keeps_outside_bit_identical_and_ramps_inside():
    rng = np.random.default_rng(0)
    original = rng.random((40, 40, 3), dtype=np.float32)
    result = np.ones_like(original)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    out = blend_inside(original, result, mask, feather=4)
    assert np.array_equal(out[~mask], original[~mask])
    assert np.allclose(out[20, 20], 1.0)            # deep inside: the full result
    edge = out[10, 20]
    assert np.all(edge < 1.0) and np.all(edge != original[10, 20])  # at the edge: partial


def test_feather_weights_are_zero_outside_and_reach_one():
    mask = np.zeros((21, 21), bool)
    mask[2:19, 2:19] = True
    weights = feather_weights(mask, 3)
    assert weights[~mask].max() == 0
    assert weights[10, 10] == 1.0
    assert 0 < weights[2, 10] < 1
    assert np.array_equal(feather_weights(mask, 0), mask.astype(np.float32))


def test_mask_bbox():
    mask = np.zeros((10, 10), bool)
    assert mask_bbox(mask) is None
    mask[3:5, 6] = True
    assert mask_bbox(mask) == (slice(3, 5), slice(6, 7))
    assert mask_bbox(mask, margin=4) == (slice(0, 9), slice(2, 10))


def test_on_mask_region_computes_only_the_grown_box():
    image = np.random.default_rng(3).random((50, 60, 1), dtype=np.float32)
    mask = np.zeros((50, 60), bool)
    mask[20:22, 30:33] = True
    seen = []

    def compute(crop):
        seen.append(crop.shape)
        return crop * 0

    out, box = on_mask_region(image, mask, 5, compute)
    assert seen == [(12, 13, 1)] and box == (slice(15, 27), slice(25, 38))
    assert np.array_equal(out[:15], image[:15]) and np.all(out[box] == 0)
    whole, _ = on_mask_region(image, None, 5, compute)
    assert seen[-1] == (50, 60, 1) and np.all(whole == 0)


def test_mask_validation():
    assert as_bool_mask(np.array([[0, 255]], np.uint8), (1, 2)).tolist() == [[False, True]]
    with pytest.raises(ValueError, match="mask is 2×1 but the image is 3×1"):
        as_bool_mask(np.zeros((1, 2), bool), (1, 3))


def test_grow_and_thickness():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    assert grow_mask(mask, 0) is mask
    grown = grow_mask(mask, 3)
    assert grown[10, 7] and grown[7, 10] and not grown[7, 7] and grown.sum() < 49
    band = np.zeros((40, 40), bool)
    band[10:19, :] = True                       # a band 9 px thick: 5 px to its nearest edge
    assert 4.5 <= hole_radius(band) <= 5.5
    depth = hole_depth(band)
    assert depth.shape == band.shape and not depth[~band].any()
    assert depth[10, 20] < depth[14, 20] == depth.max()   # deepest along the band's middle
    assert hole_radius(np.zeros((0, 0), bool)) == 0.0
