"""Training recipe for the learned upscaler (:mod:`engine.ops.upscale.net`).

Data: random high-resolution crops of the CBSD432 colour photos (BSDS500 minus the CBSD68 test
images) with a random flip/rot90, and the small images made from them by
:mod:`engine.training.lowres`: mostly the benchmarks' antialiased bicubic shrink, a share through
blur, other shrinking filters, noise and JPEG. Every step trains one factor, drawn from
``scale_weights``; the low-resolution crop is ``patch`` px whatever the factor, so a step costs
the same at ×2 and ×4. A fixed held-out split of the training folder (every ``val_every_nth``
file in sorted order) is never trained on: its centre crops, shrunk by bicubic, give the logged
PSNR at ×2/×3/×4 and the gain over bicubic enlargement, whose mean (``val_gain``) picks the best
checkpoint. CBSD68, Set12 and McMaster are evaluation sets only: nothing here reads them.

Loss: L1 (sharper than L2 for super-resolution, Lim et al. 2017). AdamW, linear warm-up and a
cosine decay; the EMA of the weights is validated and exported. Runs are resumable in chunks
(``--minutes``, ``--resume``) and ``--export`` writes ``resources/models/upscale_msr.safetensors``
and its manifest entry, as the other recipes do (:mod:`engine.training.common`).

Examples
--------
::

    nice -n 19 python -m engine.training.upscale --config cpu --threads 2 --minutes 60
    nice -n 19 python -m engine.training.upscale --config cpu --threads 2 --minutes 30 --resume
    python -m engine.training.upscale --config cpu --export
    python -m engine.training.upscale --config gpu --device cuda --minutes 300
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.pixels import from_tensor, to_tensor_batch
from engine.core.resample import bicubic_downscale
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
    load_images,
    make_checkpointer,
    make_logger,
    open_run,
    random_crop,
    split_files,
    start_training,
    train_loop,
)
from engine.training.export import export_run
from engine.training.lowres import LowresSpec, degrade_batch

if TYPE_CHECKING:
    import torch

__all__ = ["CONFIGS", "DEFAULT_DATA", "MODEL_NAME", "TrainConfig", "export", "main", "train"]

MODEL_NAME = "upscale_msr"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "train" / "cbsd432"
DEFAULT_RUNS = REPO_ROOT / "runs"


@dataclass(frozen=True)
class TrainConfig:
    """One training configuration.

    Attributes
    ----------
    width, blocks : int
        Network shape (see :class:`engine.ops.upscale.net.UpscaleNet`).
    scales, scale_weights : tuple
        The factors trained and how often each is drawn.
    patch, batch : int
        Low-resolution crop edge and batch size.
    realistic_share : float
        Share of inputs degraded beyond bicubic (:class:`engine.training.lowres.LowresSpec`).
    steps, lr, weight_decay, warmup, ema
        The schedule (see :func:`engine.training.common.lr_at`).
    log_every, val_every, ckpt_every : int
        Intervals in steps.
    val_every_nth, val_crop : int
        Held-out split and the centre-crop edge validated on (a multiple of 12).
    """

    width: int = 32
    blocks: int = 8
    scales: tuple[int, ...] = (2, 3, 4)
    scale_weights: tuple[float, ...] = (0.4, 0.25, 0.35)
    patch: int = 40
    batch: int = 16
    realistic_share: float = 0.3
    steps: int = 12000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup: int = 200
    ema: float = 0.999
    log_every: int = 50
    val_every: int = 500
    ckpt_every: int = 250
    val_every_nth: int = 27
    val_crop: int = 192

    def model_config(self) -> dict[str, Any]:
        """The network part, as stored in the manifest."""
        return {"width": self.width, "blocks": self.blocks, "scales": list(self.scales),
                "input": "RGB in [0, 1] (grey replicated)",
                "output": "RGB s times larger = bicubic enlargement + predicted detail"}


CONFIGS: dict[str, TrainConfig] = {
    # Smoke tests: seconds on one CPU thread.
    "tiny": TrainConfig(width=8, blocks=1, patch=12, batch=2, steps=12, warmup=2, ema=0.9,
                        log_every=1, val_every=4, ckpt_every=4, val_every_nth=4, val_crop=48),
    # What a shared 2-core CPU does in about an hour.
    "cpu": TrainConfig(),
    # A larger body for a GPU; the CPU speed target fixes the shipped one.
    "gpu": TrainConfig(width=64, blocks=16, patch=48, batch=32, steps=300_000, lr=5e-4,
                       warmup=2000, ema=0.9995, log_every=200, val_every=5000,
                       ckpt_every=5000, val_crop=240),
}


def _psnr(a: np.ndarray, b: np.ndarray, shave: int) -> float:
    diff = (a[shave:-shave, shave:-shave].astype(np.float64)
            - b[shave:-shave, shave:-shave].astype(np.float64))
    return 10.0 * math.log10(1.0 / max(float(np.mean(diff * diff)), 1e-10))


class _Validator:
    """Held-out centre crops shrunk by bicubic at every factor; PSNR of the network and of
    bicubic enlargement on the same crops (edges shaved by the factor, as SR papers do)."""

    def __init__(self, images: Sequence[np.ndarray], config: TrainConfig,
                 device: torch.device) -> None:
        import torch

        self.device = device
        self.items: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.bicubic: dict[int, list[float]] = {}
        for image in images:
            high = centre_crop(image, config.val_crop, 12)
            for scale in config.scales:
                low = np.clip(bicubic_downscale(high, scale), 0.0, 1.0)
                self.items.append((scale, high, low))
                with torch.inference_mode():
                    up = torch.nn.functional.interpolate(
                        to_tensor_batch(low[None]), scale_factor=scale, mode="bicubic",
                        align_corners=False).clamp(0, 1)
                self.bicubic.setdefault(scale, []).append(_psnr(from_tensor(up), high, scale))

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        import torch

        scores: dict[int, list[float]] = {}
        model.eval()
        with torch.inference_mode():
            for scale, high, low in self.items:
                out = model(to_tensor_batch(low[None], self.device), scale).clamp(0, 1)
                scores.setdefault(scale, []).append(_psnr(from_tensor(out), high, scale))
        model.train()
        result: dict[str, float] = {}
        gains = []
        for scale, values in scores.items():
            psnr, base = float(np.mean(values)), float(np.mean(self.bicubic[scale]))
            result[f"val_psnr_x{scale}"] = round(psnr, 3)
            result[f"val_gain_x{scale}"] = round(psnr - base, 3)
            gains.append(psnr - base)
        result["val_gain"] = round(float(np.mean(gains)), 4)
        return result


def _build(config: TrainConfig) -> torch.nn.Module:
    from engine.ops.upscale.net import build_upscaler

    return build_upscaler(config.model_config())


def train(config: TrainConfig | str, run_dir: Path, data_dir: Path = DEFAULT_DATA, *,
          steps: int | None = None, minutes: float | None = None, resume: bool = False,
          device: str = "cpu", seed: int = 0, max_steps_this_run: int | None = None,
          init_from: Path | None = None, echo: bool = False) -> dict[str, Any]:
    """Train (or continue training) the upscaler.

    Parameters
    ----------
    config : TrainConfig or str
        A config or the name of one in :data:`CONFIGS`.
    run_dir : Path
        Folder for ``last.pt``, ``best.pt`` and ``log.jsonl``.
    data_dir : Path
        Folder of high-resolution training photos (CBSD432 by default).
    steps, minutes, max_steps_this_run
        Override the schedule length; stop cleanly after this much wall time, or this many
        steps, in this run.
    resume : bool
        Continue from ``run_dir/last.pt`` (steps, optimiser, EMA, RNG, time are restored;
        the run goes on bit-identically).
    device : str
        Torch device to train on.
    seed : int
        Seed of the crops, the degradations and the initial weights.
    init_from : Path, optional
        Start a new run from these weights (``.pt`` EMA or exported ``.safetensors``).
    echo : bool
        Print log lines to stdout.

    Returns
    -------
    dict
        ``step``, ``loss``, ``best_val``, ``elapsed_seconds``, ``stopped``.
    """
    import torch

    config = CONFIGS[config] if isinstance(config, str) else config
    files, config, state = open_run(run_dir, config, TrainConfig, resume=resume, steps=steps)
    if len(config.scale_weights) != len(config.scales):
        raise ValueError("scale_weights needs one weight per scale")
    device_t = torch.device(device)

    train_files, val_files = split_files(list_images(data_dir), config.val_every_nth)
    images = load_images(train_files, config.patch * max(config.scales))
    validate = _Validator(load_images(val_files, 48), config, device_t)

    trainee = start_training(lambda: _build(config), config, device_t, seed=seed, state=state,
                             init_from=init_from)
    rng = trainee.rng
    spec = LowresSpec(realistic_share=config.realistic_share)
    weights = np.asarray(config.scale_weights, dtype=np.float64)
    weights /= weights.sum()
    log = make_logger(files, trainee.run, echo=echo)
    checkpoint = make_checkpointer(trainee, config, lambda: {
        "data": str(data_dir), "train_images": len(images),
        "val_images": [p.name for p in val_files]})

    def next_loss() -> torch.Tensor:
        scale = int(config.scales[int(rng.choice(len(weights), p=weights))])
        crops = [random_crop(images[int(rng.integers(len(images)))], config.patch * scale, rng)
                 for _ in range(config.batch)]
        high, low = degrade_batch(crops, scale, rng, spec)
        out = trainee.model(to_tensor_batch(low, device_t), scale)
        return (out - to_tensor_batch(high, device_t)).abs().mean()

    return train_loop(trainee, config, next_loss, validate=validate, val_key="val_gain",
                      log=log, checkpoint=checkpoint, files=files, minutes=minutes,
                      max_steps_this_run=max_steps_this_run)


def export(run_dir: Path, out_dir: Path | None = None, *, name: str = MODEL_NAME,
           checkpoint: str = "best.pt", quality: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """Write a checkpoint's EMA weights as safetensors and merge its manifest entry.

    Parameters
    ----------
    run_dir : Path
        The training run folder.
    out_dir : Path, optional
        The models folder; :func:`engine.models.weights.models_dir` by default.
    name : str
        Manifest name; the file is ``<name>.safetensors``.
    checkpoint : str
        ``best.pt`` (highest held-out mean gain over bicubic) or ``last.pt``.
    quality : dict, optional
        Measured benchmark figures (from :mod:`engine.bench.upscale`) to record.

    Returns
    -------
    dict
        The manifest entry written.
    """
    from engine.ops.upscale import ARCHITECTURE

    def describe(state: Mapping[str, Any]) -> dict[str, Any]:
        config = config_from(TrainConfig, state["config"])
        return {
            "training_data": (f"{Path(state['data']).name}: {state['train_images']} photos "
                              f"(CBSD432 = BSDS500 minus CBSD68); held out for validation: "
                              f"{len(state['val_images'])} photos"),
            "degradations": (f"antialiased bicubic shrink; {config.realistic_share:.0%} of "
                             f"pairs also blur, area/bilinear shrink, noise, JPEG "
                             f"(engine/training/lowres.py)"),
            "val_heldout_cbsd432": dict(state.get("val") or {}),
        }

    entry = export_run(run_dir, out_dir, name=name, checkpoint=checkpoint, quality=quality,
                       architecture=ARCHITECTURE, task="upscale", recipe="upscale",
                       config_type=TrainConfig, describe=describe)
    return entry


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine.training.upscale",
        description="Train the PixelMend upscaler (resumable) or export its weights.")
    add_run_arguments(parser, configs=CONFIGS, run_dir_help="run folder (default: "
                      "runs/upscale_<config>)", data=DEFAULT_DATA,
                      data_help="folder of high-resolution training photos (default: CBSD432)")
    add_schedule_arguments(parser)
    add_export_arguments(parser, MODEL_NAME)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    run_dir = args.run_dir or DEFAULT_RUNS / f"upscale_{args.config}"
    return run_main(args, run_dir, export, lambda: train(
        args.config, run_dir, args.data, steps=args.steps, minutes=args.minutes,
        resume=args.resume, device=args.device, seed=args.seed, init_from=args.init_from,
        echo=True))


if __name__ == "__main__":
    sys.exit(main())
