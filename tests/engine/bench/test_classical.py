"""Tests of the benchmark runner and the classical suite on tiny generated images."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from engine import bench
from engine.bench import classical, common, degrade, peers
from engine.cli import main
from engine.core.metrics import mask_precision_recall
from engine.core.pixels import from_float
from engine.io import save
from engine.ops import op_names


def _scene(height: int, width: int, seed: int) -> np.ndarray:
    """A small synthetic photograph: smooth shading, a few flat shapes with sharp edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.3 + 0.4 * x / width, 0.3 + 0.4 * y / height,
                      0.5 + 0.2 * np.sin(x / 9.0) * np.cos(y / 13.0)], axis=2)
    for _ in range(5):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(float(c) for c in rng.uniform(0.15, 0.85, 3))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(6, 16)), colour, -1)
        else:
            cv2.rectangle(image, centre, (centre[0] + 20, centre[1] + 14), colour, -1)
    return from_float(np.clip(image, 0, 1), np.uint8)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_data")
    for index, (height, width) in enumerate(((80, 112), (96, 80), (64, 64))):
        save(folder / f"img{index}.png", _scene(height, width, index))
    return folder


@pytest.fixture(scope="module")
def classical_run(data_dir, tmp_path_factory):
    """One run of the suite shared by the tests below (capsys is per test, so redirect)."""
    report = tmp_path_factory.mktemp("bench_out") / "report.json"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["bench", "classical", "--data", str(data_dir), "--limit", "2",
                     "--threads", "1", "--json", str(report)])
    return code, out.getvalue(), err.getvalue(), json.loads(report.read_text())


def _expected_cases():
    available = set(op_names())
    return [case for case in classical.CLASSICAL_CASES if case.op in available]


def test_table_has_a_line_per_available_case(classical_run):
    code, out, err, _ = classical_run
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("classical suite: 2 images")
    assert lines[1].split()[:2] == ["op", "degradation"]
    labels = [line.split()[0] for line in lines[3:] if line and not line.startswith(" ")]
    expected = [case.label for case in _expected_cases()]
    assert labels[:len(expected)] == expected
    missing = sorted({case.op for case in classical.CLASSICAL_CASES} - set(op_names()))
    if missing:
        assert "skipping ops that are not installed: " + ", ".join(missing) in err


def test_numbers_are_sane(classical_run):
    _, _, _, report = classical_run
    assert report["images"] == ["img0.png", "img1.png"]
    rows = {row["label"]: row for row in report["cases"]}
    for row in rows.values():
        assert len(row["images"]) == 2, row["label"]
        assert row["summary"]["s_per_mp"] > 0
    if "adaptive_median" in rows:
        summary = rows["adaptive_median"]["summary"]
        assert summary["psnr_out"] - summary["psnr_in"] > 10
        assert summary["ssim_out"] > 0.9
    for label in ("gaussian", "nl_means", "median[s&p]", "bilateral"):
        if label in rows:
            summary = rows[label]["summary"]
            assert summary["psnr_out"] > summary["psnr_in"] + 1, label
    for label in ("inpaint[telea]", "inpaint[ns]"):
        if label in rows:
            summary = rows[label]["summary"]
            assert summary["psnr_out"] > summary["psnr_in"] + 5, label
    if "detect_defects" in rows:
        assert rows["detect_defects"]["summary"]["recall"] > 0.3
    if "template_match" in rows:
        assert rows["template_match"]["summary"]["found"] >= 0.5


