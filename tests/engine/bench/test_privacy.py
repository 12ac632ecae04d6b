"""The privacy suite on generated photos, with the stand-in 'face' scorer of the detection
tests (a bright square on a dark ground)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.bench import BenchError
from engine.bench.privacy import BOXES, format_tables, match_faces, run_privacy_bench
from engine.core.pixels import from_float
from engine.io import save
from engine.ops.privacy import faces
from engine.ops.privacy.faces import FaceBox
from tests.engine.ops.privacy.test_faces import square_scorer


def test_each_marked_face_is_matched_once():
    truth = [[10, 10, 50, 50], [100, 10, 140, 50]]
    found = [FaceBox(12, 12, 52, 52), FaceBox(11, 9, 49, 51), FaceBox(300, 300, 320, 320)]
    assert match_faces(found, truth) == 1
    assert match_faces(found + [FaceBox(102, 12, 140, 48)], truth) == 2
    assert match_faces([FaceBox(30, 30, 70, 70)], truth) == 0  # IoU 0.14


def test_the_shipped_box_file_names_images_and_boxes_only():
    data = json.loads(BOXES.read_text())
    assert len(data["faces"]) >= 15
    for name, boxes in data["faces"].items():
        assert isinstance(name, str) and boxes
        assert all(len(box) == 4 and all(isinstance(v, int) for v in box) for box in boxes)


def test_suite_measures_detection_and_hiding(tmp_path, monkeypatch):
    monkeypatch.setattr(faces, "shipped_scorer", lambda device="cpu": square_scorer)
    rng = np.random.default_rng(0)
    marked = {}
    for k, squares in enumerate([[(30, 40, 50)], [(20, 20, 40), (100, 90, 44)]]):
        image = np.full((160, 180, 3), 0.15, np.float32)
        for x, y, side in squares:
            # A 'face' with detail inside, so hiding it costs PSNR.
            image[y:y + side, x:x + side] = 0.85 + 0.1 * rng.standard_normal((side, side, 1))
        save(tmp_path / f"p{k}.png", from_float(np.clip(image, 0, 1)))
        marked[f"p{k}.png"] = [[x, y, x + side, y + side] for x, y, side in squares]
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"faces": marked}))
    report = run_privacy_bench(tmp_path, boxes, hiders=["pixelate", "plain blur (peer)"],
                               out_dir=tmp_path / "sheets")
    (detection,) = report["detection"]
    assert detection["recall"] == 1.0 and detection["precision"] == 1.0
    assert detection["clean_images"] == 2
    hiding = {row["method"]: row for row in report["hiding"]}
    assert hiding["pixelate"]["psnr_max"] < 20 and hiding["pixelate"]["restored_psnr_max"] < 20
    assert (tmp_path / "sheets" / "privacy_sheet.png").is_file()
    table = format_tables(report)
    assert "| 0.5 | 1.00 | 1.00 | 3 / 3 |" in table and "| pixelate |" in table


def test_missing_images_are_reported(tmp_path):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"faces": {"absent.png": [[0, 0, 10, 10]]}}))
    with pytest.raises(BenchError, match="not in"):
        run_privacy_bench(tmp_path, boxes)
