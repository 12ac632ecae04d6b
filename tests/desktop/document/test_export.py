"""Tests for desktop.document.export: flat, layer and mask exports through engine.io."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from desktop.document import Document, Layer, export_flat, export_layer, export_mask
from engine import io

RNG = np.random.default_rng(11)


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w, c), endpoint=True, dtype=dtype)


def smooth(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)],
                    axis=2).astype(np.uint8)


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_sixteen_bit_round_trip_is_exact(tmp_path, ext, channels):
    px = noise(21, 17, channels, np.uint16)
    doc = Document([Layer(px, "Original")], bit_depth=16)
    path = export_flat(doc, tmp_path / f"out{ext}")
    loaded = io.load(path)
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, px)


def test_eight_bit_png_of_a_layered_document(tmp_path):
    base = noise(10, 12, 3)
    top = np.full((10, 12, 3), 255, np.uint8)
    doc = Document([Layer(base, "base"), Layer(top, "top", opacity=0.5),
                    Layer(noise(10, 12, 3), "hidden", visible=False)])
    loaded = io.load(export_flat(doc, tmp_path / "flat.png"))
    assert loaded.pixels.shape == (10, 12, 3)  # opaque result: no alpha channel
    expected = base.astype(float) * 0.5 + 127.5
    assert np.abs(loaded.pixels.astype(float) - expected).max() <= 0.5


def test_jpeg_is_eight_bit_and_close_and_alpha_goes_onto_white(tmp_path):
    doc = Document([Layer(smooth().astype(np.uint16) * 257, "Original")], bit_depth=16)
    loaded = io.load(export_flat(doc, tmp_path / "a.jpg", quality=95))
    assert loaded.pixels.dtype == np.uint8
    assert np.abs(loaded.pixels.astype(int) - smooth()).mean() < 2.0
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = [200, 0, 0, 255]
    doc = Document([Layer(rgba, "half transparent")])
    loaded = io.load(export_flat(doc, tmp_path / "b.jpg"))
    assert loaded.pixels.shape == (16, 16, 3)
    assert np.abs(loaded.pixels[:, 12:].astype(int) - 255).max() < 8  # white
    assert abs(int(loaded.pixels[8, 2, 0]) - 200) < 8 and loaded.pixels[8, 2, 1] < 12


def test_alpha_is_kept_in_png(tmp_path):
    rgba = noise(9, 9, 4, np.uint16)
    doc = Document([Layer(rgba, "a", opacity=1.0)], bit_depth=16)
    loaded = io.load(export_flat(doc, tmp_path / "a.png"))
    np.testing.assert_array_equal(loaded.pixels, rgba)


def test_overwrite_is_refused_unless_asked(tmp_path):
    doc = Document([Layer(noise(5, 5, 3), "a")])
    target = export_flat(doc, tmp_path / "x.png")
    before = target.read_bytes()
    doc2 = Document([Layer(noise(5, 5, 3), "b")])
    with pytest.raises(FileExistsError, match="x.png"):
        export_flat(doc2, target)
    assert target.read_bytes() == before
    export_flat(doc2, target, overwrite=True)
    np.testing.assert_array_equal(io.load(target).pixels, doc2.layers[0].pixels)
    with pytest.raises(io.ImageWriteError, match="extension"):
        export_flat(doc, tmp_path / "x.gif")


def test_icc_and_exif_travel(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[271] = "PixelMend Camera"
    doc = Document([Layer(noise(6, 6, 3), "a")], icc_profile=icc, exif=exif.tobytes())
    loaded = io.load(export_flat(doc, tmp_path / "meta.png"))
    assert loaded.icc_profile == icc
    read = Image.Exif()
    read.load(loaded.exif)
    assert read.get(271) == "PixelMend Camera"


def test_export_layer_and_mask(tmp_path):
    base = noise(12, 14, 3)
    top = noise(12, 14, 4, np.uint16)
    doc = Document([Layer(base, "base"), Layer(top, "top", opacity=0.2, visible=False)])
    loaded = io.load(export_layer(doc, 1, tmp_path / "top.png"))
    np.testing.assert_array_equal(loaded.pixels, top)  # as stored: no opacity, 16-bit, alpha
    doc.mask.dab(7.0, 6.0, 4.0, 0.0)
    loaded = io.load(export_mask(doc, tmp_path / "mask.png"))
    assert loaded.pixels.shape == (12, 14, 1) and loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels[:, :, 0], doc.mask.coverage)
    with pytest.raises(FileExistsError):
        export_mask(doc, tmp_path / "mask.png")
