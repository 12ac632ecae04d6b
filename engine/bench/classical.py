"""``pixelmend bench classical``: every classical op against the damage it is meant to repair.

Every image is degraded in the way each op is meant to repair, with a fixed seed per image, and
the op is measured against the clean original. What each op is given and how it is scored is one
table, :data:`CLASSICAL_CASES`; the degradations are another
(:data:`engine.bench.degrade.DEGRADATIONS`). Peers (scikit-image, OpenCV) run on the same inputs
when importable and are reported as ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.bench.common import (
    BenchError,
    device_from_args,
    environment,
    image_seed,
    jsonable,
    list_images,
    load_truth,
    log,
    summarise,
)
from engine.bench.degrade import DEGRADATIONS, Sample
from engine.bench.peers import PEERS, Peer
from engine.core.metrics import mask_precision_recall

__all__ = ["CLASSICAL_CASES", "Case", "classical_suite", "format_table", "select_cases"]


def _score_restore(truth: np.ndarray, sample: Sample, result: Any) -> dict[str, float]:
    from engine.core.metrics import psnr, ssim

    return {"psnr_in": psnr(sample.image, truth), "psnr_out": psnr(result.image, truth),
            "ssim_in": ssim(sample.image, truth), "ssim_out": ssim(result.image, truth)}


def _score_hole(truth: np.ndarray, sample: Sample, result: Any) -> dict[str, float]:
    from engine.core.metrics import masked_psnr, masked_ssim

    hole = sample.truth_mask
    return {"psnr_in": masked_psnr(sample.image, truth, hole),
            "psnr_out": masked_psnr(result.image, truth, hole),
            "ssim_in": masked_ssim(sample.image, truth, hole),
            "ssim_out": masked_ssim(result.image, truth, hole)}


def _score_detect(truth: np.ndarray, sample: Sample, result: Any) -> dict[str, float]:
    found = np.zeros(truth.shape[:2], bool) if result.mask is None else result.mask
    precision, recall = mask_precision_recall(np.asarray(found, bool), sample.truth_mask,
                                              tolerance=1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _score_locate(truth: np.ndarray, sample: Sample, result: Any) -> dict[str, float]:
    """Fraction of pasted copies (not the source) found with their exact top-left corner.

    Uses ``info["matches"]`` (``(x, y, score)`` per match) when the op reports it; otherwise a
    copy counts as found when the proposed mask covers its whole box.
    """
    matches = result.info.get("matches")
    corners = {(int(m[1]), int(m[0])) for m in matches or ()}
    size = int(round(math.sqrt(sample.mask.sum())))
    copies = sample.positions[1:]
    if matches is None:
        found = np.zeros(truth.shape[:2], bool) if result.mask is None else result.mask
        hits = sum(bool(found[y:y + size, x:x + size].all()) for y, x in copies)
    else:
        hits = sum((y, x) in corners for y, x in copies)
    return {"found": hits / len(copies)}


def _score_speed(truth: np.ndarray, sample: Sample, result: Any) -> dict[str, float]:
    return {}


SCORES: dict[str, Callable[[np.ndarray, Sample, Any], dict[str, float]]] = {
    "restore": _score_restore,
    "hole": _score_hole,
    "detect": _score_detect,
    "locate": _score_locate,
    "speed": _score_speed,
}


@dataclass(frozen=True)
class Case:
    """One row of the classical suite: an op, its params, what damage it gets, how it scores.

    Attributes
    ----------
    label : str
        Row name (the op name, or ``op[variant]``).
    op : str
        Registered op name.
    degradation : str
        Key of :data:`DEGRADATIONS`.
    score : str
        Key of :data:`SCORES`.
    params : mapping
        Params given to the op (the rest take their defaults).
    use_mask : bool
        Give the sample's mask (hole, template source) to the op.
    """

    label: str
    op: str
    degradation: str
    score: str = "restore"
    params: Mapping[str, Any] = field(default_factory=dict)
    use_mask: bool = False


CLASSICAL_CASES: tuple[Case, ...] = (
    Case("gaussian", "gaussian", "noise15", params={"sigma": 1.0}),
    Case("bilateral", "bilateral", "noise15"),
    Case("nl_means", "nl_means", "noise15"),
    Case("median[noise]", "median", "noise15", params={"size": 3}),
    Case("median[s&p]", "median", "sp10", params={"size": 3}),
    Case("adaptive_median", "adaptive_median", "sp10"),
    Case("deblur_wiener", "deblur_wiener", "blur2", params={"kernel": "gaussian", "sigma": 2.0}),
    Case("deblur_rl", "deblur_rl", "blur2", params={"kernel": "gaussian", "sigma": 2.0}),
    Case("unsharp_mask", "unsharp_mask", "blur1"),
    Case("inpaint[telea]", "inpaint", "scribbles", score="hole", params={"method": "telea"},
         use_mask=True),
    Case("inpaint[ns]", "inpaint", "scribbles", score="hole", params={"method": "ns"},
         use_mask=True),
    Case("detect_defects", "detect_defects", "defects", score="detect",
         params={"method": "classical"}),
    Case("template_match", "template_match", "copies", score="locate", use_mask=True),
    Case("canny", "canny", "clean", score="speed"),
)


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True



def select_cases(cases: Sequence[Case], wanted: str | None) -> list[Case]:
    """The cases whose op name or label is in the comma-separated ``wanted`` (all if None)."""
    if not wanted:
        return list(cases)
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    known = {case.op for case in cases} | {case.label for case in cases}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BenchError(f"--ops: no case for {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
    return [case for case in cases if case.op in names or case.label in names]


def _run_case(case: Case, truth: np.ndarray, sample: Sample, device: str | None
              ) -> dict[str, float]:
    from engine.ops import run_op

    mask = sample.mask if case.use_mask else None
    started = time.perf_counter()
    result = run_op(case.op, sample.image, mask, dict(case.params), device=device)
    seconds = time.perf_counter() - started
    megapixels = truth.shape[0] * truth.shape[1] / 1e6
    return {**SCORES[case.score](truth, sample, result), "s_per_mp": seconds / megapixels}


def _warm_up(case: Case, truth: np.ndarray, sample: Sample, device: str | None) -> None:
    """Run a case once, untimed, on a corner of the image: imports and first-call setup (torch,
    FFT plans, OpenCV's thread pool) then do not count in the timings."""
    corner = (slice(0, min(64, truth.shape[0])), slice(0, min(64, truth.shape[1])))
    crop = Sample(np.ascontiguousarray(sample.image[corner]),
                  mask=None if sample.mask is None else sample.mask[corner])
    with contextlib.suppress(Exception):  # e.g. no hole in the corner: the real run still counts
        _run_case(case, truth[corner], crop, device)


def _run_peer(peer: Peer, case: Case, truth: np.ndarray, sample: Sample) -> dict[str, float]:
    from engine.ops import OpResult

    started = time.perf_counter()
    image = np.clip(peer.run(sample.image, sample), 0.0, 1.0).astype(np.float32)
    seconds = time.perf_counter() - started
    megapixels = truth.shape[0] * truth.shape[1] / 1e6
    return {**SCORES[case.score](truth, sample, OpResult(image=image)),
            "s_per_mp": seconds / megapixels}


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The result table: one line per row (op, degradation, PSNR in → out, gain, SSIM, s/MP)."""
    header = ("op", "degradation", "PSNR in → out", "gain dB", "SSIM out", "other", "s/MP")
    lines = []
    for row in rows:
        s = row["summary"]
        psnr_in, psnr_out = s.get("psnr_in"), s.get("psnr_out")
        if psnr_in is not None and psnr_out is not None:
            psnr_text = f"{psnr_in:6.2f} → {psnr_out:6.2f}"
            gain = f"{psnr_out - psnr_in:+.2f}"
        else:
            psnr_text, gain = "—", "—"
        other = ""
        if "precision" in s:
            other = f"P {s['precision']:.2f} R {s['recall']:.2f} F1 {s['f1']:.2f}"
        elif "found" in s:
            other = f"found {s['found'] * 100:.0f}%"
        elif row.get("note"):
            other = row["note"]
        lines.append((row["label"], row["degradation"], psnr_text, gain,
                      _cell(s.get("ssim_out"), ".4f"), other or "",
                      _cell(s.get("s_per_mp"), ".3f")))
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(len(header))]
    aligned_right = {2, 3, 4, 6}

    def render(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if i in aligned_right else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def classical_suite(args: argparse.Namespace) -> int:
    """Degrade each image per case, run the op, score it against the clean image; print a table.

    Returns 0, or 1 when a case failed on some image (the failure is reported and the case's
    remaining images still run).
    """
    from engine.ops import op_names

    images = list_images(args.data, args.limit)
    device = device_from_args(args)
    cases = select_cases(CLASSICAL_CASES, getattr(args, "ops", None))
    available = set(op_names())
    missing = sorted({case.op for case in cases} - available)
    if missing:
        log(args, f"skipping ops that are not installed: {', '.join(missing)}")
    cases = [case for case in cases if case.op in available]
    peers = [peer for peer in PEERS if any(peer.case == case.label for case in cases)]
    absent = sorted({peer.module for peer in peers if not _importable(peer.module)})
    if absent:
        log(args, f"peers skipped, not installed: {', '.join(absent)}")
    peers = [peer for peer in peers if peer.module not in absent]

    records: dict[str, list[dict[str, Any]]] = {case.label: [] for case in cases}
    peer_records: dict[str, list[dict[str, Any]]] = {peer.name: [] for peer in peers}
    failures: list[str] = []
    started = time.perf_counter()
    for index, path in enumerate(images, 1):
        truth = load_truth(path)
        seed = image_seed(path, getattr(args, "seed", 0))
        samples: dict[str, Sample] = {}
        log(args, f"[{index}/{len(images)}] {path.name} ({truth.shape[1]}×{truth.shape[0]})")
        for case in cases:
            if case.degradation not in samples:
                rng = np.random.default_rng([seed, list(DEGRADATIONS).index(case.degradation)])
                samples[case.degradation] = DEGRADATIONS[case.degradation].make(truth, rng)
            sample = samples[case.degradation]
            try:
                if index == 1:
                    _warm_up(case, truth, sample, device)
                record = _run_case(case, truth, sample, device)
            except Exception as error:  # a bench reports a broken op and goes on
                failures.append(f"{case.label} on {path.name}: {type(error).__name__}: {error}")
                log(args, f"  {case.label} failed: {error}")
                continue
            records[case.label].append({"image": path.name, **record})
            for peer in peers:
                if peer.case == case.label:
                    try:
                        result = _run_peer(peer, case, truth, sample)
                    except Exception as error:
                        log(args, f"  peer {peer.name} failed: {error}")
                        continue
                    peer_records[peer.name].append({"image": path.name, **result})

    rows = [{"label": case.label, "op": case.op, "params": dict(case.params),
             "degradation": DEGRADATIONS[case.degradation].label,
             "summary": summarise([_numbers(r) for r in records[case.label]]),
             "images": records[case.label]} for case in cases]
    peer_rows = []
    for peer in peers:
        case = next(case for case in cases if case.label == peer.case)
        ours = next(row for row in rows if row["label"] == case.label)["summary"]
        summary = summarise([_numbers(r) for r in peer_records[peer.name]])
        ratio = (summary["s_per_mp"] / ours["s_per_mp"]
                 if summary.get("s_per_mp") and ours.get("s_per_mp") else None)
        peer_rows.append({"label": f"  vs {peer.name}", "peer": peer.name, "case": case.label,
                          "degradation": DEGRADATIONS[case.degradation].label,
                          "summary": summary, "images": peer_records[peer.name],
                          "note": f"{ratio:.2f}× our time" if ratio else ""})

    threads = getattr(args, "threads", None)
    print(f"classical suite: {len(images)} images from {args.data}, "
          f"{time.perf_counter() - started:.1f} s, device: {device or 'default'}, "
          f"CPU threads: {threads or 'default'}")
    print(format_table(_interleave(rows, peer_rows)))
    print("PSNR, SSIM: mean over the images (inpaint: inside the holes only, which start "
          "white).\ns/MP: median seconds per megapixel, after one untimed warm-up run.\n"
          "detect_defects: pixel precision and recall with 1 px slack.\n"
          "template_match: pasted copies found at their exact top-left corner.")
    if failures:
        print(f"{len(failures)} failures:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
    if getattr(args, "json", None):
        report = {"suite": "classical", "data": str(args.data), "images": [p.name for p in images],
                  "seed": getattr(args, "seed", 0), "threads": threads,
                  "device": device, "environment": environment(),
                  "cases": rows, "peers": peer_rows, "failures": failures}
        Path(args.json).write_text(json.dumps(report, indent=2, default=jsonable) + "\n",
                                   encoding="utf-8")
        log(args, f"raw numbers written to {args.json}")
    return 1 if failures else 0



def _numbers(record: Mapping[str, Any]) -> dict[str, float]:
    return {key: value for key, value in record.items() if isinstance(value, float)}


def _interleave(rows: Sequence[dict[str, Any]], peer_rows: Sequence[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(row)
        out.extend(peer for peer in peer_rows if peer["case"] == row["label"])
    return out


