"""The upscale suite on generated photos: every method and factor scored, the gain over bicubic
real, the contact sheet and the large-image timing written."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from engine.bench import BenchError
from engine.bench.upscale import format_table, luma, run_upscale_bench, time_large
from engine.cli import main


def _photo(seed: int, size: int = 96) -> np.ndarray:
    image = np.zeros((size, size + 12, 3), np.uint8)
    image[...] = (60 + 20 * seed, 120, 180)
    cv2.circle(image, (40, 44), 26, (230, 40, 40), -1, cv2.LINE_AA)
    cv2.putText(image, f"A{seed}", (8, size - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                (255, 255, 255), 2, cv2.LINE_AA)
    for k in range(5):
        cv2.line(image, (2, 6 + 9 * k), (size, 20 + 13 * k), (20, 20, 20), 1, cv2.LINE_AA)
    return image


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truth")
    for seed in range(2):
        cv2.imwrite(str(folder / f"{seed}.png"), _photo(seed))
    return folder


def test_luma_is_bt601():
    white = np.ones((1, 1, 3), np.float32)
    assert luma(white)[0, 0] == pytest.approx(235 / 255, abs=1e-4)
    assert luma(np.zeros((1, 1, 3), np.float32))[0, 0] == pytest.approx(16 / 255)


def test_every_method_and_factor_is_scored_and_learned_gains(data_dir, tmp_path):
    report = run_upscale_bench(data_dir, scales=(2, 4), out_dir=tmp_path)
    rows = {(r["method"], r["scale"]): r for r in report["rows"]}
    assert set(rows) == {(m, s) for m in ("learned", "bicubic", "lanczos") for s in (2, 4)}
    assert all(r["images"] == 2 and r["s_per_mp"] > 0 for r in rows.values())
    for scale in (2, 4):
        assert rows[("learned", scale)]["psnr"] > rows[("bicubic", scale)]["psnr"] + 0.3
        assert rows[("learned", scale)]["ssim"] > rows[("bicubic", scale)]["ssim"]
    sheet = cv2.imread(report["sheet"])
    assert sheet is not None and sheet.shape[1] == 4 * 288  # 3 methods + truth
    assert "vs bicubic" in format_table(report["rows"])


def test_the_large_image_timing_makes_the_size_asked(data_dir):
    timing = time_large(sorted(data_dir.iterdir())[0], 0.1)
    assert timing["output_mp"] == pytest.approx(0.1, rel=0.05) and timing["seconds"] > 0


def test_the_command_line_suite_and_its_errors(data_dir, tmp_path, capsys):
    out = tmp_path / "up.json"
    assert main(["bench", "upscale", "--data", str(data_dir), "--scales", "3", "--ops",
                 "learned,bicubic", "--quiet", "--json", str(out)]) == 0
    assert "learned   x3" in capsys.readouterr().out
    assert {r["method"] for r in json.loads(out.read_text())["rows"]} == {"learned", "bicubic"}
    assert main(["bench", "upscale", "--data", str(data_dir), "--scales", "5"]) == 2
    with pytest.raises(BenchError, match="unknown methods"):
        run_upscale_bench(data_dir, methods=("nearest",))
