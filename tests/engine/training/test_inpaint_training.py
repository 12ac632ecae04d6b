"""The inpainting recipe: batches and holes, a tiny run, resume, export merged into a manifest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.training import inpaint as recipe  # noqa: E402


def _photo(seed: int, size: tuple[int, int] = (60, 72)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(x / (3 + seed)) * np.cos(y / 5)
    texture = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), 1.0) * 0.1
    image = np.stack([base + texture, 0.7 * base + 0.1, 0.9 - 0.6 * base - texture], axis=2)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _write(folder: Path, count: int, offset: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.rint(_photo(index + offset) * 255).astype(np.uint8)[:, :, ::-1]
        cv2.imwrite(str(folder / f"{index:03d}.png"), pixels)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inpaint_data")
    return _write(root / "photos", 5), _write(root / "textures", 2, offset=10)


def test_batches_have_holes_in_range_and_clean_targets(data: tuple[Path, Path]) -> None:
    photos = recipe.load_images(recipe.list_images(data[0]), 32)
    config = recipe.CONFIGS["tiny"]
    images, holes = recipe.make_batch(photos, [], config, np.random.default_rng(0))
    assert images.shape == (config.batch, config.crop, config.crop, 3)
    assert holes.shape == (config.batch, config.crop, config.crop)
    assert set(np.unique(holes)) <= {0.0, 1.0}
    low, high = config.coverage
    assert all(low <= h.mean() <= high for h in holes)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_loss_rewards_the_truth_in_the_hole() -> None:
    config = recipe.CONFIGS["tiny"]
    target = torch.rand(2, 3, 16, 16)
    hole = torch.zeros(2, 1, 16, 16)
    hole[..., 4:12, 4:12] = 1
    perfect = recipe.inpaint_loss(target, target, hole, config)
    flat = recipe.inpaint_loss(torch.full_like(target, 0.5), target, hole, config)
    assert float(perfect) == 0.0 and float(flat) > 0.5


def test_tiny_run_trains_resumes_and_exports(data: tuple[Path, Path], tmp_path: Path) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = recipe.train("tiny", run, data[0], data[1], max_steps_this_run=3)
    assert first["step"] == 3 and math.isfinite(first["loss"])
    second = recipe.train("tiny", run, data[0], data[1], resume=True, max_steps_this_run=2)
    assert second["step"] == 5 and math.isfinite(second["loss"])
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any("baseline" in r for r in log) and any("val_psnr" in r for r in log)
    assert [r["step"] for r in log if "loss" in r][-2:] == [4, 5]

    models = tmp_path / "models"
    models.mkdir()
    other = {"file": "denoise_unet.safetensors", "sha256": "0" * 64, "architecture": "x"}
    (models / "manifest.json").write_text(json.dumps({"models": {"denoise_unet": other}}))
    entry = recipe.export(run, models, checkpoint="last.pt")
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["models"]["denoise_unet"] == other               # merged, not clobbered
    assert manifest["models"][recipe.MODEL_NAME] == entry
    assert entry["steps"] == 5 and entry["architecture"] == "inpaint_ffc_v1"

    from engine.models.weights import load_state_dict
    from engine.ops.inpaint.net import build_inpaint_net

    state, found = load_state_dict(recipe.MODEL_NAME, folder=models)   # checks the sha256
    net = build_inpaint_net(found.config)
    net.load_state_dict(state)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        recipe.train("tiny", tmp_path / "empty", data[0], resume=True)


def test_a_run_can_start_from_exported_weights(data: tuple[Path, Path], tmp_path: Path) -> None:
    torch.set_num_threads(1)
    recipe.train("tiny", tmp_path / "a", data[0], data[1], max_steps_this_run=2)
    models = tmp_path / "models"
    models.mkdir()
    recipe.export(tmp_path / "a", models, checkpoint="last.pt")
    recipe.train("tiny", tmp_path / "b", data[0], data[1], max_steps_this_run=0,
                 init_from=models / f"{recipe.MODEL_NAME}.safetensors")
    exported = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["ema"]
    start = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert start["step"] == 0
    for name, tensor in exported.items():
        assert torch.equal(start["model"][name], tensor)
        assert torch.equal(start["ema"][name], tensor)


def test_scene_crops_show_more_of_the_photo_and_whole_photos_are_validated(
        data: tuple[Path, Path], tmp_path: Path) -> None:
    photos = recipe.load_images(recipe.list_images(data[0]), 32)
    config = recipe.CONFIGS["tiny_scenes"]
    # A shrunk copy shows more of the scene: the crops' edges hold lower frequencies.
    plain = recipe.make_batch(photos, [], recipe.CONFIGS["tiny"], np.random.default_rng(1))[0]
    scenes = np.concatenate([recipe.make_batch(photos, [], config, np.random.default_rng(s))[0]
                             for s in range(20)])

    def energy(batch: np.ndarray) -> float:
        return float(np.mean(np.abs(np.diff(batch, axis=2))))

    assert energy(scenes) > energy(plain)
    torch.set_num_threads(1)
    summary = recipe.train("tiny_scenes", tmp_path / "run", data[0], data[1],
                           max_steps_this_run=4)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    baseline = next(r["baseline"] for r in log if "baseline" in r)
    assert np.isfinite(baseline["telea_psnr_photo"])
    val = [r for r in log if "val_psnr_photo" in r]
    assert val and all(r["val_psnr_both"] == pytest.approx(
        (r["val_psnr"] + r["val_psnr_photo"]) / 2) for r in val)
    assert summary["best_val"] == pytest.approx(max(r["val_psnr_both"] for r in val))
