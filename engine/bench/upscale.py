"""``pixelmend bench upscale``: learned upscaling against bicubic and Lanczos interpolation.

The protocol of the super-resolution literature: each ground-truth image is cropped to a multiple
of the factor, shrunk by MATLAB-style antialiased bicubic
(:func:`engine.core.resample.bicubic_downscale`), enlarged back by each method through the
``upscale`` op, and compared with the truth with ``scale`` pixels shaved off every edge. PSNR is
given on RGB (grey images: their one channel) and on the luma Y of ITU-R BT.601 (the figure SR
papers print), SSIM on RGB. ``s/MP`` is the median time per output megapixel. ``--megapixels N``
also times the learned ×2 on one image of N output megapixels (the first image tiled by
mirroring), the size of a modern photo. ``--out DIR`` writes a contact sheet: a detailed crop of
the first images at the largest factor, truth beside each method.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.bench.common import BenchError, list_images, load_truth, write_json_report
from engine.core.metrics import psnr, ssim
from engine.core.resample import bicubic_downscale, modcrop
from engine.ops import run_op

__all__ = ["METHODS", "add_suite_arguments", "format_table", "luma", "run_upscale_bench",
           "suite", "time_large"]

METHODS = ("learned", "bicubic", "lanczos")
_SHEET_IMAGES = 4
_CROP = 96


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in [0, 1] of an RGB image (a grey image is its own)."""
    if image.shape[2] == 1:
        return image[:, :, 0]
    weights = np.array([65.481, 128.553, 24.966], np.float64) / 255.0
    return ((16.0 + 255.0 * (image.astype(np.float64) @ weights)) / 255.0).astype(np.float32)


def _shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border]


def _detailed_crop(image: np.ndarray, size: int) -> tuple[slice, slice]:
    """The ``size``-px square with the most gradient energy (where methods differ most)."""
    size = min(size, *image.shape[:2])
    grey = image.mean(axis=2)
    energy = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    box = cv2.boxFilter(energy, -1, (size, size), normalize=True, anchor=(0, 0),
                        borderType=cv2.BORDER_CONSTANT)
    inner = box[:image.shape[0] - size + 1, :image.shape[1] - size + 1]
    y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return slice(y, y + size), slice(x, x + size)


