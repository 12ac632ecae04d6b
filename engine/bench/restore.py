"""``pixelmend bench restore``: find damage, then repair it, on photos with synthetic damage.

Every image of the folder (use sets never trained on: ``../shared/data/cbsd68``,
``../shared/data/mcmaster``) is aged, damaged and scanned by
:func:`engine.training.damage_synth.synthesize` with :data:`BENCH_SPEC` (always damaged) and a
seed fixed by its file name, which gives the damaged photo, the undamaged one with the same
nuisances (the truth a perfect repair reaches) and the label of visible damage. Then:

Detection
    The ``detect_defects`` op, ``learned`` and ``classical`` (default params otherwise), is
    scored against the label: precision (found pixels within 2 px of a damaged one), recall
    (damaged pixels within 2 px of a found one) and F1, over all pixels of all images, and
    per image averaged.
Repair
    The ``inpaint`` op fills the learned proposal with ``telea`` and with its default method;
    the default also fills the classical proposal and the true label grown by 1 px (the
    ceiling a perfect detector gives). PSNR against the truth, next to the damaged photo's.

``--out DIR`` writes contact sheets: damaged | damage probability | proposal | repaired, for
the first ``--sheet`` bench images (proposal in green where it is right, red where it is not
damage, blue where damage was missed) and for every photo in ``--real DIR`` (real scans without
ground truth; proposal in red), plus one larger sheet per real photo, to be looked at.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.bench.common import (
    device_from_args,
    image_seed,
    list_images,
    load_truth,
    write_json_report,
)
from engine.bench.restore_sheets import TOLERANCE, Visual, contact_sheet, large_sheet
from engine.core.masks import grow_mask
from engine.core.metrics import mask_match_counts, psnr
from engine.training.damage_synth import WHOLE_PHOTO_SPEC, synthesize

__all__ = [
    "BENCH_SPEC",
    "DETECTORS",
    "REPAIRS",
    "TOLERANCE",
    "add_suite_arguments",
    "format_tables",
    "run_real",
    "run_restore_bench",
    "suite",
    "summarize",
]

BENCH_SPEC = WHOLE_PHOTO_SPEC
"""The training distribution of damage and nuisances, always damaged, at ordinary intensity."""
DETECTORS = ("learned", "classical")
REPAIRS: tuple[tuple[str, str | None], ...] = (
    ("learned", "telea"), ("learned", None), ("classical", None), ("truth", None))
"""(mask, inpaint method) pairs scored; None is the inpaint op's default method."""
_DEFAULT_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rni15_real_noisy"


def _repair_name(mask: str, method: str | None) -> str:
    return f"{mask}+{method or 'default'}"


def _detect(image: np.ndarray, method: str, device: str | None, params: dict[str, Any]
            ) -> tuple[np.ndarray, np.ndarray | None, float]:
    from engine.ops import run_op

    started = time.perf_counter()
    result = run_op("detect_defects", image, params={"method": method, **params}, device=device)
    seconds = time.perf_counter() - started
    layer = result.layers.get("damage probability")
    return result.mask, None if layer is None else layer[:, :, 0], seconds


def _inpaint(image: np.ndarray, mask: np.ndarray, method: str | None, device: str | None
             ) -> np.ndarray:
    from engine.ops import run_op

    if not mask.any():
        return image
    params = {} if method is None else {"method": method}
    return run_op("inpaint", image, mask, params, device=device).image


