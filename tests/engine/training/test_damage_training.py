"""The damage detector's training recipe: batches, a tiny run, exact resume, export."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.training import damage as recipe
from engine.training.common import random_crop
from engine.training.damage_batches import (
    damage_loss,
    deepen_stages,
    fit_initial_weights,
    make_batch,
    widen_inputs,
)


def _photo(seed: int, size: tuple[int, int] = (72, 88)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(x / (4 + seed)) * np.cos(y / 6)
    texture = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), 1.0) * 0.1
    image = np.stack([base + texture, 0.7 * base + 0.1, 0.9 - 0.6 * base - texture], axis=2)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _write(folder: Path, count: int, gray: bool) -> Path:
    folder.mkdir()
    for index in range(count):
        pixels = np.rint(_photo(index) * 255).astype(np.uint8)[:, :, ::-1]
        if gray:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        cv2.imwrite(str(folder / f"{index:03d}.png"), pixels)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("photos")
    return _write(root / "colour", 5, False), _write(root / "gray", 4, True)


def test_random_crop_rescales_within_the_photo() -> None:
    photo = np.rint(_photo(0, (60, 200)) * 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(20):
        crop = random_crop(photo, 48, rng, scale=(0.6, 2.5))
        assert crop.shape == (48, 48, 3) and crop.dtype == np.float32
        assert crop.min() >= 0.0 and crop.max() <= 1.0
    # Enlarged 2.5×, a crop holds only smooth content: its gradients are small.
    large = random_crop(photo, 48, rng, scale=(2.5, 2.5))
    small = random_crop(photo, 48, rng, scale=(1.0, 1.0))
    assert np.abs(np.diff(large, axis=1)).mean() < 0.6 * np.abs(np.diff(small, axis=1)).mean()


def test_batches_pair_images_with_their_labels() -> None:
    config = recipe.TrainConfig(crop=64, batch=6, clean_share=0.5)
    colour = [np.rint(_photo(i, (80, 80)) * 255).astype(np.uint8) for i in range(3)]
    images, labels = make_batch(colour, [], config, np.random.default_rng(3))
    assert images.shape == (6, 4, 64, 64) and labels.shape == (6, 1, 64, 64)
    border = images[:, 3]
    assert border.max() == 1.0 and (border.reshape(6, -1).max(axis=1) < 1.0).any()
    assert set(np.unique(labels)) <= {0.0, 1.0}
    assert 0.0 < labels.mean() < 0.5                    # some damage, mostly not damage
    again, _ = make_batch(colour, [], config, np.random.default_rng(3))
    assert np.array_equal(images, again)


def test_tiny_run_trains_in_seconds_and_resumes_exactly(folders: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    colour, gray = folders
    torch.set_num_threads(1)
    started = time.perf_counter()
    straight = recipe.train("tiny", tmp_path / "a", colour, gray, steps=20, max_steps_this_run=6)
    assert time.perf_counter() - started < 20
    assert straight["step"] == 6 and np.isfinite(straight["loss"])

    recipe.train("tiny", tmp_path / "b", colour, gray, steps=20, max_steps_this_run=3)
    second = recipe.train("tiny", tmp_path / "b", colour, gray, steps=20, max_steps_this_run=3,
                          resume=True)
    assert second["step"] == 6
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"

    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_f1" in r]
    assert val and all(0.0 <= r["val_f1"] <= 1.0 and 0.0 <= r["val_clean_marked"] <= 1.0
                       for r in val)
    assert b["train_images"] == 3 and b["train_gray_images"] == 3   # every 3rd held out

    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": {"other": {"file": "x"}}}))
    entry = recipe.export(tmp_path / "b", models, checkpoint="last.pt",
                          quality={"cbsd68": {"f1": 0.5}})
    from engine.models.weights import load_state_dict
    from engine.ops.detect.net import build_damage_net

    state, loaded = load_state_dict("damage_unet", folder=models)
    assert loaded.sha256 == entry["sha256"] and entry["steps"] == 6
    assert entry["architecture"] == "damage_unet_v1" and entry["quality"]["cbsd68"]["f1"] == 0.5
    assert set(json.loads((models / "manifest.json").read_text())["models"]) == {
        "other", "damage_unet"}
    model = build_damage_net(loaded.config)
    model.load_state_dict(state)
    for name, tensor in b["ema"].items():
        assert torch.equal(model.state_dict()[name], tensor)


def test_the_loss_falls_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    config = recipe.TrainConfig(widths=(8, 16), blocks=(1, 1), crop=32, batch=4,
                                clean_share=0.0, whole_share=1.0)
    colour = [np.rint(_photo(i, (64, 64)) * 255).astype(np.uint8) for i in range(2)]
    images, labels = make_batch(colour, [], config, np.random.default_rng(1))
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    model = recipe.build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        loss = damage_loss(model(x), y, config.dice_weight)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.8 * first


@pytest.mark.parametrize("blocks", [(1, 1), (2, 1)], ids=["same depth", "deeper"])
def test_earlier_weights_start_a_network_with_the_border_input_and_more_blocks(blocks) -> None:
    plain = recipe.build(recipe.TrainConfig(widths=(8, 16), blocks=(1, 1), border=False))
    grown = recipe.build(recipe.TrainConfig(widths=(8, 16), blocks=blocks))
    grown.load_state_dict(fit_initial_weights(plain.state_dict(), grown))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain(x), grown(torch.cat([x, torch.rand(1, 1, 32, 32)], 1)),
                              atol=1e-6)


def test_an_added_block_starts_as_an_identity_that_can_learn() -> None:
    plain = recipe.build(recipe.TrainConfig(widths=(8, 16), blocks=(1, 1)))
    deeper = recipe.build(recipe.TrainConfig(widths=(8, 16), blocks=(2, 1)))
    weights = deepen_stages(plain.state_dict(), deeper)
    assert widen_inputs(plain.state_dict(), deeper).keys() == plain.state_dict().keys()
    assert weights["encoders.0.1.conv1.weight"].abs().sum() > 0     # fresh
    assert weights["encoders.0.1.conv2.weight"].abs().sum() == 0
    other = recipe.build(recipe.TrainConfig(widths=(8, 32), blocks=(1, 1)))
    with pytest.raises(ValueError, match="cannot start from these weights"):
        deepen_stages({k: v for k, v in plain.state_dict().items() if k != "tail.bias"}, other)


def test_resume_without_a_checkpoint_says_so(folders: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        recipe.train("tiny", tmp_path / "none", folders[0], None, resume=True)


def test_cli_help_runs() -> None:
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--help"])
    assert exit_info.value.code == 0


def test_whole_photo_validation_scores_the_op_proposal(folders: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    from engine.training.damage_batches import DamageValidator

    colour, gray = folders
    photos = recipe.load_images(recipe.list_images(colour), 16)
    config = recipe.CONFIGS["tiny_photo"]
    validator = DamageValidator(photos, config, torch.device("cpu"))
    assert len(validator.photos) == len(photos)
    assert all(label.any() for _, label in validator.photos)          # always damaged

    class Constant(torch.nn.Module):
        multiple = 1

        def __init__(self, logit: float) -> None:
            super().__init__()
            self.logit = logit

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full_like(x[:, :1], self.logit)

    blind = validator(Constant(-10.0))
    assert blind["val_recall_photo"] == 0.0 and blind["val_f1_photo"] == 0.0
    labels = iter([label for _, label in validator.photos])
    validator._whole = lambda model, planes: next(labels).astype(np.float32)  # a perfect net
    perfect = validator(Constant(-10.0))
    assert perfect["val_recall_photo"] == 1.0 and perfect["val_precision_photo"] > 0.95

    torch.set_num_threads(1)
    summary = recipe.train("tiny_photo", tmp_path / "run", colour, gray, steps=4,
                           max_steps_this_run=4)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_f1_photo" in r]
    assert val and all(0.0 <= r["val_f1_photo"] <= 1.0 for r in val)
    assert summary["best_val"] == pytest.approx(max(r["val_f1_photo"] for r in val))
