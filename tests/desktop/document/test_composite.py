"""Tests for desktop.document.composite: "over" with opacity and alpha, gray/RGB mix, bands."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.document import Layer, flatten, flatten_pixels
from engine.core.pixels import to_float

RNG = np.random.default_rng(3)


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w, c), endpoint=True, dtype=dtype)


def reference_over(layers: list[Layer]) -> tuple[np.ndarray, np.ndarray]:
    """Straightforward per-pixel "over" in float64, RGB, for comparison."""
    h, w = layers[0].shape
    premultiplied = np.zeros((h, w, 3))
    alpha = np.zeros((h, w, 1))
    for layer in layers:
        if not layer.visible:
            continue
        colour = np.broadcast_to(to_float(layer.colour()).astype(np.float64), (h, w, 3))
        a = layer.alpha_float()
        a = np.ones((h, w, 1)) if a is None else a.astype(np.float64)
        a = a * layer.opacity
        premultiplied = colour * a + premultiplied * (1 - a)
        alpha = a + alpha * (1 - a)
    colour = np.divide(premultiplied, alpha, out=np.zeros_like(premultiplied), where=alpha > 0)
    return colour, alpha


def test_single_opaque_layer_is_exact():
    px = noise(9, 11, 3, np.uint16)
    colour, alpha = flatten([Layer(px, "a")])
    assert alpha is None
    np.testing.assert_array_equal(colour, to_float(px))


def test_hidden_layers_are_skipped():
    bottom = Layer(noise(8, 8, 3), "bottom")
    top = Layer(noise(8, 8, 3), "top", visible=False)
    colour, alpha = flatten([bottom, top])
    np.testing.assert_array_equal(colour, to_float(bottom.pixels))
    assert alpha is None


def test_opacity_and_alpha_match_the_reference():
    layers = [Layer(noise(12, 10, 4), "a", opacity=0.7),
              Layer(noise(12, 10, 1), "gray", opacity=0.5),
              Layer(noise(12, 10, 4, np.uint16), "b"),
              Layer(noise(12, 10, 3), "hidden", visible=False)]
    colour, alpha = flatten(layers)
    ref_colour, ref_alpha = reference_over(layers)
    assert colour.shape == (12, 10, 3) and alpha is not None
    np.testing.assert_allclose(alpha, ref_alpha, atol=1e-5)
    covered = ref_alpha[:, :, 0] > 1e-3
    np.testing.assert_allclose(colour[covered], ref_colour[covered], atol=1e-4)


def test_gray_over_rgb_promotes_and_opaque_layer_hides_below():
    base = Layer(noise(6, 6, 3), "base")
    gray = Layer(np.full((6, 6, 1), 51, np.uint8), "gray", opacity=0.5)
    colour, alpha = flatten([base, gray])
    assert alpha is None and colour.shape == (6, 6, 3)
    np.testing.assert_allclose(colour, to_float(base.pixels) * 0.5 + 0.1, atol=1e-6)
    # everything below an opaque full-opacity layer does not matter
    cover = Layer(np.full((6, 6, 1), 200, np.uint8), "cover")
    colour, alpha = flatten([base, gray, cover])
    assert alpha is None and colour.shape == (6, 6, 3)
    np.testing.assert_allclose(colour, 200 / 255, atol=1e-6)
    # gray only: stays gray
    colour, _ = flatten([cover, gray])
    assert colour.shape == (6, 6, 1)


def test_no_visible_layer_is_transparent():
    colour, alpha = flatten([Layer(noise(4, 5, 3), "a", visible=False)])
    assert colour.shape == (4, 5, 3) and not colour.any()
    assert alpha is not None and not alpha.any()


def test_region_matches_the_whole():
    layers = [Layer(noise(30, 40, 3), "a"), Layer(noise(30, 40, 4), "b", opacity=0.6)]
    whole, _ = flatten(layers)
    part, _ = flatten(layers, slice(5, 17), slice(20, 33))
    np.testing.assert_array_equal(part, whole[5:17, 20:33])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_flatten_pixels_bands_match_flatten(dtype):
    layers = [Layer(noise(600, 20, 4, np.uint16), "a"), Layer(noise(600, 20, 1), "b",
                                                              opacity=0.3)]
    pixels = flatten_pixels(layers, dtype)
    colour, alpha = flatten(layers)
    assert pixels.shape == (600, 20, 4) and pixels.dtype == dtype
    scale = np.iinfo(dtype).max
    np.testing.assert_array_equal(pixels[:, :, :3], np.rint(colour * scale).astype(dtype))
    np.testing.assert_array_equal(pixels[:, :, 3:], np.rint(alpha * scale).astype(dtype))
    part = flatten_pixels(layers, dtype, slice(250, 520), slice(3, 9))
    np.testing.assert_array_equal(part, pixels[250:520, 3:9])


def test_flatten_pixels_gray_with_alpha_becomes_rgba():
    layers = [Layer(noise(5, 5, 4), "rgba", visible=False), Layer(noise(5, 5, 1), "g",
                                                                   opacity=0.5)]
    pixels = flatten_pixels(layers)
    assert pixels.shape == (5, 5, 4)
    assert (pixels[:, :, 0] == pixels[:, :, 2]).all() and (pixels[:, :, 3] == 128).all()
