"""Texture GAN: training learns, models round-trip, generation is seeded, tiled, periodic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import seam_error
from engine.ops.texture.gan import (
    ModelCache,
    TextureGANConfig,
    TextureModel,
    crop_positions,
    generate_texture,
    sample_hash,
    train_texture_gan,
)

torch.set_num_threads(1)

TINY = TextureGANConfig(n_local=4, n_global=2, n_periodic=2, widths=(16, 12, 8), d_width=8,
                        d_depth=2, crop=16, batch=4, ema=0.9)


def blobs(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 2.0)
    t = np.clip(0.5 + field / (4 * field.std()), 0, 1)[:, :, None]
    image = np.array([0.3, 0.2, 0.1]) + np.array([0.6, 0.4, 0.2]) * t
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return blobs(48, 0)


@pytest.fixture(scope="module")
def model(sample) -> TextureModel:
    return train_texture_gan(sample, config=TINY, steps=6, seed=0, device="cpu")


def test_training_counts_steps_and_gives_finite_losses(model, sample):
    assert model.steps == 6
    assert model.seconds > 0
    assert set(model.losses) == {"d", "g"}
    assert all(np.isfinite(v) for v in model.losses.values())
    assert model.sample_hash == sample_hash(sample)


def test_training_moves_the_generated_colour_towards_the_sample():
    # A flat orange sample: even a few dozen steps must pull the output's mean colour to it.
    target = np.array([0.9, 0.5, 0.1], np.float32)
    flat = np.broadcast_to(target, (32, 32, 3)).astype(np.float32)
    flat = np.clip(flat + np.random.default_rng(0).normal(0, 0.02, flat.shape), 0, 1)
    flat = flat.astype(np.float32)
    before = train_texture_gan(flat, config=TINY, steps=0, seed=1, device="cpu")
    after = train_texture_gan(flat, config=TINY, steps=50, seed=1, device="cpu", init=before)
    error = [np.abs(generate_texture(m, 32, 32, seed=0, device="cpu").mean((0, 1)) - target)
             .mean() for m in (before, after)]
    assert error[1] < 0.7 * error[0]


def test_the_patch_loss_pulls_harder_towards_the_sample_and_the_presets_use_it(sample):
    import dataclasses

    assert TextureGANConfig.preset("small").patch_loss > 0
    assert TextureGANConfig.preset("large").patch_loss > 0
    target = sample.mean((0, 1))
    errors = []
    for weight in (0.0, 10.0):
        config = dataclasses.replace(TINY, ema=0.0, patch_loss=weight)
        trained = train_texture_gan(sample, config=config, steps=25, seed=2, device="cpu")
        texture = generate_texture(trained, 32, 32, seed=0, device="cpu")
        errors.append(float(np.abs(texture.mean((0, 1)) - target).mean()))
    assert errors[1] < errors[0]


@pytest.mark.parametrize(("h", "w"), [(37, 53), (16, 16), (5, 81)])
def test_generated_size_matches_any_request(model, h, w):
    out = generate_texture(model, h, w, seed=0, device="cpu")
    assert out.shape == (h, w, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.std() > 1e-3


def test_same_seed_same_texture_other_seed_other_texture(model):
    a = generate_texture(model, 40, 48, seed=3, device="cpu")
    assert np.array_equal(a, generate_texture(model, 40, 48, seed=3, device="cpu"))
    assert np.abs(a - generate_texture(model, 40, 48, seed=4, device="cpu")).mean() > 1e-3


@pytest.mark.parametrize("tileable", [False, True])
def test_tiled_generation_equals_one_pass(model, tileable):
    info: dict = {}
    whole = generate_texture(model, 72, 88, seed=5, tileable=tileable, device="cpu")
    tiled = generate_texture(model, 72, 88, seed=5, tileable=tileable, device="cpu", tile=16,
                             info=info)
    assert info["tile"] == 16 and info["device"] == "cpu"
    assert np.abs(whole - tiled).max() < 1e-4


@pytest.mark.parametrize(("h", "w"), [(64, 96), (50, 38)])
def test_tileable_output_has_no_seam_plain_output_has_one(model, h, w):
    tiled = seam_error(generate_texture(model, h, w, seed=6, tileable=True, device="cpu"))
    assert abs(tiled.seam - tiled.interior) < 3 * tiled.spread
    assert tiled.ratio == pytest.approx(1.0, abs=0.35)
    plain = seam_error(generate_texture(model, h, w, seed=6, device="cpu"))
    assert plain.ratio > 1.5 * tiled.ratio


def test_round_trip_through_bytes_gives_identical_generations(model):
    data = model.to_bytes()
    back = TextureModel.from_bytes(data)
    assert back.config == model.config and back.steps == model.steps
    assert back.sample_hash == model.sample_hash
    assert np.array_equal(generate_texture(back, 40, 40, seed=2, device="cpu"),
                          generate_texture(model, 40, 40, seed=2, device="cpu"))
    assert back.generator_raw is not None and back.discriminator is not None
    # The averaged generator (which generates) is not the one being trained.
    assert any(not torch.equal(model.generator[k], model.generator_raw[k])
               for k in model.generator if model.generator[k].is_floating_point())
    slim = TextureModel.from_bytes(model.to_bytes(training_state=False))
    assert slim.discriminator is None and slim.generator_raw is None
    assert np.array_equal(generate_texture(slim, 40, 40, seed=2, device="cpu"),
                          generate_texture(model, 40, 40, seed=2, device="cpu"))
    assert len(data) < 4_000_000
    with pytest.raises(ValueError, match="not a PixelMend texture model"):
        TextureModel.from_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")


def test_resume_continues_from_the_saved_state(model, sample):
    restored = TextureModel.from_bytes(model.to_bytes())
    more = train_texture_gan(sample, steps=3, seed=0, device="cpu", init=restored)
    assert more.steps == model.steps + 3
    assert more.seconds > model.seconds
    assert more.config == model.config
    moved = [not torch.equal(more.generator[k], model.generator[k]) for k in model.generator]
    assert any(moved)


def test_cancel_raises_and_hands_back_the_partial_model(sample):
    token = CancelToken()
    token.cancel()
    kept = []
    with pytest.raises(Cancelled):
        train_texture_gan(sample, config=TINY, steps=5, device="cpu", cancel=token,
                          checkpoint=kept.append)
    assert len(kept) == 1 and kept[0].steps == 0


def test_progress_reports_with_a_preview(sample):
    reports = []
    train_texture_gan(sample, config=TINY, steps=3, device="cpu", preview_seconds=0.0,
                      progress=lambda f, m="", preview=None: reports.append((f, m, preview)))
    previews = [p for _, _, p in reports if p is not None]
    assert previews and previews[0].shape == (256, 256, 3)
    fractions = [f for f, _, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] > 0 and fractions[-1] <= 1.0
    assert "step" in reports[0][1]


def test_a_sample_too_small_or_fully_masked_is_refused():
    with pytest.raises(ValueError, match="too small"):
        train_texture_gan(blobs(6, 0), config=TINY, steps=1, device="cpu")
    with pytest.raises(ValueError, match="too small"):
        train_texture_gan(blobs(40, 0), config=TINY, steps=1, device="cpu",
                          forbidden=np.ones((40, 40), bool))


def test_crop_positions_avoid_forbidden_pixels():
    forbidden = np.zeros((20, 20), bool)
    forbidden[5, 5] = True
    positions = crop_positions(20, 20, 8, forbidden)
    assert len(positions) == 13 * 13 - 36
    for y, x in positions:
        assert not forbidden[y:y + 8, x:x + 8].any()


def test_model_cache_is_keyed_by_sample_and_size_and_bounded(model):
    cache = ModelCache(capacity=2)
    cache.put(model)
    assert cache.get(model.sample_hash, "custom") is model
    assert cache.get(model.sample_hash, "small") is None
    for name in ("a", "b"):
        cache.put(TextureModel(config=model.config, generator=model.generator, sample_hash=name))
    assert len(cache) == 2 and cache.get(model.sample_hash, "custom") is None
