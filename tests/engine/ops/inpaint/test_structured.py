"""Structured completion: lines continue across a large hole, texture is kept, fidelity holds;
progress and cancel on every stage; grey, 16-bit and huge inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.core.metrics import detail_ratio, masked_psnr
from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import hole_swd
from engine.ops import run_op
from engine.ops.inpaint import learned
from engine.ops.inpaint.diffusion import telea_fill
from engine.ops.inpaint.methods import INPAINT_METHODS
from engine.ops.inpaint.structured import keep_low_frequencies, structured_fill


def _lines_on_grain(size: int = 128, seed: int = 0) -> np.ndarray:
    """Dark diagonal lines (period 16 px) over a fine-grained, slightly tinted surface."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grain = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 1.0)
    luma = (0.55 + 0.08 * grain / grain.std()) * (1 - 0.6 * (((xx + 0.5 * yy) % 16) < 3))
    return np.clip(np.stack([luma, 0.9 * luma + 0.05, 0.7 * luma + 0.1], 2), 0, 1
                   ).astype(np.float32)


def _large_hole(size: int = 128) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[34:94, 30:100] = True                                 # 26 % of the image, 60 px thick
    return hole


def _damaged(truth: np.ndarray, hole: np.ndarray) -> np.ndarray:
    damaged = truth.copy()
    damaged[hole] = 0.0
    return damaged


def test_lines_continue_and_texture_is_kept_where_a_blur_smears() -> None:
    truth, hole = _lines_on_grain(), _large_hole()
    damaged = _damaged(truth, hole)
    telea = telea_fill(damaged, hole)
    blurred = np.where(hole[:, :, None], cv2.GaussianBlur(truth, (0, 0), 3.0), truth)
    filled = structured_fill(damaged, hole, telea, seed=0)     # Telea as the layout
    ours = hole_swd(filled, truth, hole)
    # The patch distribution: far below a smooth fill and even below the truth blurred.
    assert ours < 0.3 * hole_swd(telea, truth, hole), ours
    assert ours < 0.3 * hole_swd(blurred, truth, hole), ours
    assert 0.7 < detail_ratio(filled, truth, hole) < 1.3       # real grain, not noise
    # The lines continue in phase: the fill follows the truth pixel by pixel.
    follows = np.corrcoef(filled[hole][:, 0], truth[hole][:, 0])[0, 1]
    assert follows > 0.6 and np.corrcoef(telea[hole][:, 0], truth[hole][:, 0])[0, 1] < 0.3
    # ... so fidelity holds: well above the smooth fill's PSNR here.
    assert masked_psnr(filled, truth, hole) > masked_psnr(telea, truth, hole) + 2.0
    assert np.array_equal(filled[~hole], damaged[~hole])


def test_the_op_with_the_shipped_network_beats_the_network_alone() -> None:
    if not learned.weights_available():
        pytest.skip("the learned inpainting weights are not installed")
    truth, hole = _lines_on_grain(seed=1), _large_hole()
    damaged = _damaged(truth, hole)
    ours = run_op("inpaint", damaged, hole, {"method": "structured"})
    alone = run_op("inpaint", damaged, hole, {"method": "learned"}).image
    assert ours.info["methods_used"] == {"structured": 1}
    assert hole_swd(ours.image, truth, hole) < 0.3 * hole_swd(alone, truth, hole)
    assert masked_psnr(ours.image, truth, hole) > masked_psnr(alone, truth, hole)
    assert np.array_equal(ours.image[~hole], damaged[~hole])   # outside: bit-identical


def test_one_telea_fill_serves_the_layout_and_the_low_frequencies(monkeypatch) -> None:
    if not learned.weights_available():
        pytest.skip("the learned inpainting weights are not installed")
    import engine.ops.inpaint.diffusion as diffusion

    planes = []
    real = cv2.inpaint

    def counted(plane, *args):
        planes.append(plane.shape)
        return real(plane, *args)

    monkeypatch.setattr(diffusion.cv2, "inpaint", counted)
    truth, hole = _lines_on_grain(96, 3), _large_hole(96)
    run_op("inpaint", _damaged(truth, hole), hole, {"method": "structured", "iterations": 1})
    assert len(planes) == 3                                     # one Telea fill, per channel


def test_without_the_network_the_layout_comes_from_telea(monkeypatch) -> None:
    import engine.ops.inpaint.methods as methods

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not run without its weights")

    monkeypatch.setattr(methods, "learned_available", lambda: False)
    monkeypatch.setattr(methods, "fill_learned", no_network)
    truth, hole = _lines_on_grain(96, 2), _large_hole(96)
    hole[:, 75:] = False
    damaged = _damaged(truth, hole)
    result = run_op("inpaint", damaged, hole, {"method": "structured", "iterations": 2})
    assert hole_swd(result.image, truth, hole) < 0.5 * hole_swd(telea_fill(damaged, hole),
                                                                truth, hole)


