"""Inpainting benchmark: our methods and the peers that run here, on the same holes.

Each NVIDIA irregular mask (white = hole; 512 × 512) is **resized with nearest-neighbour to the
image's size** (so the hole keeps its area fraction, at the price of a mild anisotropic stretch
on the 481 × 321 BSD photos) and applied to one image. Masks are paired with images in a
round-robin over the hole-size bins (NVIDIA index // 2000: 0 = 1–10 % of the image, 1 = 10–20 %,
…, 5 = 50–60 %; within a bin, inner and border-touching masks alternate), so a ``limit`` keeps
every bin represented: pair *k* takes the *k*-th mask in that order and image *k* mod (number of
images).

Methods: ``auto`` (the default), ``structured``, ``exemplar`` and ``learned`` through the
``inpaint`` op (crops and all, as a person runs them); peers run the way their users run them:
OpenCV ``cv2.inpaint`` Telea and Navier–Stokes on the 8-bit RGB image (radius 5), and
``gmic <in> <mask> inpaint_patch`` when the ``gmic`` command is on PATH (skipped otherwise).

Scores, inside the hole only (the rest is identical by construction):

- *patch SWD* (:func:`engine.core.swd.hole_swd`): sliced Wasserstein distance ×10³ between the
  7×7 patches centred inside the hole in the result and in the truth, over a 3-level Laplacian
  pyramid. Lower is better; blur and smears score high. The perceptual measure.
- *detail* (:func:`engine.core.metrics.detail_ratio`): the fill's mean gradient magnitude over
  the truth's (below 1: smoother than the truth).
- masked PSNR and SSIM: fidelity. PSNR inside a hole rewards a smooth guess, so read it beside
  the two above, never alone.
- wall and CPU seconds per image (on a shared machine the CPU time is the steadier figure).

A contact sheet (one row per bin: the input with its hole in magenta, then each method) is
written to ``out_dir`` with the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine import io
from engine.bench.common import list_images, load_truth
from engine.core.metrics import detail_ratio, masked_psnr, ssim_map
from engine.core.pixels import to_uint8
from engine.core.swd import hole_swd

__all__ = ["BIN_LABELS", "MEASURES", "available_methods", "format_table", "pair_up",
           "run_inpaint_bench"]

BIN_LABELS = {0: "1-10%", 1: "10-20%", 2: "20-30%", 3: "30-40%", 4: "40-50%", 5: "50-60%"}
OURS = ("auto", "structured", "exemplar", "learned")
MEASURES = (("swd", "patch SWD inside the hole (x1000, lower is better)", "{:.0f}"),
            ("detail", "detail: gradient energy inside the hole, fill / truth", "{:.2f}"),
            ("psnr", "masked PSNR (dB)", "{:.2f}"),
            ("ssim", "masked SSIM", "{:.3f}"),
            ("seconds", "seconds per image (wall; CPU time in the JSON)", "{:.2f}"))
"""The table's blocks: key in the rows, title, format."""

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _mask_bin(path: Path) -> int:
    try:
        return int(path.stem) // 2000
    except ValueError:
        return -1


def _interleaved(path: Path) -> tuple[int, int, str]:
    """Sort key alternating NVIDIA's inner (idx % 2000 < 1000) and border-touching masks."""
    try:
        number = int(path.stem)
    except ValueError:
        return (0, 0, path.name)
    return (number % 1000, number, path.name)