def run_restore_bench(files: Sequence[Path], *, device: str | None = None, seed: int = 0,
                      learned_params: dict[str, Any] | None = None, keep: int = 0,
                      log: Callable[[str], None] | None = None
                      ) -> tuple[list[dict[str, Any]], list[Visual]]:
    """Damage, detect and repair every image; the per-image records and ``keep`` visuals.

    Parameters
    ----------
    files : sequence of Path
        Clean photos.
    device : str, optional
        Device kind for the ops (None: the engine's choice).
    seed : int
        Base seed; each image's damage seed derives from it and the file name.
    learned_params : dict, optional
        Extra ``detect_defects`` params for the learned method (``sensitivity``, ``grow``,
        ``quality``).
    keep : int
        How many of the first images to return as :class:`Visual` rows.
    log : callable, optional
        Receives one line per image.

    Returns
    -------
    records : list of dict
        Per image: ``image``, ``megapixels``, ``damaged_fraction``, for each detector
        ``<d>_counts`` (found near, found, true near, true), ``<d>_f1`` and ``<d>_seconds``,
        and ``psnr_damaged`` and ``psnr_<mask>+<method>`` for each of :data:`REPAIRS`.
    visuals : list of Visual
    """
    records, visuals = [], []
    for index, path in enumerate(files):
        clean = load_truth(path)
        sample = synthesize(clean, np.random.default_rng(image_seed(path, seed)), BENCH_SPEC,
                            damaged=True)
        damaged, truth, label = sample.image, sample.truth, sample.label
        record: dict[str, Any] = {"image": path.name,
                                  "megapixels": label.size / 1e6,
                                  "damaged_fraction": float(label.mean()),
                                  "psnr_damaged": psnr(damaged, truth)}
        masks = {"truth": grow_mask(label, 1)}
        probability = None
        for detector in DETECTORS:
            params = dict(learned_params or {}) if detector == "learned" else {}
            found, prob, seconds = _detect(damaged, detector, device, params)
            counts = mask_match_counts(found, label, tolerance=TOLERANCE)
            masks[detector] = found
            record[f"{detector}_counts"] = counts
            record[f"{detector}_f1"] = _f1(*counts)
            record[f"{detector}_seconds"] = seconds
            record[f"{detector}_kinds"] = _kind_recall(found, label, sample.kinds)
            probability = prob if prob is not None else probability
        repaired = {}
        for mask_name, method in REPAIRS:
            name = _repair_name(mask_name, method)
            repaired[name] = _inpaint(damaged, masks[mask_name], method, device)
            record[f"psnr_{name}"] = psnr(repaired[name], truth)
        records.append(record)
        if log:
            log(f"[{index + 1}/{len(files)}] {path.name}: damage {record['damaged_fraction']:.3f}"
                f", F1 learned {record['learned_f1']:.3f} classical "
                f"{record['classical_f1']:.3f}, PSNR {record['psnr_damaged']:.2f} → "
                f"{record['psnr_learned+default']:.2f} dB")
        if index < keep:
            visuals.append(Visual(path.name, damaged, probability, masks["learned"],
                                  repaired["learned+default"], label,
                                  {"F1": round(record["learned_f1"], 3)}))
    return records, visuals


def run_real(folder: Path, *, device: str | None = None,
             learned_params: dict[str, Any] | None = None,
             log: Callable[[str], None] | None = None) -> list[Visual]:
    """The learned detector and the default inpainting on real photos (no ground truth)."""
    visuals = []
    for path in list_images(folder):
        image = load_truth(path)
        found, probability, seconds = _detect(image, "learned", device,
                                              dict(learned_params or {}))
        repaired = _inpaint(image, found, None, device)
        facts = {"marked": f"{100 * found.mean():.2f}%", "s": round(seconds, 2)}
        visuals.append(Visual(path.name, image, probability, found, repaired, None, facts))
        if log:
            log(f"real {path.name}: marked {facts['marked']} in {seconds:.2f} s")
    return visuals


def _kind_recall(found: np.ndarray, label: np.ndarray, kinds: dict[str, np.ndarray]
                 ) -> dict[str, tuple[int, int]]:
    """Per damage kind: (its visible pixels within the tolerance of a found one, all of them)."""
    kernel = np.ones((2 * TOLERANCE + 1,) * 2, np.uint8)
    near = cv2.dilate(found.astype(np.uint8), kernel) > 0
    out = {}
    for kind, footprint in kinds.items():
        visible = label & footprint
        out[kind] = (int((visible & near).sum()), int(visible.sum()))
    return out


