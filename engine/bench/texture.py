"""The texture benchmark: GAN, image quilting and (when installed) G'MIC on a folder of samples.

For every image in the folder the sample is downscaled so its short side is at most 256 px,
then each method synthesises a ``size×size`` texture with a fixed seed:

* ``gan``: what the ``texture_gan`` op gives by default:
  :func:`engine.ops.texture.gan.train_texture_gan` for ``gan_seconds`` (the device's default when
  omitted), then :func:`engine.ops.texture.layouts.rebuild_gan_texture` (the best of 32 GAN
  layouts, rebuilt from the sample's patches); ``gan_raw`` is the generator's plain output
  (:func:`~engine.ops.texture.gan.generate_texture`) for the same seed;
* ``quilt``: :func:`engine.ops.texture.quilting.quilt` with its default block and overlap (the
  ``texture_patch`` op's default method);
* ``pm``: :func:`engine.ops.texture.layouts.synthesise_texture` (``texture_patch`` with
  ``method=patchmatch``);
* ``gmic``: ``gmic <sample> syntexturize_matchpatch size,size`` when ``gmic`` is on the PATH.

Each output is scored by :func:`engine.core.swd.swd` against the sample (lower is better).
``swd_halves``, the distance between the left and right halves of the sample, shows how much
the sample differs from itself (on small or non-stationary samples it can exceed a good
synthesis's score, so it is a scale, not a floor). The GAN, quilting and patchmatch also make a
tileable texture, whose seam statistic (:func:`engine.core.swd.seam_error`) is reported as ``z``:
the seam's step minus the mean interior step, in standard deviations of the interior steps
(within about ±3: the seam is like any interior line). Times are wall seconds (for the GAN:
its training time plus generation and rebuild). A contact sheet (sample | GAN raw | GAN |
quilting | patchmatch | G'MIC) is written to ``out_dir``. With ``models_dir`` every trained
GAN is saved there and reused by later runs with the same seed and budget, so generation can
be re-measured without training again.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.core.progress import Progress, null_progress

__all__ = ["COLUMNS", "SAMPLE_EDGE", "format_table", "run_texture_bench"]

SAMPLE_EDGE = 256
"""Samples are downscaled so their short side is at most this many pixels."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("image", "image", "{}"),
    ("swd_gan_raw", "SWD gan raw", "{:.1f}"),
    ("swd_gan", "SWD gan", "{:.1f}"),
    ("swd_quilt", "SWD quilt", "{:.1f}"),
    ("swd_pm", "SWD pm", "{:.1f}"),
    ("swd_gmic", "SWD gmic", "{:.1f}"),
    ("swd_halves", "SWD halves", "{:.1f}"),
    ("seam_gan", "seam z gan", "{:+.1f}"),
    ("seam_quilt", "seam z quilt", "{:+.1f}"),
    ("seam_pm", "seam z pm", "{:+.1f}"),
    ("seconds_gan", "s gan", "{:.1f}"),
    ("seconds_quilt", "s quilt", "{:.1f}"),
    ("seconds_pm", "s pm", "{:.1f}"),
    ("seconds_gmic", "s gmic", "{:.1f}"),
)
"""Table columns: row key, header, number format."""

SHEET_TITLES = ("sample", "GAN raw", "GAN (op)", "quilting", "patchmatch", "G'MIC")
"""Column titles of the contact sheet."""


