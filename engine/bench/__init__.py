"""Benchmarks behind ``pixelmend bench``: the quality and speed of ops on a folder of images.

A suite is a function ``suite(args) -> int`` that takes the parsed ``pixelmend bench`` arguments
(``data``, ``limit``, ``ops``, ``json``, ``seed``, ``device``, ``threads``, ``quiet``, plus any
the suite adds), prints a table and returns an exit code. :data:`SUITES` maps each suite's name
to a :class:`Suite` naming ``"module:function"``, so a new suite lives in its own small module
and is imported only when it runs: write the module, add one line to :data:`SUITES`. Suites
share the helpers here (images, seeds, the table).

The ``classical`` suite degrades every image in the way each op is meant to repair, with a fixed
seed per image, and measures the op against the clean original. What each op is given and how it
is scored is one table, :data:`CLASSICAL_CASES`; the degradations are another,
:data:`DEGRADATIONS`. Peers (scikit-image, OpenCV) run on the same inputs when importable and
are reported as ratios.

Importing this module has no side effects.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import platform
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

__all__ = [
    "CLASSICAL_CASES",
    "DEGRADATIONS",
    "PEERS",
    "SUITES",
    "BenchError",
    "Case",
    "Suite",
    "Degradation",
    "Sample",
    "add_arguments",
    "classical_suite",
    "format_table",
    "get_suite",
    "list_images",
    "run_suite",
    "suite_names",
    "write_json_report",
]

@dataclass(frozen=True)
class Suite:
    """Where a suite lives: ``"module:function"`` strings (imported only when used) or callables.

    Attributes
    ----------
    run : str or callable
        ``run(args) -> int``: runs the suite on the parsed arguments, prints, returns the exit
        code.
    arguments : str or callable, optional
        ``arguments(parser)``: adds the suite's own options (beyond the common ones) to the
        ``pixelmend bench`` parser.
    """

    run: str | Callable[[argparse.Namespace], int]
    arguments: str | Callable[[argparse.ArgumentParser], None] | None = None


SUITES: dict[str, Suite] = {
    "classical": Suite("engine.bench:classical_suite"),
    "denoise": Suite("engine.bench.denoise:suite", "engine.bench.denoise:add_suite_arguments"),
    "inpaint": Suite("engine.bench.inpaint:suite",
                     "engine.bench.inpaint:add_suite_arguments"),
    "texture": Suite("engine.bench.texture:suite", "engine.bench.texture:add_suite_arguments"),
}


class BenchError(ValueError):
    """A benchmark cannot start: unknown suite, missing data folder, unknown op name."""


def suite_names() -> list[str]:
    """Names of the known suites."""
    return sorted(SUITES)


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def get_suite(name: str) -> Callable[[argparse.Namespace], int]:
    """Import and return the function that runs the suite registered as ``name``."""
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}")
    return _resolve(SUITES[name].run)


def add_arguments(parser: argparse.ArgumentParser, suite: str | None = None) -> None:
    """Add the arguments every suite understands, and those of ``suite``, to ``parser``."""
    parser.add_argument("suite", metavar="SUITE", help=f"one of: {', '.join(suite_names())}")
    parser.add_argument("--data", metavar="DIR", required=True,
                        help="folder of clean images (e.g. ../shared/data/cbsd68)")
    parser.add_argument("--limit", type=int, metavar="N", help="use only the first N images")
    parser.add_argument("--ops", metavar="A,B", help="only these ops (or case labels), comma "
                                                    "separated")
    parser.add_argument("--json", metavar="FILE", help="also save the raw numbers as JSON")
    parser.add_argument("--seed", type=int, default=0,
                        help="base seed; each image's degradation seed derives from it and the "
                             "file name (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="device for ops that can use one (default: PIXELMEND_DEVICE or "
                             "the best available)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for OpenCV and torch during the run (default: theirs); "
                             "1 gives steadier timings on a busy machine")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    if suite in SUITES and SUITES[suite].arguments is not None:
        _resolve(SUITES[suite].arguments)(parser.add_argument_group(f"{suite} suite"))


def run_suite(args: argparse.Namespace) -> int:
    """Run the suite named by ``args.suite`` (with ``args.threads`` CPU threads, if given)."""
    suite = get_suite(args.suite)
    with cpu_threads(getattr(args, "threads", None)):
        return suite(args)


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Limit OpenCV's and torch's CPU threads to ``count`` inside the block, then restore them."""
    if count is None:
        yield
        return
    if count < 1:
        raise BenchError("--threads must be at least 1")
    import torch

    before = (cv2.getNumThreads(), torch.get_num_threads())
    cv2.setNumThreads(count)
    torch.set_num_threads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


