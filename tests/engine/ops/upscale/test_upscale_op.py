"""The ``upscale`` op with the shipped weights: real gains over interpolation, every factor, grey,
tiles without seams, cancel, limits, and what it tells callers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.core.metrics import psnr
from engine.core.progress import Cancelled, CancelToken
from engine.core.resample import bicubic_downscale
from engine.models.weights import list_models
from engine.ops import OpError, get_op, run_op
from engine.ops.upscale.upscale_op import MODEL_NAME
from engine.ops.upscale.upscaler import upscale_array


def test_the_upscaler_weights_ship_with_the_project():
    assert MODEL_NAME in list_models()
    assert get_op("upscale").generates


def _photo(size: int = 144) -> np.ndarray:
    """Hard edges at several angles, thin lines, text and a soft gradient: what interpolation
    blurs and a trained upscaler should restore."""
    image = np.zeros((size, size, 3), np.uint8)
    y, x = np.mgrid[0:size, 0:size]
    image[...] = np.stack([80 + x // 2, 120 + y // 3, 200 - (x + y) // 4], axis=2).astype(np.uint8)
    cv2.circle(image, (size // 3, size // 3), size // 5, (230, 40, 40), -1, cv2.LINE_AA)
    cv2.rectangle(image, (size // 2, size // 2), (size - 12, size - 20), (20, 20, 20), -1)
    for k in range(6):
        cv2.line(image, (4, 8 + 11 * k), (size - 4, 30 + 17 * k), (250, 250, 250), 1, cv2.LINE_AA)
    cv2.putText(image, "Pixel", (10, size - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 230, 0), 2,
                cv2.LINE_AA)
    return image.astype(np.float32) / 255.0


@pytest.mark.parametrize("scale, gain", [(2, 1.0), (3, 0.5), (4, 0.3)])
def test_learned_beats_bicubic_and_lanczos_at_every_factor(scale: int, gain: float):
    truth = _photo(144)
    small = np.clip(bicubic_downscale(truth, scale), 0, 1)
    learned = run_op("upscale", small, params={"scale": scale}).image
    assert learned.shape == truth.shape
    shave = np.s_[scale:-scale, scale:-scale]
    ours = psnr(learned[shave], truth[shave])
    for method in ("bicubic", "lanczos"):
        other = run_op("upscale", small, params={"scale": scale, "method": method}).image
        assert psnr(other[shave], truth[shave]) + gain < ours


def test_interpolation_methods_are_opencvs_resize():
    small = _photo(48)
    out = run_op("upscale", small, params={"scale": 3, "method": "lanczos"})
    expected = np.clip(cv2.resize(small, (144, 144), interpolation=cv2.INTER_LANCZOS4), 0, 1)
    assert np.array_equal(out.image, expected)
    assert out.info["resampled"] is True and out.info["size"] == [144, 144]
    bicubic = run_op("upscale", small, params={"scale": 2, "method": "bicubic"}).image
    assert np.array_equal(bicubic, np.clip(cv2.resize(small, (96, 96),
                                                      interpolation=cv2.INTER_CUBIC), 0, 1))


def test_a_grey_photo_stays_grey_and_gains_over_bicubic():
    truth = _photo(144).mean(axis=2, keepdims=True).astype(np.float32)
    small = np.clip(bicubic_downscale(truth, 2), 0, 1)
    out = run_op("upscale", small, params={"scale": 2}).image
    assert out.shape == (144, 144, 1) and out.dtype == np.float32
    bicubic = run_op("upscale", small, params={"scale": 2, "method": "bicubic"}).image
    shave = np.s_[2:-2, 2:-2]
    assert psnr(out[shave], truth[shave]) > psnr(bicubic[shave], truth[shave]) + 1.0


def test_tiles_leave_no_seam():
    image = _photo(240)
    whole, _ = upscale_array(image, 2, tile=512)
    tiled, info = upscale_array(image, 2, tile=128)  # 3×3 tiles overlapping by 32 px
    assert info["tile"] == 128
    assert np.abs(whole - tiled).max() < 1.5 / 255
    assert np.abs(whole - tiled).mean() < 1e-4


def test_a_mask_is_ignored_and_the_whole_image_enlarged():
    image = _photo(48)
    mask = np.zeros(image.shape[:2], bool)
    mask[10:20, 10:20] = True
    with_mask = run_op("upscale", image, mask, params={"scale": 2}).image
    assert np.array_equal(with_mask, run_op("upscale", image, params={"scale": 2}).image)


def test_cancel_stops_between_tiles():
    token = CancelToken()
    seen = []

    def progress(fraction: float, message: str = "") -> None:
        seen.append(fraction)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_op("upscale", _photo(256), params={"scale": 2, "tile": 64}, progress=progress,
               cancel=token)


def test_a_result_too_large_is_refused_before_any_work():
    huge = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (12000, 10000, 3),
                                           (0, 0, 4))
    with pytest.raises(OpError, match="crop it or choose a smaller scale"):
        run_op("upscale", huge, params={"scale": 4, "method": "bicubic"})


def test_a_result_that_does_not_fit_in_memory_is_refused_before_any_work(monkeypatch):
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "100M")
    wide = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (1000, 1000, 3), (0, 0, 4))
    with pytest.raises(OpError, match="needs about .* of memory"):
        run_op("upscale", wide, params={"scale": 4})


def test_unknown_factors_are_refused():
    with pytest.raises(ValueError, match="not 5"):
        upscale_array(_photo(32), 5)