def pair_up(images: Sequence[Path], masks: Sequence[Path], limit: int | None = None
            ) -> list[tuple[Path, Path, int]]:
    """``(image, mask, bin)`` pairs, round-robin over the bins, at most ``limit`` of them.

    Within a bin, masks whose holes stay inside the image and masks touching its border
    alternate.
    """
    by_bin: dict[int, list[Path]] = {}
    for mask in sorted(masks, key=_interleaved):
        by_bin.setdefault(_mask_bin(mask), []).append(mask)
    order: list[tuple[Path, int]] = []
    depth = max(len(v) for v in by_bin.values())
    for k in range(depth):
        for b in sorted(by_bin):
            if k < len(by_bin[b]):
                order.append((by_bin[b][k], b))
    if limit is not None:
        order = order[:limit]
    return [(images[k % len(images)], mask, b) for k, (mask, b) in enumerate(order)]


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A mask image (white = hole), resized to ``shape`` by nearest neighbour."""
    pixels = to_uint8(io.load(path).pixels)
    grey = pixels[:, :, 0] if pixels.shape[2] in (1, 2) else cv2.cvtColor(
        np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY)
    resized = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return resized > 127


def _ours(method: str, device: str | None) -> Method:
    from engine.ops import run_op

    def run(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return run_op("inpaint", image, hole, {"method": method}, device=device).image

    return run


def _opencv(flag: int) -> Method:
    def run(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        rgb8 = np.rint(image * 255).astype(np.uint8)
        out = cv2.inpaint(rgb8, hole.astype(np.uint8), 5.0, flag)
        return out.astype(np.float32) / np.float32(255.0)

    return run


_GMIC_PATCH_COMMANDS = (("inpaint_patch[0]", "[1],7"), ("inpaint[0]", "[1],7"))
"""G'MIC's patch-based inpainting: ``inpaint_patch`` in recent releases; older ones (2.9, as
packaged by Debian 12) spell it ``inpaint [mask],patch_size`` (a patch size ≥ 1 selects the
patch-based algorithm)."""


def _gmic(executable: str) -> Method:
    commands = list(_GMIC_PATCH_COMMANDS)

    def run(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as folder:
            src, mask, dst = (str(Path(folder) / n) for n in ("in.png", "mask.png", "out.png"))
            cv2.imwrite(src, np.rint(image[:, :, ::-1] * 255).astype(np.uint8))
            cv2.imwrite(mask, hole.astype(np.uint8) * 255)
            while True:
                done = subprocess.run([executable, "-v", "-", src, mask, *commands[0], "rm[1]",
                                       "o", dst], capture_output=True, text=True, timeout=600)
                if done.returncode == 0:
                    break
                if "Unknown command" in done.stderr and len(commands) > 1:
                    commands.pop(0)  # this gmic predates the name; use the next spelling
                    continue
                raise RuntimeError(f"gmic failed ({done.returncode}): "
                                   f"{done.stderr.strip()[-200:]}")
            out = cv2.imread(dst, cv2.IMREAD_COLOR)
        if out is None:
            raise RuntimeError("gmic wrote no image")
        return out[:, :, ::-1].astype(np.float32) / np.float32(255.0)

    return run


def available_methods(methods: Sequence[str] | None = None, device: str | None = None
                      ) -> dict[str, Method]:
    """The methods to run, by label: ours, then OpenCV, then G'MIC when ``gmic`` is on PATH."""
    table: dict[str, Method] = {name: _ours(name, device) for name in OURS}
    table["opencv-telea"] = _opencv(cv2.INPAINT_TELEA)
    table["opencv-ns"] = _opencv(cv2.INPAINT_NS)
    gmic = shutil.which("gmic")
    if gmic:
        table["gmic-inpaint_patch"] = _gmic(gmic)
    if methods:
        unknown = [m for m in methods if m not in table and m != "gmic-inpaint_patch"]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {sorted(table)}")
        table = {k: v for k, v in table.items() if k in methods}
    return table


