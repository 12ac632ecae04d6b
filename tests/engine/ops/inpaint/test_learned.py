"""Learned inpainting: bounded network windows on huge images, the seam, the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.metrics import masked_psnr  # noqa: E402
from engine.core.progress import Cancelled, CancelToken  # noqa: E402
from engine.ops import run_op  # noqa: E402
from engine.ops.inpaint import learned  # noqa: E402
from engine.ops.inpaint.methods import LEARNED_MARGIN, FillOptions, fill_telea  # noqa: E402
from engine.training.hole_masks import scratch_mask  # noqa: E402


class _Recorder:
    """Stands in for the network: records input shapes, returns mid-grey."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(image.shape))
        assert torch.all(image[hole.expand_as(image) > 0] == 0)    # the hole arrives zeroed
        return torch.full_like(image, 0.5)


def test_fifty_megapixel_photo_with_a_scratch_feeds_the_network_a_small_crop(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(learned, "load_model", lambda device="cpu": recorder)
    height, width = 6000, 8400                                   # 50.4 MP, one channel
    image = np.full((height, width, 1), 0.25, np.float32)
    mask = np.zeros((height, width), bool)
    mask[3000:3003, 5000:5120] = True                            # a 120-px scratch
    result = run_op("inpaint", image, mask, {"method": "learned"})
    assert len(recorder.shapes) == 1
    _, channels, h, w = recorder.shapes[0]
    assert channels == 3                                          # grey replicated to RGB
    assert (h, w) == (3 + 2 * LEARNED_MARGIN + 1, 120 + 2 * LEARNED_MARGIN)   # padded to 4
    assert result.info["crop_pixels"] == (3 + 2 * LEARNED_MARGIN) * (120 + 2 * LEARNED_MARGIN)
    changed = result.image[:, :, 0] != image[:, :, 0]
    assert not changed[:2990].any() and not changed[3013:].any()          # outside: identical
    assert np.array_equal(changed[2990:3013], changed[2990:3013] & mask[2990:3013])
    # Seam correction: the network said 0.5 everywhere, the rim says 0.25; the fill follows.
    assert np.abs(result.image[mask] - 0.25).max() < 0.01


def test_large_crops_run_in_bounded_windows_that_hold_hole_pixels(monkeypatch):
    recorder = _Recorder()
    image = np.random.default_rng(0).random((900, 1300, 3), dtype=np.float32)
    hole = np.zeros((900, 1300), bool)
    hole[100:104, 50:1250] = True                                # a long horizontal scratch
    filled = learned.learned_fill(image, hole, net=recorder, tile=256, context=32)
    assert recorder.shapes and all(h <= 256 and w <= 256 for _, _, h, w in recorder.shapes)
    assert len(recorder.shapes) <= 7                             # only windows on the scratch
    assert np.array_equal(filled[~hole], image[~hole])
    assert np.isfinite(filled).all()


def test_thick_holes_run_at_a_reduced_scale_and_cancel_raises() -> None:
    recorder = _Recorder()
    image = np.full((200, 200, 3), 0.3, np.float32)
    hole = np.zeros((200, 200), bool)
    hole[40:160, 40:160] = True                                  # inscribed radius 60 px
    learned.learned_fill(image, hole, net=recorder)
    assert recorder.shapes[0][2] < 100                           # run at ≤ 1/2 scale
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        learned.learned_fill(image, hole, net=recorder, cancel=token)


def _textured(size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    waves = 0.5 + 0.2 * np.sin(xx / 3.0 + 0.4 * yy / 5.0) + 0.1 * np.cos(yy / 4.0)
    grain = rng.normal(0, 0.03, (size, size)).astype(np.float32)
    image = np.stack([waves + grain, 0.8 * waves + 0.05, 0.6 - 0.3 * waves + grain], axis=2)
    return np.clip(image, 0, 1).astype(np.float32)


@pytest.mark.skipif(not learned.weights_available(), reason="shipped weights not installed")
def test_shipped_weights_beat_telea_on_small_scratches() -> None:
    learned.clear_model_cache()
    truth = _textured()
    rng = np.random.default_rng(9)
    gains = []
    for _ in range(3):
        hole = scratch_mask(128, 128, rng, scratches=(3, 6), width_px=(2, 3), specks=(2, 5))
        damaged = truth.copy()
        damaged[hole] = 0.0
        ours = learned.learned_fill(damaged, hole)
        telea = fill_telea(damaged, hole, FillOptions(radius=5))
        gains.append(masked_psnr(ours, truth, hole) - masked_psnr(telea, truth, hole))
    assert np.mean(gains) > 0.5 and min(gains) > 0.0, gains


def test_the_fill_is_the_weighted_average_of_network_and_telea() -> None:
    from engine.ops.inpaint.diffusion import telea_fill

    truth = _textured()
    hole = np.zeros(truth.shape[:2], bool)
    hole[40:52, 20:100] = True
    recorder = _Recorder()
    alone = learned.learned_fill(truth, hole, net=recorder, network_weight=1.0)
    blended = learned.learned_fill(truth, hole, net=recorder)
    expected = (learned.NETWORK_WEIGHT * alone
                + (1 - learned.NETWORK_WEIGHT) * telea_fill(truth, hole))
    assert np.allclose(blended[hole], expected[hole], atol=1e-5)
    assert np.array_equal(blended[~hole], truth[~hole])
    assert 0.0 < learned.NETWORK_WEIGHT < 1.0
