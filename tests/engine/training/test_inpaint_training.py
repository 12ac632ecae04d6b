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
    images, holes, inputs = recipe.make_batch(photos, [], config, np.random.default_rng(0))
    assert images.shape == inputs.shape == (config.batch, config.crop, config.crop, 3)
    assert holes.shape == (config.batch, config.crop, config.crop)
    assert set(np.unique(holes)) <= {0.0, 1.0}
    low, high = config.coverage
    assert all(low <= h.mean() <= high for h in holes)
    assert images.min() >= 0.0 and images.max() <= 1.0
    known = holes == 0
    assert np.allclose(inputs[known], images[known], atol=1e-5)      # Telea keeps known pixels
    from engine.inpainting.diffusion import telea_fill

    first = telea_fill(images[0], holes[0] > 0)
    assert np.allclose(inputs[0], first, atol=1e-6)                  # the hole holds Telea


def test_network_input_zeroes_the_hole_for_the_non_residual_network() -> None:
    image = np.full((16, 16, 3), 0.6, np.float32)
    hole = np.zeros((16, 16), bool)
    hole[4:9, 5:11] = True
    zeroed = recipe.network_input(image, hole, None)
    assert (zeroed[hole] == 0).all() and (zeroed[~hole] == image[~hole]).all()
    assert np.allclose(recipe.network_input(image, hole, "telea"), 0.6, atol=1e-4)
    with pytest.raises(ValueError, match="unknown prefill"):
        recipe.network_input(image, hole, "blur")


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
    assert entry["steps"] == 5 and entry["architecture"] == "inpaint_ffc_v2"
    assert entry["config"]["prefill"] == "telea"

    from engine.nets.inpaint_arch import build_inpaint_net
    from engine.weights import load_state_dict

    state, found = load_state_dict(recipe.MODEL_NAME, folder=models)   # checks the sha256
    net = build_inpaint_net(found.config)
    net.load_state_dict(state)
    assert net.residual
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        recipe.train("tiny", tmp_path / "empty", data[0], resume=True)


def test_a_residual_run_starts_from_telea_and_warm_starts_from_a_v1_model(
        data: tuple[Path, Path], tmp_path: Path) -> None:
    """A fresh residual run validates at exactly Telea's score; --init-from a non-residual
    model takes its body but keeps the zero head, so the first validation is Telea's again."""
    from safetensors.torch import save_file

    from engine.nets.inpaint_arch import build_inpaint_net

    torch.set_num_threads(1)
    config = recipe.CONFIGS["tiny"]
    torch.manual_seed(3)
    v1 = build_inpaint_net({"width": config.width, "blocks": config.blocks})
    source = tmp_path / "v1.safetensors"
    save_file(v1.state_dict(), str(source), metadata={"architecture": "inpaint_ffc_v1"})

    run = tmp_path / "run"
    recipe.train(config, run, data[0], data[1], max_steps_this_run=0, init_from=source)
    state = recipe.load_checkpoint(run / "last.pt")
    assert torch.equal(state["model"]["stem.0.weight"], v1.state_dict()["stem.0.weight"])
    assert not state["model"]["head.weight"].any()
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    baseline = next(r["baseline"] for r in log if "baseline" in r)
    model = build_inpaint_net(config.model_config())
    model.load_state_dict(state["ema"])
    validate = recipe._Validator(recipe.load_images(recipe.split_files(
        recipe.list_images(data[0]), config.val_every_nth)[1], 16), config.val_crop,
        torch.device("cpu"), config.prefill)
    scores = validate(model)
    for kind in ("scratches", "strokes"):
        assert scores[f"val_psnr_{kind}"] == pytest.approx(baseline[f"telea_psnr_{kind}"])
