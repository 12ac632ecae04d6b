"""The restore bench on generated photos: detection scores, repair PSNR, contact sheets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import io
from engine.bench.restore import format_tables, run_restore_bench, summarize
from engine.cli import main
from engine.core.pixels import from_float
from engine.ops.detect.damage import weights_available

needs_weights = pytest.mark.skipif(not weights_available(),
                                   reason="the damage_unet weights are not installed")


def _scene(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.3 + 0.4 * x / width, 0.35 + 0.3 * y / height,
                      0.5 + 0.15 * np.sin(x / 11.0) * np.cos(y / 17.0)], axis=2)
    for _ in range(5):
        shape = np.zeros((height, width), np.float32)
        cv2.circle(shape, (int(rng.integers(width)), int(rng.integers(height))),
                   int(rng.integers(10, 30)), 1.0, -1)
        weight = cv2.GaussianBlur(shape, (0, 0), 1.5)[:, :, None]
        image = image * (1 - weight) + rng.uniform(0.2, 0.8, 3).astype(np.float32) * weight
    texture = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32),
                               (0, 0), 2.0)
    image = image + 0.03 * texture[:, :, None] / texture.std()
    return from_float(np.clip(image, 0, 1), np.uint8)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("restore_data")
    for index in range(3):
        io.save(folder / f"img{index}.png", _scene(144, 176, index))
    return folder


@needs_weights
def test_learned_detection_beats_classical_and_repair_gains(data_dir: Path) -> None:
    files = sorted(data_dir.iterdir())
    records, visuals = run_restore_bench(files, device="cpu", keep=1)
    summary = summarize(records)
    learned, classical = summary["detect"]["learned"], summary["detect"]["classical"]
    assert learned["f1"] > 0.5 and learned["f1"] > classical["f1"] + 0.2, summary["detect"]  # 0.60
    psnr = summary["psnr"]
    assert psnr["learned+default"] > psnr["damaged"] + 2.0, psnr      # 2.9 dB measured
    assert psnr["truth+default"] >= psnr["learned+default"] - 0.5
    assert len(visuals) == 1 and visuals[0].probability.shape == visuals[0].proposal.shape
    table = format_tables(summary)
    assert "learned+telea" in table and "classical" in table
    # The same seed gives the same numbers.
    again, _ = run_restore_bench(files[:1], device="cpu")
    assert again[0]["learned_counts"] == records[0]["learned_counts"]


@needs_weights
def test_suite_runs_from_the_command_line_with_sheets(data_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    real = tmp_path / "real"
    real.mkdir()
    io.save(real / "photo.png", _scene(96, 128, 9))
    report = tmp_path / "restore.json"
    code = main(["bench", "restore", "--data", str(data_dir), "--limit", "1", "--quiet",
                 "--threads", "1", "--out", str(tmp_path / "sheets"), "--sheet", "1",
                 "--real", str(real), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "precision" in out and "learned+default" in out
    sheet = cv2.imread(str(tmp_path / "sheets" / "restore_bench.png"))
    assert sheet is not None and sheet.shape[1] == 4 * 320
    assert (tmp_path / "sheets" / "restore_real.png").is_file()
    assert (tmp_path / "sheets" / "real_photo.png").is_file()
    data = json.loads(report.read_text())
    assert data["suite"] == "restore" and len(data["rows"]) == 1
    assert 0.0 <= data["summary"]["detect"]["learned"]["f1"] <= 1.0
