"""The denoiser's training recipe: noise synthesis, a tiny smoke run, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.ops.denoise.opponent import luma_chroma_std, to_opponent  # noqa: E402
from engine.training import denoise as recipe  # noqa: E402
from engine.training.noise import (  # noqa: E402
    NOISE_KINDS,
    NOISE_MIXES,
    NoiseSpec,
    synthesize,
    synthesize_batch,
)


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


def test_gaussian_levels_are_the_nominal_sigma_and_measured_std_agrees() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((96, 96, 3), 0.5, np.float32)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
    for _ in range(5):
        _, noisy, levels, kind = synthesize(clean, rng, spec, kind="gaussian")
        assert kind == "gaussian" and levels.shape == (2,)
        assert levels[0] == levels[1] and 0.0 <= levels[0] <= 75 / 255
        luma, chroma = luma_chroma_std(noisy - clean)
        assert luma == pytest.approx(levels[0], rel=0.05, abs=1e-3)
        assert chroma == pytest.approx(levels[1], rel=0.05, abs=1e-3)
    grey = NoiseSpec(gray_probability=1.0, clip_probability=0.0)
    _, noisy, levels, _ = synthesize(clean, rng, grey, kind="gaussian")
    per_channel = float(np.std(noisy[:, :, 0] - 0.5))
    assert levels[0] == pytest.approx(np.sqrt(3) * per_channel, rel=0.05) and levels[1] == 0.0


def test_poisson_gaussian_noise_grows_with_brightness() -> None:
    rng = np.random.default_rng(1)
    clean = np.concatenate([np.full((64, 64, 3), 0.05, np.float32),
                            np.full((64, 64, 3), 0.95, np.float32)], axis=1)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
    ratios = []
    for _ in range(6):
        _, noisy, levels, _ = synthesize(clean, rng, spec, kind="poisson_gaussian")
        diff = noisy - clean
        ratios.append(np.std(diff[:, 64:]) / max(np.std(diff[:, :64]), 1e-6))
        assert levels == pytest.approx(luma_chroma_std(diff), rel=1e-5)
    assert np.median(ratios) > 1.5


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_every_kind_is_seeded_and_reports_its_effective_levels(kind: str) -> None:
    clean = _photo(2, (80, 96))
    spec = NoiseSpec(gray_probability=0.0)
    first = synthesize(clean, np.random.default_rng(42), spec, kind=kind)
    again = synthesize(clean, np.random.default_rng(42), spec, kind=kind)
    other = synthesize(clean, np.random.default_rng(43), spec, kind=kind)
    assert np.array_equal(first[1], again[1]) and np.array_equal(first[2], again[2])
    assert not np.array_equal(first[1], other[1])
    assert np.array_equal(clean, _photo(2, (80, 96)))  # the input is not modified
    if kind != "gaussian":  # measured: the std of noisy - clean in luma and chroma
        assert first[2] == pytest.approx(luma_chroma_std(first[1] - first[0]), rel=1e-5)


def _neighbour_correlation(plane: np.ndarray) -> float:
    plane = plane - plane.mean()
    return float((plane[:, 1:] * plane[:, :-1]).mean() / plane.var())


def test_real_noise_kinds_are_correlated_chroma_heavy_or_luma_dominant() -> None:
    clean = np.full((128, 128, 3), 0.5, np.float32)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
    rng = np.random.default_rng(5)
    filtered = [synthesize(clean, rng, spec, kind="filtered") for _ in range(12)]
    # Chroma 0-50 % of max vs luma 0-40 %: chroma-heavier on average, and mostly filtered.
    assert np.mean([f[2][1] for f in filtered]) > np.mean([f[2][0] for f in filtered])
    correlations = [_neighbour_correlation(to_opponent(f[1] - clean)[:, :, 1])
                    for f in filtered]
    assert np.median(correlations) > 0.3
    for _ in range(6):
        _, noisy, levels, _ = synthesize(clean, rng, spec, kind="grain")
        assert levels[0] > 2.0 * levels[1]  # film grain is luma-dominant
        _, noisy, levels, _ = synthesize(clean, rng, spec, kind="demosaic")
        noise = noisy - clean
        assert _neighbour_correlation(noise[:, :, 1]) > 0.2  # interpolated between sites
    white = synthesize(clean, rng, spec, kind="gaussian")[1] - clean
    assert abs(_neighbour_correlation(white[:, :, 1])) < 0.05


def test_spatially_varying_levels_follow_the_noise() -> None:
    clean = np.full((128, 128, 3), 0.5, np.float32)
    spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0, varying_probability=1.0)
    _, noisy, levels, _ = synthesize(clean, np.random.default_rng(6), spec, kind="gaussian")
    assert levels.shape == (128, 128, 2) and np.array_equal(levels[..., 0], levels[..., 1])
    assert levels.max() <= 75 / 255 + 1e-6
    blocks = [(slice(y, y + 32), slice(x, x + 32)) for y in range(0, 128, 32)
              for x in range(0, 128, 32)]
    measured = [np.std(noisy[b] - 0.5) for b in blocks]
    nominal = [np.sqrt(np.mean(levels[b][..., 0] ** 2)) for b in blocks]
    assert np.corrcoef(measured, nominal)[0, 1] > 0.9
    assert measured == pytest.approx(nominal, rel=0.2)


def test_batches_give_the_network_its_maps() -> None:
    rng = np.random.default_rng(7)
    crops = [_photo(i, (32, 32)) for i in range(3)]
    clean, noisy, levels = synthesize_batch(crops, rng, NOISE_MIXES["real"])
    assert clean.shape == noisy.shape == (3, 32, 32, 3) and levels.shape == (3, 32, 32, 2)
    constant = np.broadcast_to(np.array([0.1, 0.2], np.float32), (2, 8, 8, 2))
    two = recipe.level_maps(constant, 2)
    assert tuple(two.shape) == (2, 2, 1, 1) and float(two[0, 1]) == pytest.approx(0.2)
    one = recipe.level_maps(constant, 1)  # v1: the per-channel σ of the same energy
    assert float(one[0, 0]) == pytest.approx(np.sqrt((0.01 + 2 * 0.04) / 3), rel=1e-5)
    varying = np.array(constant)
    varying[0, 0, 0] = 0.3
    assert tuple(recipe.level_maps(varying, 2).shape) == (2, 2, 8, 8)


def test_grey_samples_have_identical_channels_and_jpeg_stays_in_range() -> None:
    rng = np.random.default_rng(2)
    clean = _photo(3)
    for kind in NOISE_KINDS:
        target, noisy, levels, _ = synthesize(clean, rng, NoiseSpec(gray_probability=1.0),
                                              kind=kind)
        assert np.array_equal(noisy[:, :, 0], noisy[:, :, 2])
        assert np.array_equal(target[:, :, 0], target[:, :, 1])
        assert levels[..., 1].max() < 1e-6  # grey noise has no chroma
    _, noisy, levels, _ = synthesize(clean, rng, NoiseSpec(gray_probability=0.0), kind="jpeg")
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert levels == pytest.approx(luma_chroma_std(noisy - clean), rel=1e-5)
    assert levels[0] > 0.0
    with pytest.raises(ValueError, match="unknown noise kind"):
        synthesize(clean, rng, kind="speckle")


def test_every_config_names_a_described_mix_and_the_gauss_mix_is_mostly_gaussian() -> None:
    from engine.training.denoise_config import CONFIGS, NOISE_DESCRIPTIONS

    for name, config in CONFIGS.items():
        assert config.noise in NOISE_MIXES and config.noise in NOISE_DESCRIPTIONS, name
    rng = np.random.default_rng(4)
    clean = _photo(1, (32, 32))
    kinds = [synthesize(clean, rng, NOISE_MIXES["gauss"])[3] for _ in range(400)]
    assert 0.72 < kinds.count("gaussian") / len(kinds) < 0.88
    assert set(kinds) == {"gaussian", "poisson_gaussian", "correlated", "jpeg"}


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


def test_v2_run_starts_from_widened_v1_weights_and_exports_as_v2(data_dir: Path,
                                                                  tmp_path: Path) -> None:
    torch.set_num_threads(1)
    recipe.train("tiny", tmp_path / "v1", data_dir, steps=20, max_steps_this_run=2)
    models = tmp_path / "models"
    v1_entry = recipe.export(tmp_path / "v1", models, checkpoint="last.pt")
    assert v1_entry["architecture"] == "denoise_unet_v1"
    recipe.train("tiny_v2", tmp_path / "v2", data_dir, steps=20, max_steps_this_run=0,
                 init_from=models / "denoise_unet.safetensors")
    start = torch.load(tmp_path / "v2" / "last.pt", weights_only=True)["model"]
    v1_state = torch.load(tmp_path / "v1" / "last.pt", weights_only=True)["ema"]
    assert start["head.weight"].shape[1] == v1_state["head.weight"].shape[1] + 1
    assert torch.equal(start["head.weight"][:, -2], v1_state["head.weight"][:, -1] / 2)
    summary = recipe.train("tiny_v2", tmp_path / "v2", data_dir, resume=True, steps=20,
                           max_steps_this_run=5)
    assert summary["step"] == 5 and np.isfinite(summary["loss"])
    log = [json.loads(line) for line in (tmp_path / "v2" / "log.jsonl").read_text().splitlines()]
    assert any("val_psnr_real" in r for r in log)
    entry = recipe.export(tmp_path / "v2", models, checkpoint="last.pt")
    assert entry["architecture"] == "denoise_unet_v2" and entry["config"]["map_channels"] == 2
    assert entry["file"] == "denoise_unet_v2.safetensors"  # beside the v1 export, not over it
    assert "grain" in entry["noise"]
    from engine.models.weights import clear_model_cache, list_models, load_model

    assert list_models(models) == ["denoise_unet", "denoise_unet_v2"]
    model, _ = load_model("denoise_unet_v2", folder=models)
    assert model.map_channels == 2
    clear_model_cache("denoise_unet_v2")


def test_halved_photos_have_colour_at_full_resolution() -> None:
    # A photo whose colour was stored at half resolution (4:2:0): after halving, its colour
    # changes as sharply as its brightness, which the original's never did.
    rng = np.random.default_rng(3)
    ycc = np.stack([rng.random((64, 64)), cv2.resize(rng.random((32, 32)), (64, 64)),
                    cv2.resize(rng.random((32, 32)), (64, 64))], axis=2).astype(np.float32)
    photo = np.rint(np.clip(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), 0, 1) * 255).astype(np.uint8)

    def colour_sharpness(image: np.ndarray) -> float:
        chroma = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)[:, :, 1]
        return float(np.abs(np.diff(chroma, axis=1)).mean())

    (half,) = recipe.halved([photo], 16)
    assert half.shape == (32, 32, 3) and half.dtype == np.uint8
    assert colour_sharpness(half) > 1.5 * colour_sharpness(photo)
    assert recipe.halved([photo], 40) == []


def test_full_chroma_share_draws_crops_from_the_halves() -> None:
    big, small = np.zeros((80, 80, 3), np.uint8), np.full((40, 40, 3), 255, np.uint8)
    rng = np.random.default_rng(0)
    crops = recipe.random_crops([big], 200, 32, rng, [small], 0.5)
    from_halves = sum(float(c.mean()) == 1.0 for c in crops)
    assert 70 < from_halves < 130
    assert all(c.mean() == 0.0 for c in recipe.random_crops([big], 20, 32, rng, [small], 0.0))


def test_full_chroma_run_validates_both_sets_and_selects_on_their_mean(
        data_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    summary = recipe.train("tiny_chroma", tmp_path / "run", data_dir, max_steps_this_run=5)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_psnr_full_25" in r]
    assert val and all(r["val_psnr_25_both"] == pytest.approx(
        (r["val_psnr_25"] + r["val_psnr_full_25"]) / 2) for r in val)
    assert summary["best_val"] == pytest.approx(max(r["val_psnr_25_both"] for r in val))


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