# ------------------------------------------------------------------------------------- helpers


def list_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """The supported images directly inside ``folder``, sorted, the first ``limit`` of them."""
    from engine.io import is_supported

    path = Path(folder)
    if not path.is_dir():
        raise BenchError(f"{path}: no such data folder")
    if limit is not None and limit < 1:
        raise BenchError("--limit must be at least 1")
    images = sorted(p for p in path.iterdir() if p.is_file() and is_supported(p))
    if not images:
        raise BenchError(f"{path}: no supported images in this folder")
    return images[:limit] if limit else images


def image_seed(path: Path, base: int = 0) -> int:
    """A seed fixed by the file name (not its position), so ``--limit`` never changes it."""
    return (zlib.crc32(path.name.encode("utf-8")) + 7919 * base) % 2**31


def load_truth(path: Path) -> np.ndarray:
    """The image as float32 ``H×W×C`` in [0, 1], alpha dropped."""
    from engine.core.pixels import split_alpha, to_float
    from engine.io import load

    colour, _ = split_alpha(load(path).pixels)
    return to_float(colour)


# -------------------------------------------------------------------------------- degradations


@dataclass
class Sample:
    """A degraded image and what was planted: a hole or defect mask, template positions."""

    image: np.ndarray
    mask: np.ndarray | None = None
    truth_mask: np.ndarray | None = None
    positions: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Degradation:
    """A named way of damaging a clean image, and a phrase for the table."""

    label: str
    make: Callable[[np.ndarray, np.random.Generator], Sample]


def _gaussian_noise(sigma: float) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        noise = rng.normal(0.0, sigma, truth.shape).astype(np.float32)
        return Sample(np.clip(truth + noise, 0.0, 1.0))

    return make


