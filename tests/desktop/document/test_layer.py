"""Tests for desktop.document.layer: validation, immutability, float views, the canvas cache."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.document import Layer


def test_properties_and_float_view():
    px = np.zeros((5, 7, 4), np.uint16)
    px[..., 0] = 65535
    px[..., 3] = 32768
    layer = Layer(px, "rgba")
    assert (layer.height, layer.width, layer.channels) == (5, 7, 3)
    assert layer.has_alpha and layer.bit_depth == 16 and len(layer.id) == 32
    colour = layer.colour_float(slice(1, 3), slice(0, 2))
    assert colour.dtype == np.float32 and colour.shape == (2, 2, 3)
    assert (colour[..., 0] == 1.0).all() and (colour[..., 1:] == 0.0).all()
    np.testing.assert_array_equal(layer.alpha(), px[:, :, 3:])
    np.testing.assert_allclose(layer.alpha_float(), 32768 / 65535)
    gray = Layer(np.full((3, 3), 7, np.uint8), "gray")  # 2-D becomes H×W×1
    assert gray.pixels.shape == (3, 3, 1) and gray.channels == 1 and gray.alpha() is None


def test_pixels_are_read_only_and_the_callers_array_is_not():
    px = np.zeros((4, 4, 3), np.uint8)
    layer = Layer(px, "a")
    with pytest.raises(ValueError, match="read-only"):
        layer.pixels[0, 0, 0] = 1
    px[0, 0, 0] = 1  # the caller's array keeps its flags


@pytest.mark.parametrize(("pixels", "error"), [
    (np.zeros((4, 4, 3), np.float32), TypeError),
    (np.zeros((4, 4, 2), np.uint8), ValueError),
    (np.zeros((0, 4, 3), np.uint8), ValueError),
    ([[1, 2]], TypeError),
])
def test_bad_pixels_are_refused(pixels, error):
    with pytest.raises(error):
        Layer(pixels, "bad")


def test_display_rgba8_is_cached_and_dropped_on_new_pixels():
    px = np.zeros((3, 4, 3), np.uint16)
    px[..., 1] = 257 * 200 + 129  # 200.502 × 257: rounds up to 201
    layer = Layer(px, "a")
    first = layer.display_rgba8()
    assert first.shape == (3, 4, 4) and first.dtype == np.uint8 and first.flags.c_contiguous
    assert (first[..., 1] == 201).all() and (first[..., 3] == 255).all()
    assert layer.display_rgba8() is first
    layer.pixels = np.full((3, 4, 1), 9, np.uint8)
    second = layer.display_rgba8()
    assert second is not first and (second[..., :3] == 9).all() and (second[..., 3] == 255).all()


def test_display_of_a_tall_layer_crosses_bands():
    px = np.arange(600 * 2 * 4, dtype=np.uint16).reshape(600, 2, 4)
    out = Layer(px, "tall").display_rgba8()
    np.testing.assert_array_equal(out, ((px.astype(np.uint32) + 128) // 257).astype(np.uint8))


def test_copy_shares_pixels_with_a_new_id_and_own_recipe():
    layer = Layer(np.zeros((2, 2, 3), np.uint8), "a", recipe={"op": "x", "params": {}})
    display = layer.display_rgba8()
    copy = layer.copy(name="b")
    assert copy.pixels is layer.pixels and copy.id != layer.id and copy.name == "b"
    assert copy.display_rgba8() is display  # the canvas image is shared, not recomputed
    copy.recipe["op"] = "y"
    assert layer.recipe["op"] == "x"


def test_opacity_is_clamped():
    layer = Layer(np.zeros((2, 2, 3), np.uint8), "a", opacity=1.7)
    assert layer.opacity == 1.0
    layer.opacity = -2
    assert layer.opacity == 0.0
