"""Training recipe for the learned denoiser (:mod:`engine.ops.denoise.net`).

Data: random crops of the CBSD432 colour photos (BSDS500 minus the CBSD68 test images), with a
random flip/rot90, degraded on the fly by :mod:`engine.training.noise`: the ``awgn`` mix
(Gaussian σ ∈ [0, 75], Poisson–Gaussian, channel-correlated, JPEG; some samples grey) of the
first model, or the ``real`` mix that adds filtered luma/chroma noise, demosaicked noise, film
grain and spatially varying levels. ``map_channels`` 1 trains ``denoise_unet_v1`` (one σ), 2
``denoise_unet_v2`` (luma σ, chroma σ); ``--init-from`` v1 weights into a v2 config widens them
(:func:`engine.ops.denoise.net.widen_noise_map`), so the run starts from the v1 behaviour. A
fixed held-out split of the training folder (every ``val_every_nth`` file in sorted order) is
never trained on; the validation PSNR at σ = 15/25/50 on centre crops of it is logged and picks
the best checkpoint (``val_psnr_real``, on the same crops with seeded filtered, demosaicked and
grain noise, is logged beside it). CBSD68 and McMaster are evaluation sets only: nothing here
reads them.

Loss: Charbonnier (a smooth L1). Optimiser: AdamW with linear warm-up and a cosine decay to 1 %
of the peak learning rate. An exponential moving average (EMA) of the weights is kept, and it is
the EMA that is validated and exported.

Runs are resumable in chunks: ``--minutes M`` stops cleanly after M minutes and writes
``last.pt``; ``--resume`` continues from it (step counter, optimiser, EMA, RNG state and the
accumulated training time are restored). ``log.jsonl`` in the run folder has one line per log
interval (loss, learning rate, seconds per step) and per validation. Checkpoints are plain
tensors and numbers, loaded with ``torch.load(weights_only=True)``.

``--export`` writes the best checkpoint's EMA weights as safetensors into ``resources/models``
(``denoise_unet`` for a one-channel config, ``denoise_unet_v2`` for a two-channel one) and
merges the model's entry (sha256, architecture, config, data, steps, hardware, time, PSNR) into
``manifest.json``.

Examples
--------
Train on a CPU in 60-minute chunks, then export::

    nice -n 19 python -m engine.training.denoise --config cpu --threads 1 --minutes 60
    nice -n 19 python -m engine.training.denoise --config cpu --threads 1 --minutes 60 --resume
    python -m engine.training.denoise --config cpu --export

On a GPU (same architecture, larger batches, many more steps), from scratch or continuing from
the shipped weights::

    python -m engine.training.denoise --config gpu --device cuda --workers 12 --minutes 600
    python -m engine.training.denoise --config gpu --device cuda --workers 12 --minutes 600 \
        --init-from resources/models/denoise_unet.safetensors
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.pixels import from_tensor, to_tensor_batch
from engine.training.cli import (
    add_export_arguments,
    add_run_arguments,
    add_schedule_arguments,
    run_main,
)
from engine.training.common import (
    centre_crop,
    config_from,
    list_images,
    load_checkpoint,
    load_images,
    make_checkpointer,
    make_logger,
    open_run,
    random_crop,
    split_files,
    start_training,
    train_loop,
)
from engine.training.denoise_config import (
    CONFIGS,
    MODEL_NAME,
    MODEL_NAME_V2,
    NOISE_DESCRIPTIONS,
    TrainConfig,
)
from engine.training.export import export_run
from engine.training.noise import NOISE_MIXES, NoiseSpec, synthesize, synthesize_batch

if TYPE_CHECKING:
    import torch

__all__ = [
    "CONFIGS",
    "DEFAULT_DATA",
    "MODEL_NAME",
    "MODEL_NAME_V2",
    "TrainConfig",
    "export",
    "load_images",
    "main",
    "split_files",
    "train",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "train" / "cbsd432"
DEFAULT_RUNS = REPO_ROOT / "runs"
VAL_SIGMAS = (15, 25, 50)
REAL_KINDS = ("filtered", "demosaic", "grain")
"""Real-noise kinds of the ``val_psnr_real`` validation figure."""


# ---------------------------------------------------------------------------------- data


def random_crops(images: Sequence[np.ndarray], count: int, size: int,
                 rng: np.random.Generator, halves: Sequence[np.ndarray] = (),
                 half_share: float = 0.0) -> list[np.ndarray]:
    """``count`` random ``size×size`` float32 crops with a random flip/rot90 each; with
    ``halves``, each crop comes from them with probability ``half_share``."""
    crops = []
    for _ in range(count):
        pool = halves if halves and rng.random() < half_share else images
        crops.append(random_crop(pool[int(rng.integers(len(pool)))], size, rng))
    return crops


def halved(images: Sequence[np.ndarray], min_edge: int) -> list[np.ndarray]:
    """The photos at half their size (area average), those still ``min_edge`` px or more on
    their short side: a 4:2:0 JPEG's colour is at full resolution there."""
    small = [cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2),
                        interpolation=cv2.INTER_AREA) for image in images]
    return [image for image in small if min(image.shape[:2]) >= min_edge]