def _salt_pepper(amount: float) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        hit = rng.random(truth.shape[:2]) < amount
        salt = rng.random(truth.shape[:2]) < 0.5
        image = truth.copy()
        image[hit & salt] = 1.0
        image[hit & ~salt] = 0.0
        return Sample(image, truth_mask=hit)

    return make


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with a Gaussian of ``sigma`` px (kernel radius 3σ, reflected borders)."""
    size = 2 * math.ceil(3 * sigma) + 1
    blurred = cv2.GaussianBlur(image, (size, size), sigma, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(image.shape)


def _blur(sigma: float, noise: float = 0.0) -> Callable[[np.ndarray, np.random.Generator], Sample]:
    def make(truth: np.ndarray, rng: np.random.Generator) -> Sample:
        image = gaussian_blur(truth, sigma)
        if noise:
            image = image + rng.normal(0.0, noise, truth.shape).astype(np.float32)
        return Sample(np.clip(image, 0.0, 1.0).astype(np.float32))

    return make


def _strokes(shape: tuple[int, int], rng: np.random.Generator, count: int,
             widths: tuple[int, int]) -> np.ndarray:
    """Random polyline strokes (scratches, scribbles) as a ``bool`` mask."""
    height, width = shape
    canvas = np.zeros(shape, np.uint8)
    for _ in range(count):
        points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))]
        for _ in range(int(rng.integers(1, 4))):
            x, y = points[-1]
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.1, 0.35) * min(height, width)
            points.append((int(np.clip(x + length * math.cos(angle), 0, width - 1)),
                           int(np.clip(y + length * math.sin(angle), 0, height - 1))))
        thickness = int(rng.integers(widths[0], widths[1] + 1))
        cv2.polylines(canvas, [np.array(points, np.int32)], False, 255, thickness)
    return canvas > 0


def _scribbles(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    scale = max(1, min(truth.shape[:2]) // 100)
    hole = _strokes(truth.shape[:2], rng, 6, (2 * scale, 4 * scale))
    image = truth.copy()
    image[hole] = 1.0
    return Sample(image, mask=hole, truth_mask=hole)


def _defects(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    """Salt and pepper (0.5 %), thin scratches and dust spots, all recorded in ``truth_mask``."""
    height, width = truth.shape[:2]
    image = truth.copy()
    impulses = rng.random((height, width)) < 0.005
    salt = rng.random((height, width)) < 0.5
    image[impulses & salt] = 1.0
    image[impulses & ~salt] = 0.0
    scratches = _strokes((height, width), rng, 4, (1, 2))
    image[scratches] = np.where(rng.random() < 0.5, 0.97, 0.03)
    spots = np.zeros((height, width), np.uint8)
    for _ in range(8):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(spots, centre, int(rng.integers(2, 5)), 255, -1)
    image[spots > 0] = 0.05
    return Sample(image, truth_mask=impulses | scratches | (spots > 0))


def _template_copies(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    """Paste copies of one patch at random non-overlapping places; the mask marks the source."""
    height, width = truth.shape[:2]
    size = max(8, min(height, width) // 12)
    image = truth.copy()
    taken = np.zeros((height, width), bool)
    boxes: list[tuple[int, int]] = []
    for _ in range(200):
        y, x = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
        if not taken[max(0, y - size):y + 2 * size, max(0, x - size):x + 2 * size].any():
            taken[y:y + size, x:x + size] = True
            boxes.append((y, x))
        if len(boxes) == 4:
            break
    # A person picks a distinctive patch (a speck, a logo): take the box with the most detail.
    boxes.sort(key=lambda box: -float(truth[box[0]:box[0] + size, box[1]:box[1] + size].std()))
    (sy, sx), copies = boxes[0], boxes[1:]
    patch = truth[sy:sy + size, sx:sx + size]
    for y, x in copies:
        image[y:y + size, x:x + size] = patch
    source = np.zeros((height, width), bool)
    source[sy:sy + size, sx:sx + size] = True
    return Sample(image, mask=source, positions=[(sy, sx), *copies])


def _clean(truth: np.ndarray, rng: np.random.Generator) -> Sample:
    return Sample(truth.copy())


DEGRADATIONS: dict[str, Degradation] = {
    "noise15": Degradation("Gaussian noise σ=15/255", _gaussian_noise(15 / 255)),
    "sp10": Degradation("salt & pepper 10%", _salt_pepper(0.10)),
    "blur2": Degradation("Gaussian blur σ=2 + noise 0.5/255", _blur(2.0, 0.5 / 255)),
    "blur1": Degradation("Gaussian blur σ=1", _blur(1.0)),
    "scribbles": Degradation("scribble holes", _scribbles),
    "defects": Degradation("S&P 0.5% + scratches + spots", _defects),
    "copies": Degradation("3 pasted copies", _template_copies),
    "clean": Degradation("none (speed only)", _clean),
}

# -------------------------------------------------------------------------------------- scoring


def _tolerant_overlap(found: np.ndarray, truth: np.ndarray, tolerance: int = 1
                      ) -> tuple[float, float]:
    """Precision and recall of ``found`` against ``truth`` with a ``tolerance``-px slack."""
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    truth_wide = cv2.dilate(truth.astype(np.uint8), kernel) > 0
    found_wide = cv2.dilate(found.astype(np.uint8), kernel) > 0
    precision = float((found & truth_wide).sum() / found.sum()) if found.any() else 0.0
    recall = float((truth & found_wide).sum() / truth.sum()) if truth.any() else 1.0
    return precision, recall


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
    precision, recall = _tolerant_overlap(np.asarray(found, bool), sample.truth_mask)
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

# ------------------------------------------------------------------------------------ the table


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
    Case("detect_defects", "detect_defects", "defects", score="detect"),
    Case("template_match", "template_match", "copies", score="locate", use_mask=True),
    Case("canny", "canny", "clean", score="speed"),
)

# ----------------------------------------------------------------------------------------- peers


@dataclass(frozen=True)
class Peer:
    """Another library's take on a case, run on the same degraded input."""

    name: str
    case: str
    module: str
    run: Callable[[np.ndarray, Sample], np.ndarray]


