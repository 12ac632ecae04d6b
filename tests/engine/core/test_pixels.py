import numpy as np
import pytest

from engine.core.pixels import (
    check_image,
    from_float,
    join_alpha,
    split_alpha,
    to_float,
    to_gray,
    to_uint8,
)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_round_trip_is_exact(dtype):
    info = np.iinfo(dtype)
    pixels = np.random.default_rng(0).integers(0, info.max + 1, (7, 5, 3), dtype=dtype)
    image = to_float(pixels)
    assert image.dtype == np.float32 and image.min() >= 0 and image.max() <= 1
    assert np.array_equal(from_float(image, dtype), pixels)


def test_gray_gains_a_channel_axis_and_input_is_untouched():
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    copy = pixels.copy()
    assert to_float(pixels).shape == (3, 4, 1)
    assert np.array_equal(pixels, copy)


def test_sixteen_to_eight_bit_rounds_to_nearest():
    assert to_uint8(np.array([0, 128, 129, 385, 65535], dtype=np.uint16)).tolist() == [
        0, 0, 1, 1, 255]


def test_alpha_split_and_join():
    rgba = np.random.default_rng(1).integers(0, 256, (4, 4, 4), dtype=np.uint8)
    colour, alpha = split_alpha(rgba)
    assert colour.shape == (4, 4, 3) and alpha.shape == (4, 4, 1)
    assert np.array_equal(join_alpha(colour, alpha), rgba)
    assert split_alpha(rgba[:, :, :3])[1] is None


def test_gray_luma_weights():
    image = np.zeros((1, 1, 3), np.float32)
    image[0, 0] = (1, 0, 0)
    assert to_gray(image)[0, 0] == pytest.approx(0.299)



def test_check_image_rejects_contract_violations():
    with pytest.raises(TypeError, match="float32"):
        check_image(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="H×W×1 or H×W×3"):
        check_image(np.zeros((2, 2, 4), np.float32))
