"""``pixelmend bench privacy``: how well faces are found, and how well a hidden face stays hidden.

Detection: ``detect_faces`` runs with its defaults (and at other sensitivities with
``--sensitivities``) on photos whose faces were marked by hand (``--boxes``, default
:data:`BOXES`: file names relative to ``--data`` and ``[x0, y0, x1, y1]`` boxes). A found box
counts when its intersection over union with a marked face is at least 0.3 (one match per
face). Besides recall and precision the table gives the share of the background (everything
outside the marked faces grown by the op's margin) that the proposed mask covers, and the number
of photos whose mask has no false region: nothing outside the marked faces grown by their own
size (a mask a little larger than a face is not counted as one).

Hiding: every method of ``anonymise`` runs on the marked faces (grown by the op's margin, so
detection errors do not enter), and so do two common ways that are not enough (a plain Gaussian
blur of a sixth of the face, and a pixelation without noise or rounding). For each, the PSNR of
the hidden region against the original, the best PSNR that Wiener and Richardson–Lucy
deconvolution reach from the output (Gaussian kernels from 1 px to the block size), and the
correlation of the fine detail (the image minus a blur of 2 px) of that best restoration with the
original's, 6 px or more inside the region (nearer its edge the filter sees the mask's
outline). A hidden face should stay below 20 dB both ways, and its detail correlation no higher
than that of ``fill``, which keeps nothing of the face (on small faces the correlation of two
unrelated detail maps is itself often 0.1).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.bench.common import BenchError, load_truth, write_json_report
from engine.core.masks import mask_bbox
from engine.core.metrics import masked_psnr
from engine.ops import run_op
from engine.ops.classical.deconvolution import richardson_lucy, wiener
from engine.ops.classical.kernels import make_kernel
from engine.ops.privacy.anonymise import METHODS
from engine.ops.privacy.faces import FaceBox, faces_mask, iou

__all__ = ["BOXES", "add_suite_arguments", "detail_correlation", "format_tables", "match_faces",
           "run_privacy_bench", "suite"]

BOXES = Path(__file__).with_name("data") / "faces_eval.json"
"""The hand-marked faces the bench uses by default."""

MARGIN = 0.25  # the detect_faces default

Hider = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]


def match_faces(found: Sequence[FaceBox], truth: Sequence[Sequence[float]],
                threshold: float = 0.3) -> int:
    """How many marked faces a found box matches (IoU ≥ ``threshold``, each box used once,
    best pairs first)."""
    pairs = sorted(((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
                   reverse=True)
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    return len(used_truth)


def detail_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Correlation, inside ``mask``, of the fine detail (grey minus a 2 px Gaussian) of two
    images."""
    def detail(image: np.ndarray) -> np.ndarray:
        grey = image.mean(axis=2)
        return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)

    x, y = detail(a)[mask], detail(b)[mask]
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-12))