def _sheet(rows: list[list[np.ndarray]], labels: Sequence[str], path: Path,
           cell: int = 288) -> Path:
    def fit(image: np.ndarray) -> np.ndarray:
        rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        return cv2.resize(rgb, (cell, cell), interpolation=cv2.INTER_NEAREST)

    header = np.ones((24, cell * len(labels), 3), np.float32)
    grid = np.concatenate([header] + [np.concatenate([fit(i) for i in row], axis=1)
                                      for row in rows], axis=0)
    grid = np.ascontiguousarray((np.clip(grid, 0, 1) * 255).astype(np.uint8)[:, :, ::-1])
    for i, label in enumerate(labels):
        cv2.putText(grid, label, (i * cell + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)
    return path


def run_upscale_bench(data_dir: Path | str, *, scales: Sequence[int] = (2, 3, 4),
                      methods: Sequence[str] = METHODS, limit: int | None = None,
                      device: str | None = None, out_dir: Path | str | None = None,
                      log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every method at every factor on the images of ``data_dir``.

    Returns
    -------
    dict
        ``rows``: one per (method, scale) with ``psnr``, ``psnr_y``, ``ssim``, ``s_per_mp``,
        ``images``; ``images``: the per-image PSNR; ``sheet``: the contact sheet's path or None.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise BenchError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    files = list_images(data_dir, limit)
    scores: dict[tuple[str, int], dict[str, list[float]]] = {
        (m, s): {"psnr": [], "psnr_y": [], "ssim": [], "s_per_mp": []}
        for m in methods for s in scales}
    per_image: list[dict[str, Any]] = []
    sheet_rows: list[list[np.ndarray]] = []
    top = max(scales)
    for index, path in enumerate(files):
        truth_full = load_truth(path)
        record: dict[str, Any] = {"image": path.name}
        for scale in scales:
            truth = modcrop(truth_full, scale)
            small = np.clip(bicubic_downscale(truth, scale), 0.0, 1.0)
            outputs = {}
            for method in methods:
                started = time.perf_counter()
                out = run_op("upscale", small, params={"scale": scale, "method": method},
                             device=device).image
                seconds = time.perf_counter() - started
                outputs[method] = out
                entry = scores[(method, scale)]
                entry["psnr"].append(psnr(_shave(out, scale), _shave(truth, scale)))
                entry["psnr_y"].append(psnr(_shave(luma(out), scale), _shave(luma(truth), scale)))
                entry["ssim"].append(ssim(_shave(out, scale), _shave(truth, scale)))
                entry["s_per_mp"].append(seconds / (out.shape[0] * out.shape[1] / 1e6))
                record[f"{method}_x{scale}"] = round(entry["psnr"][-1], 3)
            if out_dir is not None and scale == top and index < _SHEET_IMAGES:
                rows, cols = _detailed_crop(truth, _CROP)
                sheet_rows.append([outputs[m][rows, cols] for m in methods] + [truth[rows, cols]])
        per_image.append(record)
        if log:
            log(f"{index + 1}/{len(files)} {path.name}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in record.items() if k != "image"))
    table = []
    for (method, scale), entry in scores.items():
        table.append({"method": method, "scale": scale, "images": len(entry["psnr"]),
                      "psnr": float(np.mean(entry["psnr"])),
                      "psnr_y": float(np.mean(entry["psnr_y"])),
                      "ssim": float(np.mean(entry["ssim"])),
                      "s_per_mp": float(np.median(entry["s_per_mp"]))})
    sheet = None
    if out_dir is not None and sheet_rows:
        sheet = str(_sheet(sheet_rows, [f"{m} x{top}" for m in methods] + ["truth"],
                           Path(out_dir) / f"upscale_x{top}_contact.png"))
    return {"rows": table, "images": per_image, "sheet": sheet}


def time_large(path: Path, megapixels: float, *, scale: int = 2, device: str | None = None
               ) -> dict[str, Any]:
    """Seconds the learned ``scale``× takes to make an image of ``megapixels`` output MP (the
    image at ``path`` mirrored to the input size that needs)."""
    image = load_truth(path)
    side = math.sqrt(megapixels * 1e6 / (4.0 / 3.0)) / scale  # a 4:3 photo
    height, width = int(side), int(side * 4.0 / 3.0)
    mirrored = np.concatenate([image, image[::-1]], axis=0)  # no seam where copies meet
    reps = (math.ceil(height / mirrored.shape[0]), math.ceil(width / mirrored.shape[1]), 1)
    tiles = np.tile(mirrored, reps)
    large = np.ascontiguousarray(tiles[:height, :width])
    started = time.perf_counter()
    out = run_op("upscale", large, params={"scale": scale, "method": "learned"},
                 device=device).image
    seconds = time.perf_counter() - started
    return {"input": [width, height], "output": [out.shape[1], out.shape[0]],
            "output_mp": round(out.shape[0] * out.shape[1] / 1e6, 2), "scale": scale,
            "seconds": round(seconds, 2)}


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table, with each method's gain over bicubic."""
    base = {r["scale"]: r["psnr"] for r in rows if r["method"] == "bicubic"}
    lines = [f"{'method':<9} {'scale':>5} {'PSNR':>7} {'PSNR-Y':>7} {'SSIM':>6} "
             f"{'vs bicubic':>10} {'s/MP':>6}"]
    for r in sorted(rows, key=lambda r: (r["scale"], r["method"])):
        gain = f"{r['psnr'] - base[r['scale']]:+.2f}" if r["scale"] in base else "-"
        lines.append(f"{r['method']:<9} x{r['scale']:<4} {r['psnr']:7.2f} {r['psnr_y']:7.2f} "
                     f"{r['ssim']:6.4f} {gain:>10} {r['s_per_mp']:6.2f}")
    return "\n".join(lines)


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench upscale`` beyond the common ones."""
    parser.add_argument("--scales", metavar="A,B", default="2,3,4",
                        help="factors to measure (default 2,3,4)")
    parser.add_argument("--megapixels", type=float, metavar="N", default=None,
                        help="also time the learned x2 making an N-megapixel image")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for the contact sheet PNG")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench upscale --data DIR``: PSNR/SSIM and speed of every method."""
    from engine.bench.common import device_from_args

    try:
        scales = [int(s) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        raise BenchError(f"--scales takes integers such as 2,3,4, not {args.scales!r}") from None
    if not scales or any(s not in (2, 3, 4) for s in scales):
        raise BenchError("--scales takes 2, 3 and/or 4")
    methods = [m for m in args.ops.split(",") if m] if args.ops else list(METHODS)
    device = device_from_args(args)
    report = run_upscale_bench(
        args.data, scales=scales, methods=methods, limit=args.limit, device=device,
        out_dir=args.out,
        log=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
    print(format_table(report["rows"]))
    extra: dict[str, Any] = {"images": report["images"]}
    if report["sheet"]:
        print(f"contact sheet: {report['sheet']}")
    if args.megapixels:
        timing = time_large(list_images(args.data, 1)[0], args.megapixels, device=device)
        print(f"learned x{timing['scale']}: {timing['input'][0]}×{timing['input'][1]} → "
              f"{timing['output'][0]}×{timing['output'][1]} ({timing['output_mp']} MP) "
              f"in {timing['seconds']} s")
        extra["large"] = timing
    write_json_report(args, "upscale", report["rows"], **extra)
    return 0
