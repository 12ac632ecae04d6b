"""Training recipe for the learned inpainting network (:mod:`engine.ops.inpaint.net`).

Data: random square crops (random flip/rot90) of the CBSD432 colour photos (BSDS500 minus the
CBSD68 test images) and, one crop in four, of the photographic textures in
``shared/data/textures``. Each crop gets a random free-form hole from
:func:`engine.training.hole_masks.random_mask` (brush strokes, blobs, scratches; 0.5–50 % of the
crop). The NVIDIA irregular masks and CBSD68 are evaluation data: nothing here reads them. A
fixed held-out split of CBSD432 (every ``val_every_nth`` file in sorted order) is never trained
on; its centre crops with fixed seeded holes (one scratch mask, one stroke mask per image) give
the validation masked PSNR that picks the best checkpoint. OpenCV Telea's masked PSNR on the very
same crops is logged once, as the bar to clear.

Loss, on the composite (known pixels outside the hole, the network inside):
``6 · L1(hole) + 1 · L1(valid) + 2 · L1(∇x, ∇y)``; the network's output outside the hole is
weakly supervised by the valid term so its features stay image-like; the gradient term (no
pretrained VGG: nothing to download) rewards edges continuing into the hole instead of a flat
average. Optimiser: AdamW with linear warm-up and a cosine decay to 1 % of the peak rate; an
exponential moving average (EMA) of the weights is validated and exported.

Runs are resumable in chunks: ``--minutes M`` stops cleanly after M minutes and writes
``last.pt``; ``--resume`` continues from it (step, optimiser, EMA, RNG state, accumulated time).
``log.jsonl`` has one line per log interval and per validation. Checkpoints hold only tensors and
plain data, loaded with ``torch.load(weights_only=True)``.

``--export`` writes the best checkpoint's EMA weights as safetensors into ``resources/models``
and merges the model's entry (sha256, architecture, config, data, steps, hardware, time,
validation figures) into ``manifest.json`` with a read-modify-write that keeps other entries.

Examples
--------
Train on a CPU in 30-minute chunks, then export::

    nice -n 19 python -m engine.training.inpaint --config cpu --threads 1 --minutes 30
    nice -n 19 python -m engine.training.inpaint --config cpu --threads 1 --minutes 30 --resume
    python -m engine.training.inpaint --config cpu --export

On a GPU (same architecture, larger crops and batches, many more steps)::

    python -m engine.training.inpaint --config gpu --device cuda --minutes 600
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.metrics import masked_psnr
from engine.core.pixels import from_tensor, to_float, to_tensor_batch
from engine.ops.inpaint.diffusion import telea_fill
from engine.ops.inpaint.learned import learned_fill
from engine.training.cli import (
    add_export_arguments,
    add_run_arguments,
    add_schedule_arguments,
    run_main,
)
from engine.training.common import (
    centre_crop,
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
from engine.training.hole_masks import random_mask

if TYPE_CHECKING:
    import torch

__all__ = [
    "CONFIGS",
    "DEFAULT_DATA",
    "DEFAULT_TEXTURES",
    "MODEL_NAME",
    "TrainConfig",
    "export",
    "main",
    "make_batch",
    "train",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "train" / "cbsd432"
DEFAULT_TEXTURES = REPO_ROOT.parent / "shared" / "data" / "textures"
DEFAULT_RUNS = REPO_ROOT / "runs"
MODEL_NAME = "inpaint_ffc"
_VAL_KINDS = ("scratches", "strokes")
_PHOTO_KINDS = ("strokes", "blobs", "mixed")


@dataclass(frozen=True)
class TrainConfig:
    """One training configuration.

    Attributes
    ----------
    width, blocks : int
        Network shape (see :class:`engine.ops.inpaint.net.InpaintNet`).
    crop, batch : int
        Training crop edge (a multiple of 4) and batch size.
    texture_share : float
        Fraction of crops taken from the texture folder.
    coverage : (float, float)
        Hole fraction range of the training masks.
    steps : int
        Length of the learning-rate schedule.
    lr, weight_decay, warmup : float, float, int
        AdamW peak learning rate, decoupled weight decay, warm-up steps.
    ema : float
        Decay of the weight moving average.
    hole_weight, valid_weight, gradient_weight : float
        Loss weights.
    log_every, val_every, ckpt_every : int
        Intervals in steps.
    val_every_nth, val_crop : int
        Held-out split (every n-th file) and the centre-crop edge validated on.
    scale : (float, float) or None
        Range of the random rescaling of a photo before its crop is cut (log-uniform; None:
        native resolution). Below 1 a crop shows more of the scene, as the op's reduced
        copy of a photo with a large hole does.
    val_key : str
        The validation figure that picks the best checkpoint: ``val_psnr`` (crops with
        scratches and strokes) or ``val_psnr_both`` (its mean with ``val_psnr_photo``: whole
        held-out photos with large holes, filled the way the op fills them).
    """

    width: int = 32
    blocks: int = 3
    crop: int = 80
    batch: int = 8
    texture_share: float = 0.25
    coverage: tuple[float, float] = (0.005, 0.5)
    steps: int = 6000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    ema: float = 0.995
    hole_weight: float = 6.0
    valid_weight: float = 1.0
    gradient_weight: float = 2.0
    log_every: int = 25
    val_every: int = 250
    ckpt_every: int = 100
    val_every_nth: int = 27
    val_crop: int = 128
    scale: tuple[float, float] | None = None
    val_key: str = "val_psnr"

    def model_config(self) -> dict[str, Any]:
        """The network part, as stored in the manifest."""
        return {"width": self.width, "blocks": self.blocks, "multiple": 4,
                "input": "RGB with the hole zeroed + hole mask (1 = hole)",
                "output": "RGB fill (used inside the hole only)"}


CONFIGS: dict[str, TrainConfig] = {
    # Smoke tests: a few seconds on one CPU thread.
    "tiny": TrainConfig(width=8, blocks=1, crop=32, batch=2, steps=20, lr=2e-3, warmup=2,
                        ema=0.9, log_every=1, val_every=4, ckpt_every=2, val_every_nth=4,
                        val_crop=48),
    "tiny_scenes": TrainConfig(width=8, blocks=1, crop=32, batch=2, steps=20, lr=2e-3,
                               warmup=2, ema=0.9, log_every=1, val_every=4, ckpt_every=2,
                               val_every_nth=4, val_crop=48, scale=(0.25, 1.0),
                               val_key="val_psnr_both"),
    # What a shared 2-core CPU can do in an hour or two (about 1.5 s a step there).
    "cpu": TrainConfig(),
    # A second CPU cycle from the shipped weights (``--init-from``): the first ran only 2 600
    # steps. Larger crops and holes (the structured fill runs the network on whole photos
    # reduced until the hole is about 12 px thick), a longer schedule at half the peak rate.
    "cpu_continue": TrainConfig(crop=96, coverage=(0.005, 0.6), steps=24_000, lr=5e-4,
                                warmup=200, ema=0.999, log_every=50, val_every=500,
                                ckpt_every=200),
    # A third cycle (``--init-from`` the second's best): half the crops from photos shrunk
    # up to 4×, so the network learns whole scenes at the scale the op lays out a large hole,
    # chosen on the mean of the crop and whole-photo figures.
    "cpu_scenes": TrainConfig(crop=96, coverage=(0.005, 0.6), steps=16_000, lr=3e-4,
                              warmup=200, ema=0.999, log_every=50, val_every=500,
                              ckpt_every=200, scale=(0.25, 1.0), val_key="val_psnr_both"),
    # Same architecture (the op's CPU speed fixes it), GPU-sized crops, batches and schedule.
    "gpu": TrainConfig(crop=256, batch=32, steps=300_000, lr=5e-4, warmup=2000, ema=0.9995,
                       log_every=200, val_every=5000, ckpt_every=2000, val_crop=256),
}


# ---------------------------------------------------------------------------------- data


def make_batch(photos: Sequence[np.ndarray], textures: Sequence[np.ndarray], config: TrainConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One training batch (with ``config.scale``, half the photo crops are cut from a
    randomly shrunk copy of the photo).

    Returns
    -------
    images : ndarray, float32 ``N×size×size×3``
        Clean crops in [0, 1].
    holes : ndarray, float32 ``N×size×size``
        1 = hole.
    """
    images, holes = [], []
    for _ in range(config.batch):
        pool = textures if textures and rng.random() < config.texture_share else photos
        rescale = config.scale is not None and pool is photos and rng.random() < 0.5
        scale = config.scale if rescale else None
        images.append(random_crop(pool[int(rng.integers(len(pool)))], config.crop, rng,
                                  scale=scale))
        holes.append(random_mask(config.crop, config.crop, rng, coverage=config.coverage))
    return np.stack(images), np.stack(holes).astype(np.float32)