def _ours(method: str) -> Hider:
    def hide(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
        result = run_op("anonymise", image, mask, {"method": method})
        return result.image, float(max(r["block"] for r in result.info["regions"]))
    return hide


def _plain_blur(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    sigma = max(1.0, np.sqrt(mask.sum()) / 6)
    blurred = cv2.GaussianBlur(image, (0, 0), sigma).reshape(image.shape)
    return np.where(mask[:, :, None], blurred, image).astype(np.float32), sigma


def _plain_pixelate(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    block = max(2, round(np.sqrt(mask.sum()) / 6))
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    small = cv2.resize(crop, (max(1, crop.shape[1] // block), max(1, crop.shape[0] // block)),
                       interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_NEAREST)
    out = image.copy()
    out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = big.reshape(crop.shape)
    return np.where(mask[:, :, None], out, image).astype(np.float32), float(block)


HIDERS: dict[str, Hider] = {**{m: _ours(m) for m in METHODS},
                            "plain blur (peer)": _plain_blur,
                            "plain pixelate (peer)": _plain_pixelate}


def _restorations(hidden: np.ndarray, block: float) -> list[np.ndarray]:
    out = [np.clip(wiener(hidden, make_kernel("gaussian", sigma=max(block, 1.0)), 1e-3), 0, 1)]
    for sigma in sorted({1.0, 2.0, max(block / 2, 1.0), max(block, 1.0)}):
        out.append(np.clip(wiener(hidden, make_kernel("gaussian", sigma=sigma), 1e-2), 0, 1))
    out.append(np.clip(richardson_lucy(hidden, make_kernel("gaussian", sigma=max(block / 2, 1)),
                                       30), 0, 1))
    return out


def _read_boxes(path: Path) -> dict[str, list[list[float]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise BenchError(f"{path}: cannot read the face boxes ({error})") from None
    faces = data.get("faces", data)
    if not isinstance(faces, dict) or not faces:
        raise BenchError(f"{path}: expected {{\"faces\": {{\"file\": [[x0, y0, x1, y1], ...]}}}}")
    return faces


def _draw(image: np.ndarray, found: Sequence[FaceBox], truth: Sequence[Sequence[float]],
          mask: np.ndarray) -> np.ndarray:
    shown = image.copy()
    shown[mask] = 0.6 * shown[mask] + 0.4 * np.array([1.0, 0.0, 1.0], np.float32)
    shown = np.ascontiguousarray(shown)
    for x0, y0, x1, y1 in truth:
        cv2.rectangle(shown, (int(x0), int(y0)), (int(x1), int(y1)), (0.0, 1.0, 0.0), 2)
    for face in found:
        cv2.rectangle(shown, (int(face.x0), int(face.y0)), (int(face.x1), int(face.y1)),
                      (1.0, 0.2, 0.0), 2)
    return shown


def _sheet(rows: list[list[np.ndarray]], labels: Sequence[str], path: Path,
           cell: int = 220) -> None:
    def fit(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = cell / max(h, w)
        small = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        canvas = np.ones((cell, cell, 3), np.float32)
        top, left = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
        canvas[top:top + small.shape[0], left:left + small.shape[1]] = small.reshape(
            small.shape[0], small.shape[1], -1)[:, :, :3]
        return canvas

    header = np.ones((24, cell * len(labels), 3), np.float32)
    strips = [header] + [np.concatenate([fit(image) for image in row], axis=1) for row in rows]
    grid = (np.clip(np.concatenate(strips, axis=0), 0, 1) * 255).astype(np.uint8)[:, :, ::-1]
    grid = np.ascontiguousarray(grid)
    for i, label in enumerate(labels):
        cv2.putText(grid, label, (i * cell + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0),
                    1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)


def run_privacy_bench(data_dir: Path | str, boxes_file: Path | str = BOXES, *,
                      sensitivities: Sequence[float] = (0.5,), limit: int | None = None,
                      hiders: Sequence[str] | None = None, out_dir: Path | str | None = None,
                      log: Callable[[str], None] | None = None) -> dict[str, list[dict]]:
    """Detection rows (one per sensitivity) and hiding rows (one per method).

    Returns
    -------
    dict
        ``{"detection": [...], "hiding": [...], "images": [...]}``; the last holds per-image
        facts.
    """
    data_dir = Path(data_dir)
    marked = _read_boxes(Path(boxes_file))
    names = sorted(marked)[:limit] if limit else sorted(marked)
    missing = [n for n in names if not (data_dir / n).is_file()]
    if missing:
        raise BenchError(f"{len(missing)} of the marked images are not in {data_dir} "
                         f"(first: {missing[0]}); pass the folder the names are relative to")
    chosen = list(hiders) if hiders else list(HIDERS)
    detection = {s: {"found": 0, "matched": 0, "faces": 0, "background": [], "clean": 0,
                     "seconds": 0.0, "mp": 0.0} for s in sensitivities}
    hiding = {h: {"psnr": [], "restored": [], "correlation": []} for h in chosen}
    per_image = []
    sheet_rows = []
    for index, name in enumerate(names):
        image = load_truth(data_dir / name)
        image = image[:, :, :3] if image.shape[2] >= 3 else np.repeat(image, 3, axis=2)
        truth = marked[name]
        truth_boxes = [FaceBox(*map(float, box)) for box in truth]
        background = ~faces_mask(image.shape[:2], truth_boxes, margin=MARGIN)
        far = ~faces_mask(image.shape[:2], truth_boxes, margin=1.0)
        record: dict[str, Any] = {"image": name, "faces": len(truth)}
        proposal = np.zeros(image.shape[:2], dtype=bool)
        shown = _draw(image, [], truth, proposal)
        for sensitivity in sensitivities:
            started = time.perf_counter()
            result = run_op("detect_faces", image, params={"sensitivity": sensitivity})
            seconds = time.perf_counter() - started
            found = [FaceBox(x, y, x + w, y + h, s) for x, y, w, h, s in result.info["faces"]]
            row = detection[sensitivity]
            matched = match_faces(found, truth)
            spill = float((result.mask & background).sum() / max(background.sum(), 1))
            row["found"] += len(found)
            row["matched"] += matched
            row["faces"] += len(truth)
            row["background"].append(spill)
            row["clean"] += int(not (result.mask & far).any())
            row["seconds"] += seconds
            row["mp"] += image.shape[0] * image.shape[1] / 1e6
            record[f"found@{sensitivity}"] = len(found)
            record[f"matched@{sensitivity}"] = matched
            record[f"background@{sensitivity}"] = round(spill, 4)
            if sensitivity == (0.5 if 0.5 in sensitivities else sensitivities[0]):
                shown = _draw(image, found, truth, result.mask)
                proposal = result.mask
        region = ~background
        images = [shown]
        for hider in chosen:
            hidden, block = HIDERS[hider](image, region)
            # Deconvolve a crop around the faces (what lies further out cannot help), and
            # correlate detail away from the region's edge, where the 2 px detail filter
            # would see the outline of the mask rather than the face.
            box = mask_bbox(region, int(3 * block) + 8)
            assert box is not None
            crop, original, inside = hidden[box], image[box], region[box]
            restored = _restorations(np.ascontiguousarray(crop), block)
            scores = [masked_psnr(r, original, inside) for r in restored]
            best = int(np.argmax(scores))
            core = cv2.erode(inside.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
            hiding[hider]["psnr"].append(masked_psnr(hidden, image, region))
            hiding[hider]["restored"].append(scores[best])
            hiding[hider]["correlation"].append(
                abs(detail_correlation(restored[best], original, core if core.any() else inside)))
            if hider in ("pixelate", "blur", "plain blur (peer)"):
                images.append(hidden)
        if proposal.any():
            images.append(run_op("anonymise", image, proposal).image)
        else:
            images.append(image)
        sheet_rows.append(images)
        per_image.append(record)
        if log:
            log(f"[{index + 1}/{len(names)}] {name}: {record}")
    if out_dir is not None:
        labels = ["found (red) / marked (green)"] + [
            h for h in chosen if h in ("pixelate", "blur", "plain blur (peer)")] + [
            "pixelate on the proposal"]
        _sheet(sheet_rows, labels, Path(out_dir) / "privacy_sheet.png")
    detection_rows = [{
        "sensitivity": s, "faces": r["faces"], "found": r["found"], "matched": r["matched"],
        "recall": r["matched"] / max(r["faces"], 1),
        "precision": r["matched"] / r["found"] if r["found"] else None,
        "background_share": float(np.mean(r["background"])),
        "clean_images": r["clean"], "images": len(names),
        "s_per_mp": r["seconds"] / max(r["mp"], 1e-9)} for s, r in detection.items()]
    hiding_rows = [{
        "method": h, "psnr": float(np.mean(v["psnr"])), "psnr_max": float(np.max(v["psnr"])),
        "restored_psnr": float(np.mean(v["restored"])),
        "restored_psnr_max": float(np.max(v["restored"])),
        "detail_correlation": float(np.mean(v["correlation"])),
        "detail_correlation_max": float(np.max(v["correlation"]))}
        for h, v in hiding.items()]
    return {"detection": detection_rows, "hiding": hiding_rows, "images": per_image}


def format_tables(report: dict[str, list[dict]]) -> str:
    """The two tables as Markdown."""
    lines = ["| sensitivity | recall | precision | found / marked | background masked | "
             "photos with no false region | s/MP |", "|---|---|---|---|---|---|---|"]
    for row in report["detection"]:
        precision = "—" if row["precision"] is None else f"{row['precision']:.2f}"
        lines.append(f"| {row['sensitivity']:g} | {row['recall']:.2f} | {precision} | "
                     f"{row['found']} / {row['faces']} | {100 * row['background_share']:.2f} % | "
                     f"{row['clean_images']} of {row['images']} | {row['s_per_mp']:.2f} |")
    lines += ["", "| method | PSNR hidden vs original (mean / max) | best deconvolved PSNR "
              "(mean / max) | fine-detail correlation (mean / max) |", "|---|---|---|---|"]
    for row in report["hiding"]:
        lines.append(f"| {row['method']} | {row['psnr']:.2f} / {row['psnr_max']:.2f} | "
                     f"{row['restored_psnr']:.2f} / {row['restored_psnr_max']:.2f} | "
                     f"{row['detail_correlation']:.3f} / {row['detail_correlation_max']:.3f} |")
    return "\n".join(lines)


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench privacy`` beyond the common ones."""
    parser.add_argument("--boxes", metavar="FILE", default=str(BOXES),
                        help="JSON of hand-marked face boxes, names relative to --data "
                             "(default: the bench's own set)")
    parser.add_argument("--sensitivities", metavar="A,B", default="0.5",
                        help="detect_faces sensitivities to measure (default 0.5; an empty "
                             "list measures hiding only)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for the contact sheet PNG")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench privacy --data DIR``: face detection and hiding figures."""
    sensitivities = [float(s) for s in args.sensitivities.split(",") if s.strip()]
    hiders = [h for h in args.ops.split(",") if h] if args.ops else None
    if hiders and set(hiders) - set(HIDERS):
        raise BenchError(f"unknown methods {sorted(set(hiders) - set(HIDERS))}; choose from "
                         f"{sorted(HIDERS)}")
    report = run_privacy_bench(
        args.data, args.boxes, sensitivities=sensitivities, limit=args.limit, hiders=hiders,
        out_dir=args.out,
        log=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
    print(format_tables(report))
    write_json_report(args, "privacy", report["detection"] + report["hiding"],
                      images=report["images"])
    return 0