def level_maps(levels: np.ndarray, map_channels: int) -> torch.Tensor:
    """The network's noise map from a batch's ``N×H×W×2`` (luma σ, chroma σ) levels.

    ``N×M×1×1`` when every map is constant (the network broadcasts it), ``N×M×H×W``
    otherwise; one channel (v1) is :func:`engine.ops.denoise.opponent.rgb_sigma` of the two.
    """
    import torch

    levels = np.asarray(levels, dtype=np.float32)
    if map_channels == 1:
        levels = np.sqrt((levels[..., :1] ** 2 + 2.0 * levels[..., 1:] ** 2) / 3.0)
    if np.all(levels == levels[:, :1, :1]):
        levels = levels[:, :1, :1]
    return torch.from_numpy(np.array(levels.transpose(0, 3, 1, 2), dtype=np.float32, order="C"))


def _batch_stream(images: Sequence[np.ndarray], halves: Sequence[np.ndarray],
                  config: TrainConfig, spec: NoiseSpec, workers: int, seed: int,
                  device: torch.device
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless ``(clean, noisy, noise map)`` training batches from ``workers`` processes.

    Each worker draws from ``default_rng([seed, worker])``; ``seed`` should change on every
    resume so that a continued run does not replay the same crops.
    """
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class NoisyCrops(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            rng = np.random.default_rng([seed, info.id if info is not None else 0])
            while True:
                crops = random_crops(images, config.batch, config.crop, rng, halves,
                                     config.full_chroma_share)
                clean, noisy, levels = synthesize_batch(crops, rng, spec)
                yield (to_tensor_batch(clean), to_tensor_batch(noisy),
                       level_maps(levels, config.map_channels))

    loader = DataLoader(NoisyCrops(), batch_size=None, num_workers=workers,
                        pin_memory=device.type == "cuda", prefetch_factor=4,
                        persistent_workers=True)
    for clean, noisy, sigma in loader:
        yield (clean.to(device, non_blocking=True), noisy.to(device, non_blocking=True),
               sigma.to(device, non_blocking=True))


# ---------------------------------------------------------------------------------- model


def _build(config: TrainConfig) -> torch.nn.Module:
    from engine.ops.denoise.net import build_denoiser

    return build_denoiser(config.model_config())


def _charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    import torch

    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


class _Validator:
    """Fixed noisy centre crops of the held-out images at σ = 15/25/50 (seeded, unclipped),
    and, under the key ``real``, the same crops with seeded real-camera noise (filtered,
    demosaicked, grain; unclipped; map = the measured levels). With ``halves`` (the held-out
    photos at half size, colour at full resolution) also ``full_15`` and ``full_25``, and
    ``25_both``, the mean of the σ = 25 figures of both sets."""

    def __init__(self, images: Sequence[np.ndarray], crop: int, device: torch.device,
                 map_channels: int, halves: Sequence[np.ndarray] = ()) -> None:
        self.device = device
        self.map_channels = map_channels
        self.items: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
        spec = NoiseSpec(gray_probability=0.0, clip_probability=0.0)
        for index, image in enumerate(images):
            clean = centre_crop(image, crop, 8)
            for sigma in VAL_SIGMAS:
                rng = np.random.default_rng(1000 * sigma + index)
                noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * (
                    sigma / 255.0)
                levels = np.full(2, sigma / 255.0, np.float32)
                self.items.append((str(sigma), clean, noisy.astype(np.float32), levels))
            for number, kind in enumerate(REAL_KINDS):
                rng = np.random.default_rng([7, index, number])
                _, noisy, levels, _ = synthesize(clean, rng, spec, kind=kind)
                self.items.append(("real", clean, noisy, levels))
        for index, image in enumerate(halves):
            clean = centre_crop(image, crop, 8)
            for sigma in VAL_SIGMAS[:2]:
                rng = np.random.default_rng([11, sigma, index])
                noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * (
                    sigma / 255.0)
                levels = np.full(2, sigma / 255.0, np.float32)
                self.items.append((f"full_{sigma}", clean, noisy.astype(np.float32), levels))

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        import torch

        scores: dict[str, list[float]] = {}
        model.eval()
        with torch.inference_mode():
            for key, clean, noisy, levels in self.items:
                x = to_tensor_batch(noisy[None], self.device)
                level = level_maps(np.broadcast_to(levels, (1, 1, 1, 2)), self.map_channels)
                out = from_tensor(model(x, level.to(self.device)).clamp(0, 1))
                mse = float(np.mean((out.astype(np.float64) - clean) ** 2))
                scores.setdefault(key, []).append(10.0 * math.log10(1.0 / max(mse, 1e-10)))
        model.train()
        result = {f"val_psnr_{s}": float(np.mean(v)) for s, v in scores.items()}
        if "full_25" in scores:
            result["val_psnr_25_both"] = (result["val_psnr_25"] + result["val_psnr_full_25"]) / 2
        return result


# ---------------------------------------------------------------------------------- training


def train(config: TrainConfig | str, run_dir: Path, data_dir: Path = DEFAULT_DATA, *,
          steps: int | None = None, minutes: float | None = None, resume: bool = False,
          device: str = "cpu", seed: int = 0, max_steps_this_run: int | None = None,
          workers: int = 0, init_from: Path | None = None, echo: bool = False
          ) -> dict[str, Any]:
    """Train (or continue training) the denoiser.

    Parameters
    ----------
    config : TrainConfig or str
        A config or the name of one in :data:`CONFIGS`.
    run_dir : Path
        Folder for ``last.pt``, ``best.pt`` and ``log.jsonl``.
    data_dir : Path
        Folder of clean training images (CBSD432 by default).
    steps : int, optional
        Override the schedule's total steps (also on resume).
    minutes : float, optional
        Stop cleanly after this much wall time in this run, saving ``last.pt``.
    resume : bool
        Continue from ``run_dir/last.pt``.
    device : str
        Torch device to train on.
    seed : int
        Seed of the crop/noise generator and of the initial weights.
    max_steps_this_run : int, optional
        Stop after this many steps in this run (tests).
    workers : int
        Processes that crop and degrade batches in parallel (for a GPU, whose step is far
        faster than the noise synthesis). 0 does it in this process, and only then is a
        resumed run bit-identical to an uninterrupted one.
    init_from : Path, optional
        Start a new run from these weights (a run's ``.pt`` checkpoint, whose EMA is taken, or
        an exported ``.safetensors``) instead of random ones: fine-tuning, e.g. continuing
        the shipped CPU-trained model on a GPU with the ``gpu`` config's schedule.
    echo : bool
        Print log lines to stdout (the command line sets it).

    Returns
    -------
    dict
        ``step``, ``loss`` (last logged), ``best_val``, ``elapsed_seconds``, ``stopped``.
    """
    import torch

    config = CONFIGS[config] if isinstance(config, str) else config
    files, config, state = open_run(run_dir, config, TrainConfig, resume=resume, steps=steps)
    device_t = torch.device(device)

    train_files, val_files = split_files(list_images(data_dir), config.val_every_nth)
    images = load_images(train_files, config.crop)
    halves = halved(images, config.crop) if config.full_chroma_share > 0 else []
    val_images = load_images(val_files, 16)
    validate = _Validator(val_images, config.val_crop, device_t, config.map_channels,
                          halved(val_images, 16) if config.full_chroma_share > 0 else [])

    def widen(weights: dict[str, torch.Tensor], _model: torch.nn.Module
              ) -> dict[str, torch.Tensor]:
        from engine.ops.denoise.net import widen_noise_map

        return widen_noise_map(weights) if config.map_channels == 2 else weights

    trainee = start_training(lambda: _build(config), config, device_t, seed=seed, state=state,
                             init_from=init_from, adapt=widen)
    model, rng, run = trainee.model, trainee.rng, trainee.run
    spec = NOISE_MIXES[config.noise]
    log = make_logger(files, run, echo=echo)
    checkpoint = make_checkpointer(trainee, config, lambda: {
        "data": str(data_dir), "train_images": len(images), "half_size_images": len(halves),
        "full_chroma_share": config.full_chroma_share,
        "val_images": [p.name for p in val_files]})

    stream = _batch_stream(images, halves, config, spec, workers, seed * 1_000_003 + run.step,
                           device_t) if workers > 0 else None

    def next_loss() -> torch.Tensor:
        if stream is not None:
            clean_t, noisy_t, map_t = next(stream)
        else:
            crops = random_crops(images, config.batch, config.crop, rng, halves,
                                 config.full_chroma_share)
            clean, noisy, levels = synthesize_batch(crops, rng, spec)
            clean_t, noisy_t = to_tensor_batch(clean, device_t), to_tensor_batch(noisy, device_t)
            map_t = level_maps(levels, config.map_channels).to(device_t)
        return _charbonnier(model(noisy_t, map_t), clean_t)

    try:
        return train_loop(trainee, config, next_loss, validate=validate,
                          val_key=config.val_key, log=log, checkpoint=checkpoint, files=files,
                          minutes=minutes, max_steps_this_run=max_steps_this_run)
    finally:
        if stream is not None:
            stream.close()


# ---------------------------------------------------------------------------------- export


def export(run_dir: Path, out_dir: Path | None = None, *, name: str | None = None,
           checkpoint: str = "best.pt", quality: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """Write a checkpoint's EMA weights as safetensors and merge its manifest entry.

    Parameters
    ----------
    run_dir : Path
        The training run folder.
    out_dir : Path, optional
        The models folder; :func:`engine.models.weights.models_dir` by default.
    name : str, optional
        Manifest name; the file is ``<name>.safetensors``. By default ``denoise_unet`` for a
        one-channel config, ``denoise_unet_v2`` for a two-channel one.
    checkpoint : str
        ``best.pt`` (highest held-out PSNR at σ = 25) or ``last.pt``.
    quality : dict, optional
        Measured benchmark figures (from :mod:`engine.bench.denoise`) to record.

    Returns
    -------
    dict
        The manifest entry written.
    """
    config = config_from(TrainConfig, load_checkpoint(Path(run_dir) / checkpoint)["config"])

    def describe(state: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "training_data": (f"{Path(state['data']).name}: {state['train_images']} images "
                              f"(CBSD432 = BSDS500 minus CBSD68); held out for validation: "
                              f"{len(state['val_images'])} images"),
            "noise": NOISE_DESCRIPTIONS[config.noise],
            "val_psnr_heldout_cbsd432": {k: round(v, 3)
                                         for k, v in (state.get("val") or {}).items()},
        }

    return export_run(run_dir, out_dir, name=name or config.model_name, checkpoint=checkpoint,
                      quality=quality, architecture=config.architecture, task="denoise",
                      recipe="denoise", config_type=TrainConfig, describe=describe)


# ---------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine.training.denoise",
        description="Train the PixelMend denoiser (resumable) or export its weights.")
    add_run_arguments(parser, configs=CONFIGS, run_dir_help="run folder (default: "
                      "runs/denoise_<config>)", data=DEFAULT_DATA,
                      data_help="folder of clean training images (default: CBSD432)")
    add_schedule_arguments(parser)
    parser.add_argument("--workers", type=int, default=0,
                        help="data processes (use 8-12 with a GPU; 0 = exact resume)")
    add_export_arguments(parser, None, default_help=f"{MODEL_NAME} for one-channel configs, "
                                                    f"{MODEL_NAME_V2} for two-channel ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    run_dir = args.run_dir or DEFAULT_RUNS / f"denoise_{args.config}"
    return run_main(args, run_dir, export, lambda: train(
        args.config, run_dir, args.data, steps=args.steps, minutes=args.minutes,
        resume=args.resume, device=args.device, seed=args.seed, workers=args.workers,
        init_from=args.init_from, echo=True))


if __name__ == "__main__":
    sys.exit(main())
