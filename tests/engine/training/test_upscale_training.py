"""The upscaler's training recipe: low-resolution inputs, a tiny run, exact resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.core.resample import bicubic_downscale
from engine.training import upscale as recipe
from engine.training.lowres import LowresSpec, degrade, degrade_batch


def _photo(seed: int, size: tuple[int, int] = (72, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(x / (3 + seed)) * np.cos(y / 5)
    texture = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), 0.8) * 0.1
    image = np.stack([base + texture, 0.7 * base + 0.1, 0.9 - 0.6 * base - texture], axis=2)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for index in range(5):
        cv2.imwrite(str(folder / f"{index:03d}.png"),
                    np.rint(_photo(index) * 255).astype(np.uint8)[:, :, ::-1])
    return folder


def test_plain_pairs_are_the_benchmark_shrink():
    crop = _photo(0, (48, 48))
    low = degrade(crop, 4, np.random.default_rng(0), LowresSpec(realistic_share=0.0))
    assert np.array_equal(low, np.clip(bicubic_downscale(crop, 4), 0, 1))


def test_realistic_pairs_are_seeded_in_range_and_differ_from_bicubic():
    crop = _photo(1, (48, 48))
    spec = LowresSpec(realistic_share=1.0)
    first = [degrade(crop, 2, np.random.default_rng(seed), spec) for seed in range(8)]
    again = [degrade(crop, 2, np.random.default_rng(seed), spec) for seed in range(8)]
    plain = np.clip(bicubic_downscale(crop, 2), 0, 1)
    for a, b in zip(first, again, strict=True):
        assert a.shape == (24, 24, 3) and a.dtype == np.float32
        assert np.array_equal(a, b) and a.min() >= 0.0 and a.max() <= 1.0
    assert all(np.abs(a - plain).mean() > 1e-3 for a in first)


def test_batches_pair_every_crop_with_its_small_image():
    crops = [_photo(i, (36, 36)) for i in range(3)]
    high, low = degrade_batch(crops, 3, np.random.default_rng(2))
    assert high.shape == (3, 36, 36, 3) and low.shape == (3, 12, 12, 3)


def test_tiny_run_learns_resumes_exactly_and_exports(data_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    straight = recipe.train("tiny", tmp_path / "a", data_dir, max_steps_this_run=6)
    assert straight["step"] == 6 and np.isfinite(straight["loss"])
    recipe.train("tiny", tmp_path / "b", data_dir, max_steps_this_run=3)
    resumed = recipe.train("tiny", tmp_path / "b", data_dir, max_steps_this_run=3, resume=True)
    assert resumed["step"] == 6
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_gain" in r]
    assert val and all(f"val_psnr_x{s}" in val[-1] for s in (2, 3, 4))

    models = tmp_path / "models"
    entry = recipe.export(tmp_path / "b", models, checkpoint="last.pt")
    assert entry["architecture"] == "upscale_msr_v1" and entry["task"] == "upscale"
    assert entry["config"]["scales"] == [2, 3, 4] and entry["steps"] == 6
    from engine.models.weights import load_state_dict
    from engine.ops.upscale.net import build_upscaler

    state, loaded = load_state_dict("upscale_msr", folder=models)
    model = build_upscaler(loaded.config)
    model.load_state_dict(state)
    assert model(torch.rand(1, 3, 8, 8), 4).shape == (1, 3, 32, 32)


def test_a_mismatched_scale_mix_is_refused(data_dir: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    bad = replace(recipe.CONFIGS["tiny"], scale_weights=(1.0,))
    with pytest.raises(ValueError, match="one weight per scale"):
        recipe.train(bad, tmp_path / "bad", data_dir, max_steps_this_run=1)