def _f1(found_near: int, found: int, true_near: int, true: int) -> float:
    precision = found_near / found if found else 0.0
    recall = true_near / true if true else 1.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# ----------------------------------------------------------------------------------- tables


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled and per-image detection scores, mean PSNR per repair, median seconds per MP."""
    out: dict[str, Any] = {"images": len(records), "detect": {}, "psnr": {}}
    for detector in DETECTORS:
        counts = np.sum([r[f"{detector}_counts"] for r in records], axis=0)
        precision = counts[0] / counts[1] if counts[1] else 0.0
        recall = counts[2] / counts[3] if counts[3] else 1.0
        out["detect"][detector] = {
            "precision": float(precision), "recall": float(recall),
            "f1": _f1(*(int(c) for c in counts)),
            "f1_per_image": float(np.mean([r[f"{detector}_f1"] for r in records])),
            "s_per_mp": float(np.median([r[f"{detector}_seconds"] / r["megapixels"]
                                         for r in records])),
            "recall_by_kind": _pooled_kinds(records, detector)}
    out["psnr"]["damaged"] = float(np.mean([r["psnr_damaged"] for r in records]))
    for mask_name, method in REPAIRS:
        name = _repair_name(mask_name, method)
        out["psnr"][name] = float(np.mean([r[f"psnr_{name}"] for r in records]))
    out["damaged_fraction"] = float(np.mean([r["damaged_fraction"] for r in records]))
    return out


def _pooled_kinds(records: Sequence[dict[str, Any]], detector: str) -> dict[str, float]:
    hits: dict[str, list[int]] = {}
    for record in records:
        for kind, (near, total) in record[f"{detector}_kinds"].items():
            pooled = hits.setdefault(kind, [0, 0])
            pooled[0] += near
            pooled[1] += total
    return {kind: near / total for kind, (near, total) in sorted(hits.items()) if total}


def format_tables(summary: dict[str, Any]) -> str:
    """The detection table and the repair table as text."""
    lines = [f"{'detector':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'F1/image':>9} "
             f"{'s/MP':>7}"]
    lines.append("-" * len(lines[0]))
    for detector, s in summary["detect"].items():
        lines.append(f"{detector:<10} {s['precision']:>9.3f} {s['recall']:>7.3f} "
                     f"{s['f1']:>6.3f} {s['f1_per_image']:>9.3f} {s['s_per_mp']:>7.2f}")
    kinds = sorted({k for s in summary["detect"].values() for k in s["recall_by_kind"]})
    if kinds:
        lines += ["", "recall by kind  " + " ".join(f"{k:>8}" for k in kinds)]
        for detector, s in summary["detect"].items():
            cells = " ".join(f"{s['recall_by_kind'].get(k, float('nan')):>8.3f}" for k in kinds)
            lines.append(f"{detector:<15} {cells}")
    base = summary["psnr"]["damaged"]
    lines += ["", f"{'repair (mask+inpaint)':<24} {'PSNR dB':>8} {'gain dB':>8}",
              "-" * 42, f"{'damaged (no repair)':<24} {base:>8.2f} {'':>8}"]
    for name, value in summary["psnr"].items():
        if name != "damaged":
            lines.append(f"{name:<24} {value:>8.2f} {value - base:>+8.2f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- suite


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench restore`` beyond the common ones."""
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write contact sheets (PNG) into this folder")
    parser.add_argument("--sheet", type=int, default=6, metavar="N",
                        help="bench images on the contact sheet (default 6)")
    parser.add_argument("--real", type=Path, default=None, metavar="DIR",
                        help="real photos (no ground truth) for the contact sheet (default: "
                             "../shared/data/rni15_real_noisy when --out is given and it "
                             "exists; 'none' skips them)")
    parser.add_argument("--sensitivity", type=float, default=None,
                        help="learned detector's sensitivity (default: the op's)")
    parser.add_argument("--grow", type=int, default=None,
                        help="learned proposal's growth in px (default: the op's)")
    parser.add_argument("--quality", choices=("fast", "best"), default=None,
                        help="learned detector's quality (default: the op's)")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench restore --data DIR``: detection P/R/F1 and repair PSNR, sheets."""
    files = list_images(args.data, args.limit)
    device = device_from_args(args)
    params = {key: getattr(args, key) for key in ("sensitivity", "grow", "quality")
              if getattr(args, key, None) is not None}
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    out = getattr(args, "out", None)
    started = time.perf_counter()
    records, visuals = run_restore_bench(files, device=device, seed=args.seed,
                                         learned_params=params,
                                         keep=args.sheet if out else 0, log=log)
    summary = summarize(records)
    print(f"restore suite: {len(files)} images from {args.data}, synthetic damage "
          f"(engine/training/damage_synth.py, seed {args.seed}), "
          f"{time.perf_counter() - started:.1f} s, device: {device or 'default'}; "
          f"damaged pixels {100 * summary['damaged_fraction']:.2f}%")
    print(format_tables(summary))
    print(f"Detection: pixels pooled over all images, {TOLERANCE} px tolerance; F1/image is "
          f"the mean of per-image F1. PSNR against the undamaged photo with the same "
          f"nuisances, mean over images; 'truth' is the true label grown by 1 px.")
    if out:
        sheets = [contact_sheet(visuals, Path(out) / "restore_bench.png")]
        real = getattr(args, "real", None)
        real = _DEFAULT_REAL if real is None else real
        if str(real).lower() != "none" and Path(real).is_dir():
            real_visuals = run_real(Path(real), device=device, learned_params=params, log=log)
            sheets.append(contact_sheet(real_visuals, Path(out) / "restore_real.png"))
            for visual in real_visuals:
                sheets.append(large_sheet(visual, Path(out) / f"real_{Path(visual.name).stem}"
                                                                f".png"))
        for sheet in sheets:
            print(f"contact sheet: {sheet}")
    write_json_report(args, "restore", records, summary=summary)
    return 0
