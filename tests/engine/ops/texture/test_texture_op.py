"""The texture ops through run_op: sizes, seeds, tileable, fill_mask keeps the outside exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import seam_error
from engine.ops.registry import OpError, get_op, run_op
from engine.ops.texture.gan import TextureModel, model_cache

torch.set_num_threads(1)


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.5)
    t = np.clip(0.5 + field / (4 * field.std()), 0, 1)[:, :, None]
    image = np.array([0.3, 0.2, 0.1]) + np.array([0.6, 0.4, 0.2]) * t
    return np.clip(image + rng.normal(0, 0.01, (h, w, 3)), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, np.ndarray]:
    """A textured image with a blue scratch and the mask over it."""
    image = blobs(120, 140, 0)
    mask = np.zeros((120, 140), bool)
    mask[50:66, 30:110] = True
    image[52:64, 32:108] = (0.1, 0.2, 0.9)
    return image, mask


@pytest.mark.parametrize("name", ["texture_gan", "texture_patch"])
def test_texture_ops_are_registered_generators(name):
    op = get_op(name)
    assert op.category == "Texture" and op.generates
    names = {spec.name for spec in op.params}
    assert {"mode", "width", "height", "seed", "tileable"} <= names


def test_patch_generates_the_asked_size_and_is_seeded():
    image = blobs(96, 96, 1)
    params = {"width": 130, "height": 70, "block": 24, "overlap": 6, "seed": 3}
    result = run_op("texture_patch", image, params=params)
    assert result.image.shape == (70, 130, 3)
    assert np.array_equal(result.image, run_op("texture_patch", image, params=params).image)
    other = run_op("texture_patch", image, params={**params, "seed": 4}).image
    assert np.abs(other - result.image).mean() > 0.02


def test_patch_tileable_has_no_seam():
    image = blobs(96, 96, 2)
    out = run_op("texture_patch", image, params={"width": 96, "height": 80, "block": 24,
                                                 "overlap": 6, "tileable": True}).image
    err = seam_error(out)
    assert abs(err.seam - err.interior) < 3 * err.spread


def test_patch_with_a_mask_in_generate_mode_learns_only_the_box():
    image = blobs(96, 96, 3)
    image[:, 48:] = (0.0, 0.0, 1.0)  # right half is flat blue
    mask = np.zeros((96, 96), bool)
    mask[10:80, 5:40] = True
    out = run_op("texture_patch", image, mask, params={"width": 64, "height": 64,
                                                       "block": 16, "overlap": 4}).image
    assert out.shape == (64, 64, 3)
    assert not np.any(np.all(out == (0.0, 0.0, 1.0), axis=2))


@pytest.mark.parametrize("name", ["texture_patch", "texture_gan"])
def test_fill_mask_changes_only_the_mask_and_removes_the_scratch(photo, name):
    image, mask = photo
    params = {"mode": "fill_mask", "seed": 1}
    if name == "texture_gan":
        params.update(train_seconds=2, layouts=4)   # the layout choice has its own tests
    else:
        params.update(block=16, overlap=4)
    out = run_op(name, image, mask, params=params).image
    assert out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    # The blue scratch is gone: the fill takes the texture's colour, not the scratch's.
    inside = out[mask]
    assert inside[:, 2].mean() < 0.35
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~mask
    # The fill's mean colour follows the ring (within the blobs' own variation: the GAN
    # trains for 2 s of wall time, so the texture drawn varies with the machine's load).
    assert np.abs(inside.mean(0) - image[ring].mean(0)).max() < 0.1


def test_fill_mask_without_a_mask_is_refused():
    with pytest.raises(OpError, match="needs a mask"):
        run_op("texture_patch", blobs(64, 64, 0), params={"mode": "fill_mask"})


def test_gan_trains_once_then_reuses_the_model_for_other_seeds_and_sizes():
    model_cache.clear()
    image = blobs(80, 80, 5)
    first = run_op("texture_gan", image, params={"width": 48, "height": 40, "seed": 1,
                                                 "train_seconds": 2, "layouts": 4}, device="cpu")
    assert first.image.shape == (40, 48, 3)
    model = first.info["model"]
    assert isinstance(model, TextureModel) and model.steps > 0
    assert first.info["reused_model"] is False and first.info["model_size"] == "small"
    second = run_op("texture_gan", image, params={"width": 64, "height": 64, "seed": 2,
                                                  "train_seconds": 2, "tileable": True,
                                                  "layouts": 4},
                    device="cpu")
    assert second.info["reused_model"] is True and second.info["model"] is model
    assert second.image.shape == (64, 64, 3)
    again = run_op("texture_gan", image, params={"width": 48, "height": 40, "seed": 1,
                                                 "train_seconds": 2, "layouts": 4}, device="cpu")
    assert np.array_equal(again.image, first.image)


def test_gan_cancel_raises_and_keeps_the_partial_model_for_resuming():
    model_cache.clear()
    token = CancelToken()
    token.cancel()
    image = blobs(72, 72, 6)
    with pytest.raises(Cancelled):
        run_op("texture_gan", image, params={"train_seconds": 5}, cancel=token, device="cpu")
    assert len(model_cache) == 1  # the next run continues from it


def test_gan_output_is_rebuilt_from_the_sample_unless_turned_off(monkeypatch):
    from engine.core.swd import swd

    model_cache.clear()
    image = blobs(96, 96, 7)
    params = {"width": 64, "height": 64, "seed": 3, "train_seconds": 2}
    rebuilt = run_op("texture_gan", image, params=params, device="cpu")
    raw = run_op("texture_gan", image, params={**params, "sample_detail": False}, device="cpu")
    assert rebuilt.info["sample_detail"] is True and raw.info["sample_detail"] is False
    assert raw.info["reused_model"] is True
    # Two seconds of training leave the GAN far from the sample; the rebuild closes the gap.
    assert swd(image, rebuilt.image) < 0.6 * swd(image, raw.image)

    import engine.ops.texture.texture_op as texture_op

    monkeypatch.setattr(texture_op, "MAX_DETAIL_PIXELS", 32 * 32)
    big = run_op("texture_gan", image, params=params, device="cpu")
    assert big.info["sample_detail"] is False
    assert "raw output" in big.info["sample_detail_skipped"]
    assert np.array_equal(big.image, raw.image)


def test_patchmatch_method_generates_tiles_and_fills(photo):
    from engine.core.swd import swd

    image = blobs(96, 96, 9)
    out = run_op("texture_patch", image, params={"method": "patchmatch", "width": 64,
                                                 "height": 48, "seed": 2, "layouts": 4})
    assert out.image.shape == (48, 64, 3) and out.info["method"] == "patchmatch"
    assert "block" not in out.info
    assert swd(image, out.image) < 3 * swd(image[:, :48], image[:, 48:]) + 50
    tiled = run_op("texture_patch", image, params={"method": "patchmatch", "width": 64,
                                                   "height": 64, "tileable": True, "layouts": 4})
    err = seam_error(tiled.image)
    assert abs(err.seam - err.interior) < 3 * err.spread
    scratched, mask = photo
    filled = run_op("texture_patch", scratched, mask,
                    params={"method": "patchmatch", "mode": "fill_mask", "layouts": 4})
    assert np.array_equal(filled.image[~mask], scratched[~mask])
    assert filled.image[mask][:, 2].mean() < 0.5          # the blue scratch is gone


def test_a_filled_mask_ramps_in_from_its_edge_and_the_outside_is_untouched():
    from engine.ops.texture.texture_op import FILL_FEATHER_PX, fill_with_texture

    image = np.full((40, 40, 3), 0.2, np.float32)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    out = fill_with_texture(image, mask, lambda h, w: np.full((h, w, 3), 0.8, np.float32),
                            match_colour=False)
    assert np.array_equal(out[~mask], image[~mask])
    assert out[10, 20, 0] < 0.5 < out[20, 20, 0] == pytest.approx(0.8)   # edge still ramps
    assert out[10 + int(FILL_FEATHER_PX), 20, 0] == pytest.approx(0.8)
