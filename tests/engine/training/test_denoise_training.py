"""The denoiser's training recipe: noise synthesis, a tiny smoke run, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.training import denoise as recipe  # noqa: E402
from engine.training.noise import NOISE_KINDS, NoiseSpec, synthesize  # noqa: E402


def _photo(seed: int, size: tuple[int, int] = (72, 88)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(x / (4 + seed)) * np.cos(y / 6)
    texture = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), 1.0) * 0.1
    image = np.stack([base + texture, 0.7 * base + 0.1, 0.9 - 0.6 * base - texture], axis=2)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    for index in range(5):
        pixels = np.rint(_photo(index) * 255).astype(np.uint8)[:, :, ::-1]
        cv2.imwrite(str(folder / f"{index:03d}.png"), pixels)
    return folder


# ------------------------------------------------------------------------------- noise


def test_gaussian_sigma_is_the_nominal_one_and_measured_std_agrees() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((96, 96, 3), 0.5, np.float32)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
    for _ in range(5):
        _, noisy, sigma, kind = synthesize(clean, rng, spec, kind="gaussian")
        assert kind == "gaussian"
        assert 0.0 <= sigma <= 75 / 255
        assert np.std(noisy - clean) == pytest.approx(sigma, rel=0.05, abs=1e-3)


def test_poisson_gaussian_noise_grows_with_brightness() -> None:
    rng = np.random.default_rng(1)
    clean = np.concatenate([np.full((64, 64, 3), 0.05, np.float32),
                            np.full((64, 64, 3), 0.95, np.float32)], axis=1)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
    ratios = []
    for _ in range(6):
        _, noisy, sigma, _ = synthesize(clean, rng, spec, kind="poisson_gaussian")
        diff = noisy - clean
        ratios.append(np.std(diff[:, 64:]) / max(np.std(diff[:, :64]), 1e-6))
        assert sigma == pytest.approx(float(np.std(diff)), rel=1e-5)
    assert np.median(ratios) > 1.5


def test_grey_samples_have_identical_channels_and_jpeg_stays_in_range() -> None:
    rng = np.random.default_rng(2)
    clean = _photo(3)
    for kind in NOISE_KINDS:
        target, noisy, _, _ = synthesize(clean, rng, NoiseSpec(gray_probability=1.0), kind=kind)
        assert np.array_equal(noisy[:, :, 0], noisy[:, :, 2])
        assert np.array_equal(target[:, :, 0], target[:, :, 1])
    _, noisy, sigma, _ = synthesize(clean, rng, NoiseSpec(gray_probability=0.0), kind="jpeg")
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert sigma == pytest.approx(float(np.std(noisy - clean)), rel=1e-5) and sigma > 0.0
    with pytest.raises(ValueError, match="unknown noise kind"):
        synthesize(clean, rng, kind="speckle")


def test_validation_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    files = [tmp_path / f"{i:03d}.jpg" for i in range(60)]
    train, val = recipe.split_files(files, 27)
    assert [f.name for f in val] == ["013.jpg", "040.jpg"]
    assert not set(train) & set(val) and len(train) + len(val) == 60


# ------------------------------------------------------------------------------- training


def test_tiny_run_has_finite_loss_and_resumes_exactly(data_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    straight = recipe.train("tiny", tmp_path / "a", data_dir, steps=20, max_steps_this_run=6)
    assert straight["step"] == 6 and np.isfinite(straight["loss"])

    first = recipe.train("tiny", tmp_path / "b", data_dir, steps=20, max_steps_this_run=3)
    assert first["step"] == 3
    second = recipe.train("tiny", tmp_path / "b", data_dir, steps=20, max_steps_this_run=3,
                          resume=True)
    assert second["step"] == 6  # the step counter continues

    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"

    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_psnr_25" in r]
    assert val and all(np.isfinite(r["val_psnr_25"]) for r in val)
    assert all(np.isfinite(r["loss"]) for r in log if "loss" in r)

    # A zero time budget stops cleanly and still leaves a resumable checkpoint.
    stopped = recipe.train("tiny", tmp_path / "b", data_dir, resume=True, minutes=0.0)
    assert stopped["stopped"] == "minutes" and stopped["step"] == 6

    # Export: safetensors + a manifest entry that the engine's loader verifies and loads.
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": {"other": {"file": "x"}}}))
    entry = recipe.export(tmp_path / "b", models, checkpoint="last.pt",
                          quality={"cbsd68": {"psnr": {"25": 1.0}}})
    from engine.models.weights import load_state_dict
    from engine.ops.denoise.net import build_denoiser

    state, loaded = load_state_dict("denoise_unet", folder=models)
    assert loaded.sha256 == entry["sha256"] and entry["steps"] == 6
    manifest = json.loads((models / "manifest.json").read_text())
    assert set(manifest["models"]) == {"other", "denoise_unet"}
    model = build_denoiser(loaded.config)
    model.load_state_dict(state)
    for name, tensor in b["ema"].items():
        assert torch.equal(model.state_dict()[name], tensor)

    # Fine-tuning starts a new run from the exported weights.
    recipe.train("tiny", tmp_path / "c", data_dir, steps=20, max_steps_this_run=0,
                 init_from=models / "denoise_unet.safetensors")
    c = torch.load(tmp_path / "c" / "last.pt", weights_only=True)
    assert c["step"] == 0
    for name, tensor in b["ema"].items():
        assert torch.equal(c["model"][name], tensor)


def test_worker_processes_feed_the_same_loop(data_dir: Path, tmp_path: Path) -> None:
    summary = recipe.train("tiny", tmp_path / "w", data_dir, steps=3, workers=1)
    assert summary["step"] == 3 and np.isfinite(summary["loss"])


def test_resume_without_a_checkpoint_says_so(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        recipe.train("tiny", tmp_path / "none", data_dir, resume=True)


def test_cli_help_runs() -> None:
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--help"])
    assert exit_info.value.code == 0