def test_ops_filter_and_bad_arguments(data_dir, capsys):
    assert main(["bench", "classical", "--data", str(data_dir), "--limit", "1",
                 "--ops", "adaptive_median", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines()[3:] if line and not line[0].isspace()]
    expected = 1 if "adaptive_median" in op_names() else 0
    assert len([row for row in rows if row.startswith("adaptive_median")]) == expected
    assert not any(row.startswith("gaussian") for row in rows)

    for argv, needle in (
        (["bench", "classical", "--data", str(data_dir / "nope")], "no such data folder"),
        (["bench", "classical", "--data", str(data_dir), "--ops", "frobnicate"], "frobnicate"),
        (["bench", "nosuite", "--data", str(data_dir)], "unknown suite"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("pixelmend: error:") and needle in err[0]


def test_degradations_are_fixed_per_image_and_plant_what_they_say(data_dir):
    truth = common.load_truth(data_dir / "img0.png")
    seed = common.image_seed(data_dir / "img0.png")
    assert seed == common.image_seed(data_dir / "img0.png") != common.image_seed(data_dir / "x.png")
    for key, degradation in degrade.DEGRADATIONS.items():
        first = degradation.make(truth, np.random.default_rng([seed, 1]))
        again = degradation.make(truth, np.random.default_rng([seed, 1]))
        np.testing.assert_array_equal(first.image, again.image, err_msg=key)
        assert first.image.dtype == np.float32 and first.image.shape == truth.shape
    sp = degrade.DEGRADATIONS["sp10"].make(truth, np.random.default_rng(0))
    assert 0.08 < sp.truth_mask.mean() < 0.12
    assert np.isin(sp.image[sp.truth_mask], (0.0, 1.0)).all()
    np.testing.assert_array_equal(sp.image[~sp.truth_mask], truth[~sp.truth_mask])
    holes = degrade.DEGRADATIONS["scribbles"].make(truth, np.random.default_rng(0))
    assert 0.01 < holes.mask.mean() < 0.4
    copies = degrade.DEGRADATIONS["copies"].make(truth, np.random.default_rng(0))
    size = int(np.sqrt(copies.mask.sum()))
    (sy, sx), *pasted = copies.positions
    for y, x in pasted:
        np.testing.assert_array_equal(copies.image[y:y + size, x:x + size],
                                      truth[sy:sy + size, sx:sx + size])


def test_tolerant_overlap_counts_near_misses_only_within_one_pixel():
    truth = np.zeros((20, 20), bool)
    truth[10, 2:18] = True
    shifted = np.roll(truth, 1, axis=0)
    assert mask_precision_recall(shifted, truth, tolerance=1) == (1.0, 1.0)
    far = np.roll(truth, 3, axis=0)
    assert mask_precision_recall(far, truth, tolerance=1) == (0.0, 0.0)
    assert mask_precision_recall(np.zeros_like(truth), truth, tolerance=1) == (0.0, 0.0)


def test_format_table_aligns_columns_and_marks_missing_values():
    rows = [
        {"label": "a", "degradation": "noise", "summary": {"psnr_in": 20.0, "psnr_out": 30.5,
                                                           "ssim_out": 0.9, "s_per_mp": 0.01}},
        {"label": "canny", "degradation": "none", "summary": {"s_per_mp": 0.2}},
        {"label": "detect", "degradation": "spots",
         "summary": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "s_per_mp": 1.0}},
    ]
    lines = classical.format_table(rows).splitlines()
    assert len(lines) == 5 and len({len(line) for line in lines}) == 1
    assert lines[0].index("degradation") == lines[2].index("noise") == lines[4].index("spots")
    assert "20.00 →  30.50" in lines[2] and "+10.50" in lines[2]
    assert lines[3].count("—") == 3
    assert "P 0.50 R 0.25 F1 0.33" in lines[4]


def test_peers_run_on_the_same_input_and_absent_ones_are_skipped(data_dir, capsys, monkeypatch):
    monkeypatch.setattr(classical, "PEERS", (
        peers.Peer("do nothing", "adaptive_median", "numpy", lambda image, sample: image),
        peers.Peer("missing lib", "adaptive_median", "no_such_module_xyz",
                   lambda image, sample: image),
    ))
    assert main(["bench", "classical", "--data", str(data_dir), "--limit", "1",
                 "--ops", "adaptive_median"]) == 0
    captured = capsys.readouterr()
    assert "peers skipped, not installed: no_such_module_xyz" in captured.err
    peer_line = next(line for line in captured.out.splitlines() if "vs do nothing" in line)
    assert "+0.00" in peer_line and "× our time" in peer_line
    assert "missing lib" not in captured.out


def test_a_suite_can_add_its_own_options(data_dir, capsys, monkeypatch):
    seen = {}

    def run(args):
        seen.update(vars(args))
        print(f"levels: {args.levels}")
        return 0

    def arguments(parser):
        parser.add_argument("--levels", default="15", help="noise levels")

    monkeypatch.setitem(bench.SUITES, "toy", bench.Suite(run, arguments))
    assert main(["bench", "--data", str(data_dir), "toy", "--levels", "15,25",
                 "--threads", "1"]) == 0
    assert capsys.readouterr().out == "levels: 15,25\n"
    assert seen["suite"] == "toy" and seen["data"] == str(data_dir) and seen["threads"] == 1
    assert main(["bench", "classical", "--data", str(data_dir), "--levels", "3"]) == 2
    assert "--levels" in capsys.readouterr().err


def test_texture_suite_runs_from_the_command_line(data_dir, tmp_path, capsys):
    report = tmp_path / "texture.json"
    code = main(["bench", "texture", "--data", str(data_dir), "--limit", "1", "--size", "48",
                 "--gan-seconds", "0", "--layouts", "2", "--threads", "1", "--out",
                 str(tmp_path), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "img0.png" in out and "SWD" in out
    rows = json.loads(report.read_text())["rows"]
    assert rows[0]["swd_quilt"] > 0 and rows[0]["swd_gan"] is None  # the GAN was skipped
    assert (tmp_path / "texture_contact_sheet.png").exists()


def test_inpaint_suite_runs_from_the_command_line(data_dir, tmp_path, capsys):
    masks = tmp_path / "masks"
    masks.mkdir()
    hole = np.zeros((64, 64), np.uint8)
    hole[20:30, 10:40] = 255
    save(masks / "00000.png", hole)
    code = main(["bench", "inpaint", "--data", str(data_dir), "--masks", str(masks),
                 "--limit", "1", "--methods", "opencv-telea,opencv-ns", "--quiet",
                 "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "opencv-telea" in out and "opencv-ns" in out
    assert "1-10%" in out or "10-20%" in out


def test_denoise_suite_runs_from_the_command_line(data_dir, tmp_path, capsys):
    report = tmp_path / "denoise.json"
    code = main(["bench", "denoise", "--data", str(data_dir), "--limit", "1", "--sigma", "25",
                 "--peers", "nlm", "--no-blind", "--quiet", "--threads", "1",
                 "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "25" in out
    data = json.loads(report.read_text())
    assert data["suite"] == "denoise" and data["rows"] and "summary" in data