def _skimage_nl_means(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    sigma = float(np.mean(estimate_sigma(image, channel_axis=-1)))
    out = denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                           patch_distance=6, channel_axis=-1)
    return np.asarray(out, np.float32)


def _skimage_bilateral(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import denoise_bilateral

    return np.asarray(denoise_bilateral(image, sigma_color=0.1, sigma_spatial=3,
                                        channel_axis=-1), np.float32)


def _scipy_median(image: np.ndarray, sample: Sample) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(image, size=(3, 3, 1)).astype(np.float32)


def _skimage_rl(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import richardson_lucy

    psf = _gaussian_psf(2.0)
    channels = [richardson_lucy(image[:, :, c], psf, num_iter=30, clip=True)
                for c in range(image.shape[2])]
    return np.stack(channels, axis=2).astype(np.float32)


def _skimage_wiener(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import wiener

    psf = _gaussian_psf(2.0)
    channels = [wiener(image[:, :, c], psf, balance=0.01, clip=True)
                for c in range(image.shape[2])]
    return np.clip(np.stack(channels, axis=2), 0, 1).astype(np.float32)


def _skimage_biharmonic(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return np.asarray(inpaint_biharmonic(image, sample.mask, channel_axis=-1), np.float32)


def _opencv_fast_nl_means(image: np.ndarray, sample: Sample) -> np.ndarray:
    from engine.core.pixels import from_float, to_float

    u8 = from_float(image, np.uint8)
    if u8.shape[2] == 3:
        out = cv2.fastNlMeansDenoisingColored(u8, None, 10, 10, 7, 21)
    else:
        out = cv2.fastNlMeansDenoising(u8[:, :, 0], None, 10, 7, 21)
    return to_float(out)


def _gaussian_psf(sigma: float) -> np.ndarray:
    size = 2 * math.ceil(3 * sigma) + 1
    kernel = cv2.getGaussianKernel(size, sigma)
    return (kernel @ kernel.T).astype(np.float64)


PEERS: tuple[Peer, ...] = (
    Peer("opencv fastNlMeans h=10", "nl_means", "cv2", _opencv_fast_nl_means),
    Peer("skimage nl_means", "nl_means", "skimage", _skimage_nl_means),
    Peer("skimage bilateral", "bilateral", "skimage", _skimage_bilateral),
    Peer("scipy median 3×3", "median[s&p]", "scipy", _scipy_median),
    Peer("skimage wiener", "deblur_wiener", "skimage", _skimage_wiener),
    Peer("skimage richardson_lucy", "deblur_rl", "skimage", _skimage_rl),
    Peer("skimage inpaint_biharmonic", "inpaint[telea]", "skimage", _skimage_biharmonic),
)


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------ the suite


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


def _mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def _log(args: argparse.Namespace, message: str, stream: TextIO | None = None) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=stream or sys.stderr, flush=True)


def _device(args: argparse.Namespace) -> str | None:
    """The device kind asked for with ``--device`` (validated), or None to let ops choose."""
    wanted = getattr(args, "device", None)
    if not wanted:
        return None
    from engine.core.device import DeviceError, select_device

    try:
        return str(select_device(wanted))
    except DeviceError as error:
        raise BenchError(str(error)) from None


def _run_case(case: Case, truth: np.ndarray, sample: Sample, device: str | None
              ) -> dict[str, float]:
    from engine.ops import get_op, run_op

    mask = sample.mask if case.use_mask else None
    if device is not None and device.split(":")[0] not in get_op(case.op).devices:
        device = "cpu"
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


def summarise(records: Sequence[Mapping[str, float]]) -> dict[str, float | None]:
    """Mean of every score over the images; median of the seconds per megapixel."""
    keys = sorted({key for record in records for key in record})
    summary: dict[str, float | None] = {}
    for key in keys:
        values = [record[key] for record in records if key in record]
        summary[key] = float(statistics.median(values)) if key == "s_per_mp" else _mean(values)
    return summary


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
    device = _device(args)
    cases = select_cases(CLASSICAL_CASES, getattr(args, "ops", None))
    available = set(op_names())
    missing = sorted({case.op for case in cases} - available)
    if missing:
        _log(args, f"skipping ops that are not installed: {', '.join(missing)}")
    cases = [case for case in cases if case.op in available]
    peers = [peer for peer in PEERS if any(peer.case == case.label for case in cases)]
    absent = sorted({peer.module for peer in peers if not _importable(peer.module)})
    if absent:
        _log(args, f"peers skipped, not installed: {', '.join(absent)}")
    peers = [peer for peer in peers if peer.module not in absent]

    records: dict[str, list[dict[str, Any]]] = {case.label: [] for case in cases}
    peer_records: dict[str, list[dict[str, Any]]] = {peer.name: [] for peer in peers}
    failures: list[str] = []
    started = time.perf_counter()
    for index, path in enumerate(images, 1):
        truth = load_truth(path)
        seed = image_seed(path, getattr(args, "seed", 0))
        samples: dict[str, Sample] = {}
        _log(args, f"[{index}/{len(images)}] {path.name} ({truth.shape[1]}×{truth.shape[0]})")
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
                _log(args, f"  {case.label} failed: {error}")
                continue
            records[case.label].append({"image": path.name, **record})
            for peer in peers:
                if peer.case == case.label:
                    try:
                        result = _run_peer(peer, case, truth, sample)
                    except Exception as error:
                        _log(args, f"  peer {peer.name} failed: {error}")
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
                  "device": device, "environment": _environment(),
                  "cases": rows, "peers": peer_rows, "failures": failures}
        Path(args.json).write_text(json.dumps(report, indent=2, default=_jsonable) + "\n",
                                   encoding="utf-8")
        _log(args, f"raw numbers written to {args.json}")
    return 1 if failures else 0


def write_json_report(args: argparse.Namespace, suite: str, rows: Sequence[Mapping[str, Any]],
                      **extra: Any) -> None:
    """Save a suite's raw rows to ``--json FILE`` when it was given (every suite uses this)."""
    if not getattr(args, "json", None):
        return
    report = {"suite": suite, "data": str(args.data), "seed": getattr(args, "seed", 0),
              "environment": _environment(), "rows": list(rows), **extra}
    Path(args.json).write_text(json.dumps(report, indent=2, default=_jsonable) + "\n",
                               encoding="utf-8")
    _log(args, f"raw numbers written to {args.json}")


def _numbers(record: Mapping[str, Any]) -> dict[str, float]:
    return {key: value for key, value in record.items() if isinstance(value, float)}


def _interleave(rows: Sequence[dict[str, Any]], peer_rows: Sequence[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(row)
        out.extend(peer for peer in peer_rows if peer["case"] == row["label"])
    return out


def _environment() -> dict[str, str]:
    from engine.version import __version__

    return {"engine": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "opencv": cv2.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