def _load_sample(path: Path) -> np.ndarray:
    from engine.bench.common import load_truth

    sample = load_truth(path)
    h, w = sample.shape[:2]
    scale = SAMPLE_EDGE / min(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        sample = cv2.resize(sample, size, interpolation=cv2.INTER_AREA)
        sample = sample.reshape(size[1], size[0], -1).astype(np.float32)
    return np.ascontiguousarray(np.clip(sample, 0.0, 1.0), dtype=np.float32)


def _run_gmic(sample: np.ndarray, size: int, seed: int) -> tuple[np.ndarray | None, str]:
    """``gmic syntexturize_matchpatch`` on the sample; (texture or None, error message)."""
    from engine.core.pixels import split_alpha, to_float, to_uint8
    from engine.io import load, save

    with tempfile.TemporaryDirectory(prefix="pixelmend-gmic-") as folder:
        source = Path(folder) / "sample.png"
        target = Path(folder) / "texture.png"
        save(source, to_uint8(sample))
        command = ["gmic", "-v", "-", str(source), "srand", str(seed),
                   "syntexturize_matchpatch", f"{size},{size}", "-o", str(target)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"gmic failed: {error}"
        if done.returncode != 0 or not target.exists():
            return None, f"gmic failed ({done.returncode}): {done.stderr.strip()[-200:]}"
        colour, _ = split_alpha(load(target).pixels)
        texture = to_float(colour)
    if texture.shape[2] != sample.shape[2]:
        texture = (texture.mean(axis=2, keepdims=True) if sample.shape[2] == 1
                   else np.repeat(texture[:, :, :1], 3, axis=2))
    if texture.shape[:2] != (size, size):
        texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_AREA)
        texture = texture.reshape(size, size, -1)
    return texture.astype(np.float32), ""


def run_texture_bench(data_dir: str | Path, *, limit: int | None = None, size: int = 256,
                      out_dir: str | Path | None = None, gan_seconds: float | None = None,
                      device: str | None = None, seed: int = 0,
                      models_dir: str | Path | None = None, layouts: int | None = None,
                      progress: Progress = null_progress) -> list[dict[str, Any]]:
    """Synthesise every texture in ``data_dir`` with each method and measure it.

    Parameters
    ----------
    data_dir : str or Path
        Folder of texture samples (PNG, JPEG, …).
    limit : int, optional
        Only the first ``limit`` images (sorted by name).
    size : int
        Edge of the synthesised squares.
    out_dir : str or Path, optional
        Where to write ``texture_contact_sheet.png``; nothing is written when omitted.
    gan_seconds : float, optional
        GAN training time per sample; the device's default when omitted
        (:func:`engine.ops.texture.gan.default_train_seconds`); 0 skips the GAN.
    device : str, optional
        Device for the GAN (:func:`engine.core.device.select_device`).
    seed : int
        Seeds every method.
    layouts : int, optional
        Candidate layouts of the GAN op and of patchmatch
        (:data:`engine.ops.texture.layouts.LAYOUTS` when omitted).
    models_dir : str or Path, optional
        Keep the trained GANs here (``<image stem>-<seed>-<seconds>s.safetensors``) and reuse
        them when present.
    progress : callable
        Told which sample and method is running.

    Returns
    -------
    list of dict
        One row per image with the keys of :data:`COLUMNS` (None where a method did not run),
        plus ``sample`` (its size), ``seam`` details and ``errors``.
    """
    from engine.bench.common import image_seed, list_images
    from engine.core.atomic import atomic_write
    from engine.core.device import select_device
    from engine.core.swd import seam_error, swd
    from engine.ops.texture.gan import (
        TextureGANConfig,
        TextureModel,
        default_train_seconds,
        generate_texture,
        resolve_model_size,
        train_texture_gan,
    )
    from engine.ops.texture.layouts import LAYOUTS, rebuild_gan_texture, synthesise_texture
    from engine.ops.texture.quilting import quilt

    paths = list_images(data_dir, limit)
    torch_device = select_device(device)
    budget = default_train_seconds(torch_device) if gan_seconds is None else float(gan_seconds)
    has_gmic = shutil.which("gmic") is not None
    layouts = LAYOUTS if layouts is None else int(layouts)
    rows: list[dict[str, Any]] = []
    sheet: list[list[np.ndarray | None]] = []
    for index, path in enumerate(paths):
        sample = _load_sample(path)
        row_seed = image_seed(path, seed)
        row: dict[str, Any] = {key: None for key, _, _ in COLUMNS}
        row.update(image=path.name, sample=f"{sample.shape[1]}×{sample.shape[0]}", errors=[],
                   seam={})
        half = sample.shape[1] // 2
        row["swd_halves"] = swd(sample[:, :half], sample[:, half:2 * half])
        images: list[np.ndarray | None] = [sample, None, None, None, None, None]

        def report(method: str, i: int = index, name: str = path.name) -> None:
            progress(i / len(paths), f"{name}: {method}")

        if budget > 0:
            report("GAN")
            config = TextureGANConfig.preset(resolve_model_size("auto", torch_device),
                                             sample.shape[2])
            kept = (None if models_dir is None else
                    Path(models_dir) / f"{path.stem}-{row_seed}-{budget:g}s.safetensors")
            if kept is not None and kept.exists():
                model = TextureModel.from_bytes(kept.read_bytes())
            else:
                model = train_texture_gan(sample, config=config, seconds=budget, seed=row_seed,
                                          device=torch_device)
                if kept is not None:
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_write(kept) as handle:
                        handle.write(model.to_bytes(training_state=False))
            started = time.perf_counter()
            texture = rebuild_gan_texture(model, sample, size, size, layouts=layouts,
                                          seed=row_seed, device=torch_device)
            row["seconds_gan"] = model.seconds + time.perf_counter() - started
            raw = generate_texture(model, size, size, seed=row_seed, device=torch_device)
            row["swd_gan_raw"] = swd(sample, raw)
            row["swd_gan"] = swd(sample, texture)
            tiled = generate_texture(model, size, size, seed=row_seed, tileable=True,
                                     device=torch_device)
            row["seam"]["gan_raw"] = seam_error(tiled).as_dict()
            tiled = rebuild_gan_texture(model, sample, size, size, tileable=True,
                                        layouts=layouts, seed=row_seed, device=torch_device)
            row["seam"]["gan"] = seam_error(tiled).as_dict()
            row["seam_gan"] = row["seam"]["gan"]["z"]
            row["gan_steps"] = model.steps
            row["gan_train_seconds"] = model.seconds
            images[1], images[2] = raw, texture

        report("quilting")
        started = time.perf_counter()
        texture = quilt(sample, size, size, seed=row_seed)
        row["seconds_quilt"] = time.perf_counter() - started
        row["swd_quilt"] = swd(sample, texture)
        row["seam"]["quilt"] = seam_error(quilt(sample, size, size, seed=row_seed,
                                                tileable=True)).as_dict()
        row["seam_quilt"] = row["seam"]["quilt"]["z"]
        images[3] = texture

        report("patchmatch")
        started = time.perf_counter()
        texture = synthesise_texture(sample, size, size, layouts=layouts, seed=row_seed,
                                     device=torch_device)
        row["seconds_pm"] = time.perf_counter() - started
        row["swd_pm"] = swd(sample, texture)
        row["seam"]["pm"] = seam_error(synthesise_texture(
            sample, size, size, periodic=True, layouts=layouts, seed=row_seed,
            device=torch_device)).as_dict()
        row["seam_pm"] = row["seam"]["pm"]["z"]
        images[4] = texture

        if has_gmic:
            report("G'MIC")
            started = time.perf_counter()
            texture, error = _run_gmic(sample, size, row_seed)
            if texture is None:
                row["errors"].append(error)
            else:
                row["seconds_gmic"] = time.perf_counter() - started
                row["swd_gmic"] = swd(sample, texture)
                images[5] = texture
        rows.append(row)
        sheet.append(images)
    progress(1.0, "done")
    if out_dir is not None:
        _write_contact_sheet(Path(out_dir) / "texture_contact_sheet.png", sheet, rows, size)
    return rows


def _tile_for_sheet(image: np.ndarray | None, size: int) -> np.ndarray:
    from engine.core.pixels import to_uint8

    if image is None:
        tile = np.full((size, size, 3), 128, np.uint8)
        cv2.putText(tile, "n/a", (size // 2 - 20, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (80, 80, 80), 2)
        return tile
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h, w = image.shape[:2]
    edge = min(h, w)
    top, left = (h - edge) // 2, (w - edge) // 2
    square = np.ascontiguousarray(image[top:top + edge, left:left + edge])
    if edge != size:
        square = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return to_uint8(np.clip(square.reshape(size, size, 3), 0.0, 1.0))


def _write_contact_sheet(path: Path, sheet: list[list[np.ndarray | None]],
                         rows: list[dict[str, Any]], size: int) -> None:
    from engine.io import save

    header = np.full((28, len(SHEET_TITLES) * size, 3), 255, np.uint8)
    for column, title in enumerate(SHEET_TITLES):
        cv2.putText(header, title, (column * size + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 0), 1)
    lines = [header]
    for images, row in zip(sheet, rows, strict=True):
        line = np.ascontiguousarray(np.hstack([_tile_for_sheet(image, size) for image in images]))
        cv2.putText(line, row["image"][:28], (6, size - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 0), 1)
        lines.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, np.vstack(lines))


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return fmt.format(value)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table, with a mean row when there are several images."""
    table = [[title for _, title, _ in COLUMNS]]
    for row in rows:
        table.append([_cell(row.get(key), fmt) for key, _, fmt in COLUMNS])
    if len(rows) > 1:
        means = ["mean"]
        for key, _, fmt in COLUMNS[1:]:
            values = [row[key] for row in rows if row.get(key) is not None]
            means.append(_cell(float(np.mean(values)), fmt) if values else "—")
        table.append(means)
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    text = []
    for n, line in enumerate(table):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:],
                                                                          strict=True)]
        text.append("  ".join(cells))
        if n == 0:
            text.append("  ".join("-" * w for w in widths))
    notes = ("SWD: multi-scale sliced Wasserstein ×1e3 to the sample, lower is better; halves: "
             "the sample's left half against its right half; gan: the texture_gan op's output "
             "(rebuilt from sample patches), gan raw: the generator's own. seam z: the tileable "
             "variant's wrap-around step against its interior lines, in standard deviations "
             "(within ±3 = no visible seam). s gan: training plus generation. pm: texture_patch "
             "with method=patchmatch.")
    return "\n".join(text) + "\n" + notes


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench texture`` beyond the common ones."""
    parser.add_argument("--size", type=int, default=256, help="edge of each synthesised square")
    parser.add_argument("--gan-seconds", type=float, default=None,
                        help="GAN training seconds per sample (default: the device's default; "
                             "0 skips the GAN)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for texture_contact_sheet.png")
    parser.add_argument("--models", metavar="DIR", default=None,
                        help="keep the trained GANs in DIR and reuse them on later runs")
    parser.add_argument("--layouts", type=int, default=None,
                        help="candidate layouts of the GAN op and of patchmatch (default: the "
                             "ops' default, 32)")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench texture --data DIR``: SWD, seam error and seconds per method."""
    from engine.bench.common import write_json_report

    rows = run_texture_bench(args.data, limit=args.limit, size=args.size, out_dir=args.out,
                             gan_seconds=args.gan_seconds, device=args.device, seed=args.seed,
                             models_dir=args.models, layouts=args.layouts)
    print(format_table(rows))
    write_json_report(args, "texture", rows)
    return 0