# ---------------------------------------------------------------------------------- model


def _build(config: TrainConfig) -> torch.nn.Module:
    from engine.ops.inpaint.net import build_inpaint_net

    return build_inpaint_net(config.model_config())


def inpaint_loss(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor,
                 config: TrainConfig) -> torch.Tensor:
    """Hole L1 + valid L1 + gradient L1 on the composite (see the module docstring)."""
    from engine.ops.inpaint.net import composite

    hole_l1 = ((output - target).abs() * hole).sum() / (hole.sum() * 3 + 1.0)
    valid_l1 = ((output - target).abs() * (1 - hole)).mean()
    comp = composite(target, output, hole)
    grad = ((comp[..., 1:, :] - comp[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
            ).abs().mean() + ((comp[..., :, 1:] - comp[..., :, :-1])
                              - (target[..., :, 1:] - target[..., :, :-1])).abs().mean()
    return (config.hole_weight * hole_l1 + config.valid_weight * valid_l1
            + config.gradient_weight * grad)


class _Validator:
    """Fixed holes (seeded) on centre crops of the held-out images; masked PSNR in the hole.

    With ``photos``, also ``val_psnr_photo``: each whole held-out photo with a large hole
    (strokes, blobs or both, 10–50 % of it) filled by :func:`engine.ops.inpaint.learned.
    learned_fill` with the network alone (reduced scale, windows and seam as the op runs it),
    and ``val_psnr_both``, the mean of the two figures.
    """

    def __init__(self, images: Sequence[np.ndarray], crop: int, device: torch.device,
                 photos: bool = False) -> None:
        self.device = device
        self.items = []
        self.photos = []
        for index, image in enumerate(images):
            clean = centre_crop(image, crop, 4)
            for k, kind in enumerate(_VAL_KINDS):
                rng = np.random.default_rng(7919 * index + k)
                hole = random_mask(clean.shape[0], clean.shape[1], rng, kind,
                                   coverage=(0.01, 0.3))
                self.items.append((kind, clean, hole))
            if photos:
                whole = to_float(image)
                rng = np.random.default_rng([31, index])
                kind = _PHOTO_KINDS[index % len(_PHOTO_KINDS)]
                hole = random_mask(whole.shape[0], whole.shape[1], rng, kind,
                                   coverage=(0.1, 0.5))
                self.photos.append((whole, hole))

    def telea(self) -> dict[str, float]:
        """OpenCV Telea (radius 5) on the same crops: the bar the network has to clear."""
        scores: dict[str, list[float]] = {k: [] for k in _VAL_KINDS}
        for kind, clean, hole in self.items:
            scores[kind].append(masked_psnr(telea_fill(clean, hole), clean, hole))
        result = {f"telea_psnr_{k}": float(np.mean(v)) for k, v in scores.items()}
        if self.photos:
            result["telea_psnr_photo"] = float(np.mean([
                masked_psnr(telea_fill(whole, hole), whole, hole) for whole, hole in self.photos]))
        return result

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        import torch

        scores: dict[str, list[float]] = {k: [] for k in _VAL_KINDS}
        model.eval()
        with torch.inference_mode():
            for kind, clean, hole in self.items:
                x = to_tensor_batch(clean[None], self.device)
                m = to_tensor_batch(hole[None].astype(np.float32), self.device)
                out = from_tensor(model(x * (1 - m), m).clamp(0, 1))
                scores[kind].append(masked_psnr(out, clean, hole))
            photo_scores = [masked_psnr(learned_fill(whole, hole, device=self.device,
                                                     net=model, network_weight=1.0),
                                        whole, hole)
                            for whole, hole in self.photos]
        model.train()
        result = {f"val_psnr_{k}": float(np.mean(v)) for k, v in scores.items()}
        result["val_psnr"] = float(np.mean(list(result.values())))
        if photo_scores:
            result["val_psnr_photo"] = float(np.mean(photo_scores))
            result["val_psnr_both"] = (result["val_psnr"] + result["val_psnr_photo"]) / 2
        return result


# ---------------------------------------------------------------------------------- training


def train(config: TrainConfig | str, run_dir: Path, data_dir: Path = DEFAULT_DATA,
          texture_dir: Path | None = DEFAULT_TEXTURES, *, steps: int | None = None,
          minutes: float | None = None, resume: bool = False, device: str = "cpu",
          seed: int = 0, max_steps_this_run: int | None = None,
          init_from: Path | None = None, echo: bool = False) -> dict[str, Any]:
    """Train (or continue training) the inpainting network.

    Parameters
    ----------
    config : TrainConfig or str
        A config or the name of one in :data:`CONFIGS`.
    run_dir : Path
        Folder for ``last.pt``, ``best.pt`` and ``log.jsonl``.
    data_dir : Path
        Folder of photos (CBSD432 by default); a fixed share is held out for validation.
    texture_dir : Path, optional
        Folder of texture photos mixed into training; None or missing to skip.
    steps : int, optional
        Override the schedule's total steps (also on resume).
    minutes : float, optional
        Stop cleanly after this much wall time in this run, saving ``last.pt``.
    resume : bool
        Continue from ``run_dir/last.pt``.
    device : str
        Torch device to train on.
    seed : int
        Seed of the crop/mask generator and of the initial weights.
    max_steps_this_run : int, optional
        Stop after this many steps in this run (tests).
    init_from : Path, optional
        Start a new run from these weights (a checkpoint or an exported safetensors file).
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
    photos = load_images(train_files, config.crop)
    textures: list[np.ndarray] = []
    if texture_dir is not None and Path(texture_dir).is_dir():
        textures = load_images(list_images(texture_dir), config.crop)
    validate = _Validator(load_images(val_files, 16), config.val_crop, device_t,
                          photos=config.val_key == "val_psnr_both")

    trainee = start_training(lambda: _build(config), config, device_t, seed=seed, state=state,
                             init_from=init_from)
    model, rng = trainee.model, trainee.rng
    baseline: dict[str, float] = dict((state or {}).get("baseline") or {})
    log = make_logger(files, trainee.run, echo=echo)
    if not baseline:
        baseline = validate.telea()
        log({"baseline": baseline})
    checkpoint = make_checkpointer(trainee, config, lambda: {
        "data": str(data_dir), "train_images": len(photos), "textures": len(textures),
        "val_images": [p.name for p in val_files], "baseline": baseline})

    def next_loss() -> torch.Tensor:
        images, holes = make_batch(photos, textures, config, rng)
        target, hole = to_tensor_batch(images, device_t), to_tensor_batch(holes, device_t)
        return inpaint_loss(model(target * (1 - hole), hole), target, hole, config)

    return train_loop(trainee, config, next_loss, validate=validate, val_key=config.val_key,
                      log=log, checkpoint=checkpoint, files=files, minutes=minutes,
                      max_steps_this_run=max_steps_this_run)



# ---------------------------------------------------------------------------------- export


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
        ``best.pt`` (highest held-out masked PSNR) or ``last.pt``.
    quality : dict, optional
        Measured benchmark figures (from :mod:`engine.bench.inpaint`) to record.

    Returns
    -------
    dict
        The manifest entry written.
    """
    from engine.ops.inpaint import ARCHITECTURE

    def describe(state: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "training_data": (f"{Path(state['data']).name}: {state['train_images']} photos "
                              f"(CBSD432 = BSDS500 minus CBSD68; held out for validation: "
                              f"{len(state['val_images'])}) + {state.get('textures', 0)} "
                              f"texture photos; holes from engine/training/hole_masks.py "
                              f"(strokes, blobs, scratches)"),
            "val_masked_psnr_heldout_cbsd432": {k: round(v, 3)
                                                for k, v in (state.get("val") or {}).items()},
            "telea_masked_psnr_same_holes": {k: round(v, 3)
                                             for k, v in (state.get("baseline") or {}).items()},
        }

    return export_run(run_dir, out_dir, name=name, checkpoint=checkpoint, quality=quality,
                      architecture=ARCHITECTURE, task="inpaint", recipe="inpaint",
                      config_type=TrainConfig, describe=describe)


# ---------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine.training.inpaint",
        description="Train the PixelMend inpainting network (resumable) or export its weights.")
    add_run_arguments(parser, configs=CONFIGS, run_dir_help="run folder (default: "
                      "runs/inpaint_<config>)", data=DEFAULT_DATA,
                      data_help="folder of training photos (default: CBSD432)")
    parser.add_argument("--textures", type=Path, default=DEFAULT_TEXTURES,
                        help="folder of texture photos mixed in (default: shared textures)")
    add_schedule_arguments(parser)
    add_export_arguments(parser, MODEL_NAME)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    run_dir = args.run_dir or DEFAULT_RUNS / f"inpaint_{args.config}"
    return run_main(args, run_dir, export, lambda: train(
        args.config, run_dir, args.data, args.textures, steps=args.steps, minutes=args.minutes,
        resume=args.resume, device=args.device, seed=args.seed, init_from=args.init_from,
        echo=True))


if __name__ == "__main__":
    sys.exit(main())