def test_progress_covers_layout_and_rebuild_and_cancel_stops_each() -> None:
    truth, hole = _lines_on_grain(96, 3), _large_hole(96)
    damaged = _damaged(truth, hole)
    seen: list[tuple[float, str]] = []
    run_op("inpaint", damaged, hole, {"method": "structured", "iterations": 2},
           progress=lambda fraction, message="", preview=None: seen.append((fraction, message)))
    messages = [message for _, message in seen]
    assert any("learned fill" in m for m in messages) or not learned.weights_available()
    assert any("PatchMatch level" in m for m in messages)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    for stage in ("learned fill", "PatchMatch level 2"):
        token = CancelToken()

        def cancel_at(fraction: float, message: str = "", preview: object = None,
                      stage: str = stage, token: CancelToken = token) -> None:
            if stage in message:
                token.cancel()

        if stage == "learned fill" and not learned.weights_available():
            continue
        with pytest.raises(Cancelled):
            run_op("inpaint", damaged, hole, {"method": "structured", "iterations": 2},
                   progress=cancel_at, cancel=token)


def test_grey_and_sixteen_bit_sources_keep_their_precision() -> None:
    truth = _lines_on_grain(96, 4)[:, :, :1]
    truth = (np.round(truth * 65535) / 65535).astype(np.float32)  # a 16-bit source
    hole = _large_hole(96)
    hole[:, 70:] = False
    damaged = _damaged(truth, hole)
    result = run_op("inpaint", damaged, hole, {"method": "structured", "iterations": 2}).image
    assert result.shape == truth.shape and result.dtype == np.float32
    assert np.array_equal(result[~hole], damaged[~hole])
    steps = result[hole] * 255
    assert np.mean(np.abs(steps - np.round(steps)) > 1e-3) > 0.5   # not on an 8-bit grid
    assert hole_swd(result, truth, hole) < 0.5 * hole_swd(telea_fill(damaged, hole), truth, hole)


def test_a_24_megapixel_photo_with_a_small_object_is_filled_through_one_crop(monkeypatch) -> None:
    seen: list[tuple[int, ...]] = []
    real = INPAINT_METHODS["structured"]

    def recording(crop, hole, options):
        seen.append(crop.shape)
        return real(crop, hole, options)

    monkeypatch.setitem(INPAINT_METHODS, "structured", recording)
    height, width = 4000, 6000                                  # 24 MP, one channel
    tile = _lines_on_grain(128, 5)[:, :, :1]
    image = np.tile(tile, (height // 128 + 1, width // 128 + 1, 1))[:height, :width]
    mask = np.zeros((height, width), bool)
    mask[2000:2040, 3000:3030] = True                           # a small object
    result = run_op("inpaint", image, mask, {"method": "auto", "sample_margin": 100,
                                             "iterations": 2})
    assert result.info["methods_used"] == {"structured": 1}
    assert seen == [(40 + 200, 30 + 200, 1)]                    # the hole and its margin only
    assert np.array_equal(result.image[~mask], image[~mask])
    assert hole_swd(result.image[1900:2140, 2900:3130], image[1900:2140, 2900:3130],
                    mask[1900:2140, 2900:3130]) < 200


def test_keep_low_frequencies_corrects_colour_not_edges() -> None:
    truth, hole = _lines_on_grain(), _large_hole()
    shifted = np.where(hole[:, :, None], np.clip(truth + 0.15, 0, 1), truth)  # a colour cast
    fixed = keep_low_frequencies(shifted, truth, hole)
    assert abs(float((fixed - truth)[hole].mean())) < 0.02     # the cast is gone
    assert detail_ratio(fixed, truth, hole) > 0.9               # the lines are still sharp
    assert np.array_equal(fixed[~hole], truth[~hole])
    # The correction is whole at the rim too, where a plain blur would halve it.
    rim = hole & (cv2.dilate((~hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    assert abs(float((fixed - truth)[rim].mean())) < 0.02
    with pytest.raises(ValueError, match="layout"):
        structured_fill(truth, hole, truth[:64])


def test_the_low_frequencies_can_come_from_another_fill() -> None:
    truth, hole = _lines_on_grain(96, 3), _large_hole(96)
    damaged = _damaged(truth, hole)
    telea = telea_fill(damaged, hole)
    plain = structured_fill(damaged, hole, telea, seed=0, iterations=1)
    warmer = structured_fill(damaged, hole, telea, low=np.clip(telea + 0.1, 0, 1), seed=0,
                             iterations=1)
    assert float((warmer - plain)[hole].mean()) == pytest.approx(0.1, abs=0.02)
    assert detail_ratio(warmer, truth, hole) == pytest.approx(
        detail_ratio(plain, truth, hole), rel=0.1)
    with pytest.raises(ValueError, match="low frequencies"):
        structured_fill(damaged, hole, telea, low=telea[:50])