def _magenta(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    shown = image.copy()
    shown[hole] = (1.0, 0.0, 1.0)
    return shown


def _contact_sheet(rows: list[list[np.ndarray]], labels: Sequence[str], path: Path,
                   cell: int = 240) -> None:
    def fit(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = cell / max(h, w)
        small = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        canvas = np.ones((cell, cell, 3), np.float32)
        top, left = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
        canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
        return canvas

    header = np.ones((24, cell * len(labels), 3), np.float32)
    sheet = [header] + [np.concatenate([fit(image) for image in row], axis=1) for row in rows]
    grid = (np.clip(np.concatenate(sheet, axis=0), 0, 1) * 255).astype(np.uint8)[:, :, ::-1]
    grid = np.ascontiguousarray(grid)
    for i, label in enumerate(labels):
        cv2.putText(grid, label, (i * cell + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)


def run_inpaint_bench(data_dir: Path | str, masks_dir: Path | str, *, limit: int | None = None,
                      methods: Sequence[str] | None = None, out_dir: Path | str | None = None,
                      device: str | None = None, megapixels: float | None = None,
                      log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run every method on every image×mask pair; return one row per (method, bin).

    Parameters
    ----------
    data_dir : path
        Folder of clean images (e.g. ``shared/data/cbsd68``).
    masks_dir : path
        Folder of NVIDIA irregular masks (``NNNNN.png``, white = hole).
    limit : int, optional
        Number of image×mask pairs (round-robin over the bins).
    methods : sequence of str, optional
        Labels to run (see :func:`available_methods`); all by default.
    out_dir : path, optional
        Where to write ``inpaint_contact.png`` and ``inpaint_bench.json``.
    device : str, optional
        Device for our methods.
    megapixels : float, optional
        Enlarge every photo (bicubic) to about this many megapixels before the hole is cut:
        the speed of a fill at a camera's size (a 1 MP photo with a 20 % hole should take at
        most 5 s on 2 cores), with the same holes in proportion.
    log : callable, optional
        Called with one line per pair (the CLI prints them).

    Returns
    -------
    list of dict
        ``method``, ``bin`` (int, or ``"all"``), ``pairs``, ``swd`` (in-hole patch SWD),
        ``detail``, ``psnr``, ``ssim``, ``seconds``, ``cpu_seconds`` (means over the pairs).
    """
    table = available_methods(methods, device)
    pairs = pair_up(list_images(Path(data_dir)), list_images(Path(masks_dir)), limit)
    scores: dict[tuple[str, int], list[tuple[float, ...]]] = {}
    sheet_rows: dict[int, list[np.ndarray]] = {}
    for index, (image_path, mask_path, b) in enumerate(pairs):
        truth = load_truth(image_path)
        if truth.shape[2] == 1:
            truth = np.repeat(truth, 3, axis=2)
        if megapixels:
            factor = (megapixels * 1e6 / (truth.shape[0] * truth.shape[1])) ** 0.5
            size = (round(truth.shape[1] * factor), round(truth.shape[0] * factor))
            truth = np.clip(cv2.resize(truth, size, interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
        hole = _read_mask(mask_path, truth.shape[:2])
        if not hole.any() or hole.all():
            continue
        damaged = truth.copy()
        damaged[hole] = 0.0
        row = [_magenta(truth, hole)]
        for label, run in table.items():
            started, cpu = time.perf_counter(), _cpu_seconds()
            result = run(damaged, hole)
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
            result = np.where(hole[:, :, None], result, truth).astype(np.float32)
            psnr = masked_psnr(result, truth, hole)
            ssim = float(np.mean(ssim_map(result, truth)[hole]))
            detail = detail_ratio(result, truth, hole)
            swd = hole_swd(result, truth, hole)
            scores.setdefault((label, b), []).append((psnr, ssim, detail, seconds, cpu, swd))
            row.append(result)
            if log:
                log(f"[{index + 1}/{len(pairs)}] {image_path.name} × {mask_path.name} "
                    f"(bin {b}, hole {hole.mean():.1%}) {label}: patch SWD {swd:.0f}, "
                    f"detail {detail:.2f}, {psnr:.2f} dB, SSIM {ssim:.3f}, {seconds:.2f} s "
                    f"(CPU {cpu:.2f} s)")
        sheet_rows.setdefault(b, row)
    rows: list[dict[str, Any]] = []
    for label in table:
        every: list[tuple[float, ...]] = []
        for b in sorted({b for (_, b) in scores}):
            values = scores.get((label, b), [])
            every += values
            if values:
                rows.append(_row(label, b, values))
        if every:
            rows.append(_row(label, "all", every))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _contact_sheet([sheet_rows[b] for b in sorted(sheet_rows)], ["input", *table],
                       out / "inpaint_contact.png")
        (out / "inpaint_bench.json").write_text(json.dumps(
            {"pairs": len(pairs), "mask_resize": "nearest-neighbour to the image size",
             "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return rows


def _row(label: str, b: int | str, values: list[tuple[float, ...]]) -> dict[str, Any]:
    array = np.array(values, dtype=np.float64)
    return {"method": label, "bin": b, "pairs": len(values),
            "psnr": float(array[:, 0].mean()), "ssim": float(array[:, 1].mean()),
            "detail": float(array[:, 2].mean()), "seconds": float(array[:, 3].mean()),
            "cpu_seconds": float(array[:, 4].mean()), "swd": float(array[:, 5].mean())}


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (a peer command runs as one)."""
    own = time.process_time()
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own + usage.ru_utime + usage.ru_stime
    except (ImportError, OSError):
        return own


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: one block per measure (:data:`MEASURES`), a line per bin, a column
    per method."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    bins = list(dict.fromkeys(r["bin"] for r in rows))
    by = {(r["method"], r["bin"]): r for r in rows}
    width = max(10, *(len(m) + 2 for m in methods))
    lines = []
    for key, title, form in MEASURES:
        lines += ["", title,
                  f"{'hole bin':<10}{'pairs':>6}" + "".join(f"{m:>{width}}" for m in methods)]
        for b in bins:
            label = BIN_LABELS.get(b, str(b)) if isinstance(b, int) else str(b)
            pairs = next((by[(m, b)]["pairs"] for m in methods if (m, b) in by), 0)
            cells = [(form.format(by[(m, b)][key]) if (m, b) in by else "-").rjust(width)
                     for m in methods]
            lines.append(f"{label:<10}{pairs:>6}" + "".join(cells))
    return "\n".join(lines[1:])


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench inpaint`` beyond the common ones."""
    parser.add_argument("--masks", metavar="DIR", required=True,
                        help="folder of hole masks, white = hole (e.g. NVIDIA irregular masks)")
    parser.add_argument("--methods", metavar="A,B", default=None,
                        help="methods to compare (default: ours and every peer found here)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for the contact sheet PNG")
    parser.add_argument("--megapixels", metavar="MP", type=float, default=None,
                        help="enlarge each photo to about MP megapixels first (speed at a "
                             "camera's size)")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench inpaint --data DIR --masks DIR``: patch SWD, detail, PSNR and SSIM in
    the hole per size bin."""
    from engine.bench.common import write_json_report

    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    rows = run_inpaint_bench(args.data, args.masks, limit=args.limit, methods=methods,
                             out_dir=args.out, device=args.device, megapixels=args.megapixels,
                             log=None if args.quiet else
                             (lambda line: print(line, file=sys.stderr, flush=True)))
    print(format_table(rows))
    write_json_report(args, "inpaint", rows)
    return 0
