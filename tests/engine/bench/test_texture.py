"""The texture benchmark: rows for every image, a contact sheet, G'MIC used only when present."""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np
import pytest
import torch

from engine.bench.texture import _load_sample, format_table, run_texture_bench
from engine.core.pixels import to_uint8
from engine.io import load, save

torch.set_num_threads(1)


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.5)
    t = np.clip(0.5 + field / (4 * field.std()), 0, 1)[:, :, None]
    return (np.array([0.3, 0.2, 0.1]) + np.array([0.6, 0.4, 0.2]) * t).astype(np.float32)


@pytest.fixture()
def folder(tmp_path):
    data = tmp_path / "textures"
    data.mkdir()
    save(data / "a.png", to_uint8(blobs(100, 120, 0)))
    save(data / "b.png", to_uint8(blobs(96, 80, 1)))
    return data


def test_bench_reports_every_method_that_ran(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-gmic-here"))
    rows = run_texture_bench(folder, size=64, out_dir=tmp_path / "out", gan_seconds=1,
                             device="cpu", layouts=4)
    assert [row["image"] for row in rows] == ["a.png", "b.png"]
    assert rows[0]["sample"] == "120×100"
    for row in rows:
        assert row["swd_quilt"] < 3 * row["swd_halves"] + 50
        assert row["swd_gan"] > 0 and row["swd_gan_raw"] > 0 and row["gan_steps"] > 0
        assert abs(row["seam_quilt"]) < 3 and abs(row["seam_gan"]) < 3
        assert row["swd_pm"] > 0 and abs(row["seam_pm"]) < 3
        assert row["swd_gmic"] is None and row["seconds_gmic"] is None
    sheet = load(tmp_path / "out" / "texture_contact_sheet.png").pixels
    assert sheet.shape == (28 + 2 * 64, 6 * 64, 3)
    table = format_table(rows)
    assert "a.png" in table and "mean" in table and "—" in table


def test_samples_are_downscaled_to_a_256_short_side(tmp_path):
    save(tmp_path / "big.png", to_uint8(blobs(300, 340, 0)))
    sample = _load_sample(tmp_path / "big.png")
    assert sample.shape == (256, 290, 3) and sample.dtype == np.float32


def test_bench_runs_gmic_when_it_is_on_the_path(folder, tmp_path, monkeypatch):
    # A stand-in "gmic" that returns the sample itself (last argument is the output path).
    tools = tmp_path / "bin"
    tools.mkdir()
    script = tools / "gmic"
    script.write_text('#!/bin/sh\ncp "$3" "$(eval echo \\${$#})"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    rows = run_texture_bench(folder, limit=1, size=64, gan_seconds=0, device="cpu",
                             layouts=2)
    assert rows[0]["swd_gan"] is None
    assert rows[0]["swd_gmic"] is not None and rows[0]["errors"] == []


def test_bench_keeps_trained_models_and_reuses_them(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-gmic-here"))
    models = tmp_path / "models"
    first = run_texture_bench(folder, limit=1, size=48, gan_seconds=1, device="cpu",
                              models_dir=models, layouts=2)
    kept = sorted(models.iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("a-") and kept[0].suffix == ".safetensors"
    stamp = kept[0].stat().st_mtime_ns
    again = run_texture_bench(folder, limit=1, size=48, gan_seconds=1, device="cpu",
                              models_dir=models, layouts=2)
    assert kept[0].stat().st_mtime_ns == stamp            # not trained again
    assert again[0]["gan_steps"] == first[0]["gan_steps"]
    assert again[0]["swd_gan"] == pytest.approx(first[0]["swd_gan"])
