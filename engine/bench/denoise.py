"""``pixelmend bench denoise``: the learned denoiser against classical peers on clean photos.

Every image of the folder gets additive white Gaussian noise of each σ (8-bit units), drawn with
``numpy.random.default_rng(seed + index)`` and *not* clipped (the usual protocol of the published
CBSD68 / McMaster tables). Each method then denoises the same noisy image:

``ours``
    The shipped network given the true σ (non-blind, like CBM3D).
``ours-auto``
    The same network given the luma and chroma levels estimated from the noisy image (what the
    op does by default, :func:`engine.ops.denoise.noise_level.estimate_levels`).
``ours-regional``
    The same with the per-region map (:func:`engine.ops.denoise.noise_level.estimate_level_map`,
    the op's ``noise_map=regional``), with ``--noise-map regional``.
``ours-best``, ``ours-best-auto``, ``ours-best-regional``
    The same with the 8-fold flip/rotation self-ensemble (the op's ``quality=best``), with
    ``--quality best`` (or ``fast,best`` for both). The estimate is made once per noisy image
    and its time is counted in every row that uses it.
``nlm``
    OpenCV non-local means, ``cv2.fastNlMeansDenoisingColored`` (``fastNlMeansDenoising`` for
    grey) on the noisy image clipped and rounded to 8 bits (what OpenCV accepts), 7×7 patches,
    21×21 search window, ``h = hColor = 0.5·σ``. The factor is a simple rule chosen on the first
    two CBSD432 training images (0.3, 0.4, 0.5, 0.6, 0.8, 1.0 and 1.2·σ tried; 0.5 was best at
    σ = 15, 25 and 50 alike).
``cbm3d``
    The ``bm3d`` package (``pip install bm3d``): ``bm3d.bm3d_rgb(noisy, sigma_psd=σ/255)`` for
    colour, ``bm3d.bm3d`` for grey. Skipped with a note when it is not installed.

Outputs are clipped to [0, 1] and scored against the clean image with
:func:`engine.core.metrics.psnr` and :func:`engine.core.metrics.ssim`; time is wall-clock seconds
per megapixel of the call alone. The table gives each peer's PSNR difference and time ratio to
``ours``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.bench.common import list_images, load_truth
from engine.core.metrics import psnr, ssim

__all__ = [
    "NLM_H_FACTOR",
    "PEERS",
    "add_suite_arguments",
    "format_table",
    "run_denoise_bench",
    "suite",
    "summarize",
]

PEERS = ("nlm", "cbm3d")
NLM_H_FACTOR = 0.5


def _load(path: Path) -> np.ndarray:
    """The image as float32, one channel when its three channels are equal (Set12, BSD68)."""
    image = load_truth(path)
    if image.shape[2] == 3 and np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(
            image[:, :, 1], image[:, :, 2]):
        image = image[:, :, :1]
    return image


def _nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    pixels = np.rint(np.clip(noisy, 0.0, 1.0) * 255.0).astype(np.uint8)
    h = NLM_H_FACTOR * sigma
    if pixels.shape[2] == 1:
        out = cv2.fastNlMeansDenoising(pixels[:, :, 0], None, h, 7, 21)[:, :, None]
    else:
        out = cv2.fastNlMeansDenoisingColored(pixels, None, h, h, 7, 21)
    return out.astype(np.float32) / 255.0


def _cbm3d() -> Callable[[np.ndarray, float], np.ndarray] | None:
    try:
        import bm3d
    except ImportError:
        return None

    def run(noisy: np.ndarray, sigma: float) -> np.ndarray:
        if noisy.shape[2] == 1:
            out = bm3d.bm3d(noisy[:, :, 0].astype(np.float64), sigma_psd=sigma / 255.0)
            return np.asarray(out, dtype=np.float32).reshape(noisy.shape)
        return np.asarray(bm3d.bm3d_rgb(noisy.astype(np.float64), sigma_psd=sigma / 255.0),
                          dtype=np.float32)

    return run


class _Ours:
    """Our methods by name: per quality, the true σ and (when blind) each estimate.

    The estimate of a noisy image is made once and shared by the rows that use it;
    :attr:`extra_seconds` is the estimate time a call took from the cache (the caller adds
    it to that call's time, so every blind row pays for its estimate).
    """

    def __init__(self, qualities: Sequence[str], maps: Sequence[str], blind: bool,
                 device: Any, model: str) -> None:
        self.device = device
        self.model = model
        self.extra_seconds = 0.0
        self._cache: dict[tuple[int, str], tuple[np.ndarray, Any, float]] = {}
        self.methods: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {}
        for quality in qualities:
            best = quality == "best"
            prefix = "ours-best" if best else "ours"
            self.methods[prefix] = partial(self._given, best=best)
            for kind in maps if blind else ():
                suffix = "auto" if kind == "uniform" else kind
                self.methods[f"{prefix}-{suffix}"] = partial(self._blind, best=best, kind=kind)

    def warm_up(self) -> None:
        """Load the weights and run the network once, so that no timed row pays for it."""
        from engine.ops.denoise.denoise_op import denoise_array

        grain = np.random.default_rng(0).standard_normal((32, 32, 3)).astype(np.float32)
        denoise_array(0.5 + 0.1 * grain, 0.1, device=self.device, model=self.model)

    def _given(self, noisy: np.ndarray, sigma: float, *, best: bool) -> np.ndarray:
        from engine.ops.denoise.denoise_op import denoise_array

        return denoise_array(noisy, sigma / 255.0, device=self.device, ensemble=best,
                             model=self.model)[0]

    def _blind(self, noisy: np.ndarray, sigma: float, *, best: bool, kind: str) -> np.ndarray:
        from engine.ops.denoise.denoise_op import denoise_array
        from engine.ops.denoise.noise_level import estimate_level_map, estimate_levels

        # The cache keeps the noisy array itself: while it is held, no new array can take its
        # id, so a later image's estimate is never read from an earlier one's.
        key = (id(noisy), kind)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is noisy:
            _, levels, seconds = cached
            self.extra_seconds = seconds
        else:
            if len(self._cache) > 4:
                self._cache.clear()
            started = time.perf_counter()
            levels = (estimate_level_map(noisy)[0] if kind == "regional"
                      else estimate_levels(noisy))
            self._cache[key] = (noisy, levels, time.perf_counter() - started)
        return denoise_array(noisy, levels, device=self.device, ensemble=best,
                             model=self.model)[0]


def run_denoise_bench(data_dir: str | Path, sigmas: Sequence[float], *, limit: int | None = None,
                      peers: Sequence[str] = PEERS, device: str | None = None, seed: int = 0,
                      blind: bool = True, qualities: Sequence[str] = ("fast",),
                      noise_maps: Sequence[str] = ("uniform",), model: str | None = None,
                      log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Measure the denoiser and its peers on a folder of clean images.

    Parameters
    ----------
    data_dir : str or Path
        Folder of clean images (e.g. ``../shared/data/cbsd68``).
    sigmas : sequence of float
        Gaussian noise levels in 8-bit units.
    limit : int, optional
        Use only the first ``limit`` images (sorted by name).
    peers : sequence of str
        Any of ``"nlm"`` and ``"cbm3d"``.
    device : str, optional
        Device for the network (``None``: the engine's choice).
    seed : int
        Base seed; image ``i`` uses ``default_rng(seed + i)``.
    blind : bool
        Also run the network on the estimated levels (``ours-auto``).
    qualities : sequence of str
        ``"fast"`` (one pass) and/or ``"best"`` (the 8-fold self-ensemble, ``ours-best…``).
    noise_maps : sequence of str
        Estimates to run blind: ``"uniform"`` (``…-auto``) and/or ``"regional"``.
    model : str, optional
        The installed denoiser to measure (a manifest name,
        :func:`engine.ops.denoise.denoiser.denoise_models`); the op's by default.
    log : callable, optional
        Receives one line per image and σ.

    Returns
    -------
    list of dict
        One row per σ and method: ``sigma``, ``method``, ``psnr``, ``ssim``, ``sec_per_mp``,
        ``images``, ``dpsnr`` (PSNR minus ours), ``time_ratio`` (seconds over ours), ``note``.
    """
    from engine.core.device import select_device
    from engine.ops.denoise.denoiser import MODEL_NAME, denoise_models

    model = model or MODEL_NAME
    known = denoise_models()
    if model not in known:
        raise ValueError(f"unknown model {model}; known: {', '.join(known)}")
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    for name, values, known in (("quality", qualities, ("fast", "best")),
                                ("noise map", noise_maps, ("uniform", "regional"))):
        if not values or set(values) - set(known):
            raise ValueError(f"unknown {name} {', '.join(values)}; known: {', '.join(known)}")
    files = list_images(Path(data_dir), limit)
    torch_device = select_device(device)
    ours = _Ours(qualities, noise_maps, blind, torch_device, model)
    ours.warm_up()
    methods: dict[str, Callable[[np.ndarray, float], np.ndarray] | None] = dict(ours.methods)
    if "nlm" in peers:
        methods["nlm"] = _nlm
    if "cbm3d" in peers:
        methods["cbm3d"] = _cbm3d()

    scores: dict[tuple[float, str], list[tuple[float, float, float]]] = {}
    for index, path in enumerate(files):
        clean = _load(path)
        megapixels = clean.shape[0] * clean.shape[1] / 1e6
        for sigma in sigmas:
            rng = np.random.default_rng(seed + index)
            noise = rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255)
            noisy = clean + noise
            parts = []
            for name, method in methods.items():
                if method is None:
                    continue
                ours.extra_seconds = 0.0
                started = time.perf_counter()
                out = np.clip(method(noisy, float(sigma)), 0.0, 1.0)
                seconds = time.perf_counter() - started + ours.extra_seconds
                quality = (psnr(out, clean), ssim(out, clean), seconds / megapixels)
                scores.setdefault((sigma, name), []).append(quality)
                parts.append(f"{name} {quality[0]:.2f}")
            if log:
                log(f"{path.name} σ={sigma:g}: " + ", ".join(parts))

    rows = []
    for sigma in sigmas:
        ours = scores.get((sigma, "ours"))
        for name, method in methods.items():
            if method is None:
                rows.append({"sigma": sigma, "method": name, "psnr": None, "ssim": None,
                             "sec_per_mp": None, "images": 0, "dpsnr": None,
                             "time_ratio": None,
                             "note": "skipped: the bm3d package is not installed "
                                     "(pip install bm3d)"})
                continue
            values = np.asarray(scores[(sigma, name)], dtype=np.float64)
            row = {"sigma": sigma, "method": name, "psnr": float(values[:, 0].mean()),
                   "ssim": float(values[:, 1].mean()), "sec_per_mp": float(values[:, 2].mean()),
                   "images": len(values), "note": ""}
            if ours:
                base = np.asarray(ours, dtype=np.float64)
                row["dpsnr"] = row["psnr"] - float(base[:, 0].mean())
                row["time_ratio"] = row["sec_per_mp"] / float(base[:, 2].mean())
            rows.append(row)
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a plain-text table (ΔPSNR and time are relative to ``ours``)."""
    header = (f"{'σ':>4}  {'method':<18} {'PSNR dB':>8} {'SSIM':>7} {'s/MP':>8} "
              f"{'ΔPSNR':>7} {'time×':>7}  images")
    lines = [header, "-" * len(header)]

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    for row in rows:
        if row.get("note") and row["psnr"] is None:
            lines.append(f"{row['sigma']:>4g}  {row['method']:<18} {row['note']}")
            continue
        lines.append(
            f"{row['sigma']:>4g}  {row['method']:<18} {num(row['psnr'], '8.2f')} "
            f"{num(row['ssim'], '7.4f')} {num(row['sec_per_mp'], '8.2f')} "
            f"{num(row.get('dpsnr'), '+7.2f')} {num(row.get('time_ratio'), '7.2f')}  "
            f"{row['images']}")
    return "\n".join(lines)


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{method: {"psnr": {σ: dB}, "ssim": {...}, "sec_per_mp": {...}}}`` for a manifest."""
    out: dict[str, Any] = {}
    for row in rows:
        if row["psnr"] is None:
            continue
        entry = out.setdefault(row["method"], {"psnr": {}, "ssim": {}, "sec_per_mp": {},
                                               "images": row["images"]})
        key = f"{row['sigma']:g}"
        entry["psnr"][key] = round(row["psnr"], 2)
        entry["ssim"][key] = round(row["ssim"], 4)
        entry["sec_per_mp"][key] = round(row["sec_per_mp"], 2)
    return out


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pixelmend bench denoise`` beyond the common ones."""
    parser.add_argument("--sigma", default="15,25,50",
                        help="noise levels on the 0-255 scale, comma separated (default 15,25,50)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="peers to run: nlm, cbm3d (comma separated), or 'none'")
    parser.add_argument("--no-blind", action="store_true",
                        help="skip the run with the estimated noise level")
    parser.add_argument("--quality", default="fast",
                        help="fast (one pass), best (8-fold self-ensemble) or fast,best")
    parser.add_argument("--noise-map", default="uniform",
                        help="blind estimates to run: uniform, regional or uniform,regional")
    parser.add_argument("--model", default=None,
                        help="shipped denoiser weights to measure (default: the op's)")


def suite(args: argparse.Namespace) -> int:
    """``pixelmend bench denoise --data DIR --sigma 15,25,50``: PSNR, SSIM, s/MP, ratios."""
    from engine.bench.common import write_json_report
    from engine.ops.denoise.denoiser import MODEL_NAME

    peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    try:
        sigmas = [float(s) for s in args.sigma.split(",") if s]
    except ValueError:
        raise ValueError(f"--sigma takes numbers separated by commas, not {args.sigma!r}") from None
    rows = run_denoise_bench(args.data, sigmas, limit=args.limit, peers=peers,
                             device=args.device, seed=args.seed, blind=not args.no_blind,
                             qualities=[q for q in args.quality.split(",") if q],
                             noise_maps=[m for m in args.noise_map.split(",") if m],
                             model=args.model,
                             log=None if args.quiet else
                             (lambda line: print(line, file=sys.stderr, flush=True)))
    print(format_table(rows))
    write_json_report(args, "denoise", rows, model=args.model or MODEL_NAME,
                      summary=summarize(rows))
    return 0
