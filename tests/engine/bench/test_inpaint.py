"""The inpainting bench: pairing over bins, scores per bin, contact sheet, table."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from engine.bench.inpaint import format_table, pair_up, run_inpaint_bench  # noqa: E402


def test_pairs_go_round_robin_over_bins() -> None:
    images = [Path(f"img{i}.png") for i in range(3)]
    masks = [Path(f"{n:05d}.png") for n in (0, 100, 200, 2000, 2100, 4000)]
    pairs = pair_up(images, masks, limit=4)
    assert [(m.name, b) for _, m, b in pairs] == [
        ("00000.png", 0), ("02000.png", 1), ("04000.png", 2), ("00100.png", 0)]
    assert [i.name for i, _, _ in pairs] == ["img0.png", "img1.png", "img2.png", "img0.png"]


def test_bench_scores_each_method_per_bin_and_writes_a_sheet(tmp_path: Path) -> None:
    data, masks, out = tmp_path / "data", tmp_path / "masks", tmp_path / "out"
    data.mkdir()
    masks.mkdir()
    yy, xx = np.mgrid[0:72, 0:96]
    stripes = (127 + 100 * np.sin(xx * 2 * np.pi / 8)).astype(np.uint8)
    for i in range(2):
        cv2.imwrite(str(data / f"{i}.png"), np.dstack([stripes, np.roll(stripes, 3 * i, 1),
                                                       255 - stripes]))
    small = np.zeros((64, 64), np.uint8)
    small[30:34, 10:50] = 255                                   # 1-10 % of the image
    large = np.zeros((64, 64), np.uint8)
    large[16:40, 20:44] = 255                                   # 10-20 %
    cv2.imwrite(str(masks / "00000.png"), small)
    cv2.imwrite(str(masks / "02000.png"), large)
    lines: list[str] = []
    rows = run_inpaint_bench(data, masks, methods=["structured", "exemplar", "opencv-telea",
                                                   "opencv-ns", "gmic-inpaint_patch"],
                             out_dir=out, log=lines.append)
    by = {(r["method"], r["bin"]): r for r in rows}
    assert set(by) >= {(m, b) for m in ("structured", "exemplar", "opencv-telea", "opencv-ns")
                       for b in (0, 1, "all")}
    assert all(np.isfinite(r["psnr"]) and np.isfinite(r["swd"]) and r["pairs"] >= 1
               for r in rows)
    # Periodic stripes: copying patches beats diffusion on the large hole, on every measure.
    for ours in ("structured", "exemplar"):
        assert by[(ours, 1)]["psnr"] > by[("opencv-telea", 1)]["psnr"] + 5
        assert by[(ours, 1)]["detail"] > by[("opencv-telea", 1)]["detail"] + 0.2
        assert by[(ours, 1)]["swd"] < 0.5 * by[("opencv-telea", 1)]["swd"]
    assert len(lines) == 2 * len({r["method"] for r in rows})
    sheet = cv2.imread(str(out / "inpaint_contact.png"))
    methods = len({r["method"] for r in rows})
    assert sheet.shape[1] == 240 * (methods + 1) and sheet.shape[0] == 24 + 2 * 240
    saved = json.loads((out / "inpaint_bench.json").read_text())
    assert saved["pairs"] == 2 and saved["rows"] == rows
    table = format_table(rows)
    assert "1-10%" in table and "10-20%" in table and "structured" in table
    assert "patch SWD" in table and "detail" in table and "masked PSNR" in table
    swd_line = next(line for line in table.splitlines()[2:] if line.startswith("10-20%"))
    assert swd_line.split()[2] == f"{by[('structured', 1)]['swd']:.0f}"


def test_megapixels_enlarges_the_photos_before_the_holes_are_cut(tmp_path: Path,
                                                                 monkeypatch) -> None:
    data, masks = tmp_path / "data", tmp_path / "masks"
    data.mkdir()
    masks.mkdir()
    cv2.imwrite(str(data / "0.png"), np.full((40, 60, 3), 128, np.uint8))
    mask = np.zeros((64, 64), np.uint8)
    mask[20:40, 20:40] = 255
    cv2.imwrite(str(masks / "02000.png"), mask)
    seen: list[tuple[int, ...]] = []

    import engine.bench.inpaint as bench

    def probe(damaged, hole):
        seen.append(damaged.shape)
        return damaged

    monkeypatch.setattr(bench, "available_methods", lambda methods, device: {"probe": probe})
    run_inpaint_bench(data, masks, megapixels=0.0096)
    assert seen == [(80, 120, 3)]                    # 4× the pixels, same aspect
