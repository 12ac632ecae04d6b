"""numpy ↔ QImage: qimage2ndarray copies where a copy is fine, shared buffers where not."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from desktop.qimages import array_from_qimage, pixmap_from_pixels, qimage_from_array, wrap_indexed8

RNG = np.random.default_rng(3)


def test_qimage2ndarray_uses_pyside6():
    from qimage2ndarray.dynqt import qt

    assert qt.name() == "PySide6"


@pytest.mark.parametrize("channels", [0, 1, 3])
def test_arrays_round_trip_through_a_qimage(qapp, channels):
    shape = (5, 7) if channels == 0 else (5, 7, channels)
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    image = qimage_from_array(pixels)
    assert (image.width(), image.height()) == (7, 5)
    back = array_from_qimage(image)
    gray = pixels.reshape(5, 7, -1)
    np.testing.assert_array_equal(back, np.broadcast_to(gray, (5, 7, 3)))
    assert back.flags.c_contiguous and back.flags.writeable


def test_alpha_is_kept_only_when_used(qapp):
    image = QImage(4, 3, QImage.Format.Format_ARGB32)
    image.fill(QColor(10, 20, 30, 255))
    assert array_from_qimage(image).shape == (3, 4, 3)
    image.setPixelColor(1, 2, QColor(200, 100, 50, 0))
    pixels = array_from_qimage(image)
    assert pixels.shape == (3, 4, 4)
    assert pixels[2, 1, 3] == 0 and tuple(pixels[0, 0]) == (10, 20, 30, 255)
    assert array_from_qimage(image, keep_alpha=False).shape == (3, 4, 3)
    with pytest.raises(TypeError, match="uint8"):
        qimage_from_array(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_pixmaps_show_the_pixels(qapp, channels):
    pixels = RNG.integers(0, 256, (6, 9, channels), dtype=np.uint8)
    if channels == 4:
        pixels[..., 3] = 255
    strided = np.zeros((6, 18, channels), np.uint8)
    strided[:, ::2] = pixels  # a strided view is made contiguous first
    for source in (pixels, strided[:, ::2]):
        got = array_from_qimage(pixmap_from_pixels(source).toImage())
        expected = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels[..., :3]
        np.testing.assert_array_equal(got[..., :3], expected)


def test_the_mask_wrapper_shares_the_coverage_memory(qapp):
    coverage = np.zeros((8, 10), np.uint8)
    table = [0] * 255 + [0xFFFF0000]
    image = wrap_indexed8(coverage, table)
    address = np.frombuffer(image.constBits(), np.uint8).ctypes.data
    assert address == coverage.ctypes.data
    coverage[3, 4] = 255  # written into the array, seen by the image without a copy
    assert image.pixelIndex(4, 3) == 255 and image.pixel(4, 3) == 0xFFFF0000
    with pytest.raises(ValueError, match="C-contiguous uint8"):
        wrap_indexed8(np.zeros((8, 10), np.uint8).T, table)
