"""Pieces shared by the training recipes (:mod:`engine.training.denoise`,
:mod:`engine.training.inpaint` ...).

Data listing, crops and the held-out split, checkpoints (written atomically, read back with
``torch.load(weights_only=True)``), the JSONL log, the time/step budget, and the optimiser step
with its learning-rate schedule and weight moving average. Export is
:mod:`engine.training.export`, the flags every recipe has :mod:`engine.training.cli`. torch is
imported inside the functions only.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import cv2
import numpy as np

from engine import io
from engine.core.atomic import atomic_write
from engine.core.pixels import split_alpha, to_float, to_uint8

if TYPE_CHECKING:
    import torch

__all__ = [
    "LoopConfig",
    "RunFiles",
    "RunState",
    "Trainee",
    "append_log",
    "centre_crop",
    "config_from",
    "hardware",
    "initial_weights",
    "list_images",
    "load_checkpoint",
    "load_images",
    "lr_at",
    "make_checkpointer",
    "make_logger",
    "open_run",
    "optimizer_step",
    "random_crop",
    "restore_state",
    "save_checkpoint",
    "split_files",
    "start_training",
    "stop_reason",
    "train_loop",
    "train_state",
]

C = TypeVar("C")


class ScheduleConfig(Protocol):
    """What the optimiser step reads from a recipe's ``TrainConfig``."""

    lr: float
    warmup: int
    steps: int
    ema: float


class LoopConfig(ScheduleConfig, Protocol):
    """What :func:`train_loop` reads from a recipe's ``TrainConfig``."""

    log_every: int
    val_every: int
    ckpt_every: int


class OptimiserConfig(LoopConfig, Protocol):
    """What :func:`start_training` reads from a recipe's ``TrainConfig``."""

    weight_decay: float


@dataclass
class RunState:
    """The counters a run carries between steps and into its checkpoints."""

    step: int = 0
    elapsed: float = 0.0
    best_val: float = -math.inf
    last_val: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFiles:
    """A run folder's files: the last and the best checkpoint and the JSONL log."""

    folder: Path
    last: Path
    best: Path
    log: Path


@dataclass
class Trainee:
    """What one run trains: the network, its weight average (validated and exported), the
    optimiser, the data generator, the counters, and a description of the hardware."""

    model: torch.nn.Module
    ema: torch.nn.Module
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    run: RunState
    machine: str


# ---------------------------------------------------------------------------------- data


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder``, sorted by name (:func:`engine.io.list_images`).

    Raises
    ------
    FileNotFoundError
        The folder is missing or holds fewer than two images.
    """
    try:
        files = io.list_images(folder)
    except NotADirectoryError:
        raise FileNotFoundError(f"training folder {folder} does not exist; pass --data DIR"
                                ) from None
    if len(files) < 2:
        raise FileNotFoundError(f"{folder} holds fewer than two images")
    return files


def split_files(files: Sequence[Path], every_nth: int) -> tuple[list[Path], list[Path]]:
    """Deterministic split: every ``every_nth`` file (sorted order) is held out for validation.

    Returns
    -------
    train, val : list of Path
    """
    files = sorted(files)
    val = [f for i, f in enumerate(files) if i % every_nth == every_nth // 2]
    held = set(val)
    train = [f for f in files if f not in held]
    if not val or not train:
        raise ValueError(f"cannot split {len(files)} files with every_nth={every_nth}")
    return train, val


def load_images(files: Sequence[Path], min_edge: int) -> list[np.ndarray]:
    """Read images as RGB uint8 (grey ones replicated, alpha dropped); skip ones smaller than
    ``min_edge``."""
    images = []
    for path in files:
        colour, _ = split_alpha(io.load(path).pixels)
        if min(colour.shape[:2]) >= min_edge:
            images.append(np.ascontiguousarray(to_uint8(colour if colour.shape[2] == 3
                                                        else np.repeat(colour, 3, axis=2))))
    if not images:
        raise ValueError(f"no training image is at least {min_edge} px on its short side")
    return images


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator, *,
                scale: tuple[float, float] | None = None) -> np.ndarray:
    """A random ``size×size`` crop of a ``uint8`` image, with a random flip and rot90, as
    float32 in [0, 1].

    With ``scale``, the image is first rescaled by a factor drawn log-uniformly in that range
    (above 1 enlarges, as a higher-resolution scan of the same print would look), limited by
    the image's size: a square of ``size / factor`` px is cut and resized to ``size``.
    """
    h, w = image.shape[:2]
    source = size
    if scale is not None:
        factor = math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
        source = min(int(round(size / factor)), h, w)
    y = int(rng.integers(h - source + 1))
    x = int(rng.integers(w - source + 1))
    crop = image[y:y + source, x:x + source]
    if source != size:
        method = cv2.INTER_AREA if source > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=method)
    crop = np.rot90(crop, int(rng.integers(4)))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return to_float(np.ascontiguousarray(crop))


def centre_crop(image: np.ndarray, size: int, multiple: int) -> np.ndarray:
    """The central square of a ``uint8`` image, at most ``size`` and a multiple of
    ``multiple`` on a side, as float32 in [0, 1] (the validation crops)."""
    h, w = image.shape[:2]
    size = min(size, h - h % multiple, w - w % multiple)
    y, x = (h - size) // 2, (w - size) // 2
    return to_float(image[y:y + size, x:x + size])


def config_from(cls: Callable[..., C], raw: Mapping[str, Any]) -> C:
    """Rebuild a recipe's ``TrainConfig`` from its stored ``asdict`` form (lists → tuples)."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def hardware(device: torch.device) -> str:
    """A short description of what trains: the GPU's name, or the CPU and its threads."""
    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.get_num_threads()} thread(s) of {os.cpu_count()} cores"


# ---------------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a crash never leaves a half-written file)."""
    import torch

    with atomic_write(path) as handle:
        torch.save(state, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU; only tensors and plain data are accepted."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def train_state(*, step: int, elapsed: float, best_val: float, config: Any,
                model: torch.nn.Module, ema: torch.nn.Module,
                optimizer: torch.optim.Optimizer, rng: np.random.Generator, hardware: str
                ) -> dict[str, Any]:
    """The resumable part of a checkpoint; recipes add their own keys to it."""
    return {"step": step, "elapsed": elapsed, "best_val": best_val, "config": asdict(config),
            "model": model.state_dict(), "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": json.dumps(rng.bit_generator.state),
            "hardware": hardware}


def restore_state(state: Mapping[str, Any], model: torch.nn.Module, ema: torch.nn.Module,
                  optimizer: torch.optim.Optimizer, rng: np.random.Generator
                  ) -> tuple[int, float, float]:
    """Load a :func:`train_state` back into the objects.

    Returns
    -------
    step, elapsed, best_val : int, float, float
    """
    model.load_state_dict(state["model"])
    ema.load_state_dict(state["ema"])
    optimizer.load_state_dict(state["optimizer"])
    rng.bit_generator.state = json.loads(state["rng"])
    return int(state["step"]), float(state["elapsed"]), float(state["best_val"])


# ---------------------------------------------------------------------------------- run setup


def open_run(run_dir: Path, config: C, config_type: Callable[..., C], *, resume: bool,
             steps: int | None) -> tuple[RunFiles, C, dict[str, Any] | None]:
    """The run folder (created), the config to train and the checkpoint to resume from.

    With ``resume`` the config is the one stored in ``last.pt`` (a run continues as it
    started); ``steps`` overrides the schedule's length either way.

    Returns
    -------
    files : RunFiles
    config : the recipe's ``TrainConfig``
    state : dict or None
        ``last.pt`` when resuming.

    Raises
    ------
    FileNotFoundError
        ``resume`` without a ``last.pt``.
    """
    from dataclasses import replace

    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = RunFiles(folder, folder / "last.pt", folder / "best.pt", folder / "log.jsonl")
    state: dict[str, Any] | None = None
    if resume:
        if not files.last.exists():
            raise FileNotFoundError(f"nothing to resume: {files.last} does not exist")
        state = load_checkpoint(files.last)
        config = config_from(config_type, state["config"])
    if steps is not None:
        config = replace(config, steps=int(steps))  # type: ignore[type-var]
    return files, config, state


def start_training(build: Callable[[], torch.nn.Module], config: OptimiserConfig,
                   device: torch.device, *, seed: int, state: Mapping[str, Any] | None,
                   init_from: Path | None = None,
                   adapt: Callable[[dict[str, torch.Tensor], torch.nn.Module],
                                   dict[str, torch.Tensor]] | None = None) -> Trainee:
    """Build the network, its EMA, the AdamW optimiser and the generator, seeded by ``seed``;
    then restore them from ``state`` (a resume) or load ``init_from`` into the network (a
    fine-tuning start, passed through ``adapt(weights, model)`` when the recipe widens old
    weights to a new input). The EMA starts as the network and takes no gradients.
    Denormal floats are flushed (trained weights drive some activations there, and x86 CPUs
    compute them about 8 times slower).
    """
    import torch

    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    model = build().to(device)
    ema = build().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    rng = np.random.default_rng(seed)
    run = RunState()
    if state is not None:
        run.step, run.elapsed, run.best_val = restore_state(state, model, ema, optimizer, rng)
        run.last_val = dict(state.get("val") or {})
    else:
        if init_from is not None:
            weights = initial_weights(Path(init_from))
            model.load_state_dict(adapt(weights, model) if adapt is not None else weights)
        ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    return Trainee(model, ema, optimizer, rng, run, hardware(device))


def make_logger(files: RunFiles, run: RunState, *, echo: bool
                ) -> Callable[[dict[str, Any]], None]:
    """``log(record)``: one line of the run's JSONL log, stamped with the current counters."""

    def log(record: dict[str, Any]) -> None:
        append_log(files.log, record, step=run.step, elapsed=run.elapsed, echo=echo)

    return log


def make_checkpointer(trainee: Trainee, config: Any, extra: Callable[[], Mapping[str, Any]]
                      ) -> Callable[[Path], None]:
    """``checkpoint(path)``: the resumable state (:func:`train_state`), the last validation
    figures under ``val``, and the recipe's ``extra()`` keys (its data, for the export)."""

    def checkpoint(path: Path) -> None:
        run = trainee.run
        save_checkpoint(path, {
            **train_state(step=run.step, elapsed=run.elapsed, best_val=run.best_val,
                          config=config, model=trainee.model, ema=trainee.ema,
                          optimizer=trainee.optimizer, rng=trainee.rng,
                          hardware=trainee.machine),
            "val": run.last_val, **extra()})

    return checkpoint


# ---------------------------------------------------------------------------------- loop


def append_log(path: Path, record: Mapping[str, Any], *, step: int, elapsed: float,
               echo: bool = False) -> None:
    """Append one JSON line (prefixed with ``step`` and ``elapsed_min``) to the run's log."""
    line = json.dumps({"step": step, "elapsed_min": round(elapsed / 60.0, 3), **record})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    if echo:
        print(line, flush=True)


def stop_reason(*, started: float, minutes: float | None, step: int, start_step: int,
                max_steps_this_run: int | None) -> str | None:
    """Why this run should stop before its next step (``"minutes"``,
    ``"max_steps_this_run"``), or None to go on."""
    if minutes is not None and time.monotonic() - started >= minutes * 60.0:
        return "minutes"
    if max_steps_this_run is not None and step - start_step >= max_steps_this_run:
        return "max_steps_this_run"
    return None


def train_loop(trainee: Trainee, config: LoopConfig, next_loss: Callable[[], torch.Tensor], *,
               validate: Callable[[torch.nn.Module], dict[str, float]], val_key: str,
               log: Callable[[dict[str, Any]], None], checkpoint: Callable[[Path], None],
               files: RunFiles, minutes: float | None, max_steps_this_run: int | None
               ) -> dict[str, Any]:
    """Train until ``config.steps``, the time limit or the step limit of this run.

    Every step takes ``next_loss()`` (a fresh batch through the trainee's model) into
    :func:`optimizer_step`; every ``log_every`` steps the mean loss is logged, every
    ``val_every`` steps (and at the end of the schedule) ``validate(ema)`` is logged and
    ``files.best`` saved when ``val_key`` improved, every ``ckpt_every`` steps ``files.last``.
    ``trainee.run`` is updated in place, so the recipe's ``log`` and ``checkpoint`` see the
    current counters. On the way out ``files.last`` (and ``files.best`` if none was written)
    is saved.

    Returns
    -------
    dict
        ``step``, ``loss`` (last logged), ``best_val``, ``elapsed_seconds``, ``stopped``.
    """
    run, model, ema, optimizer = trainee.run, trainee.model, trainee.ema, trainee.optimizer
    last_path, best_path = files.last, files.best
    start_step = run.step
    started = time.monotonic()
    window_loss, window_steps, window_start = 0.0, 0, time.monotonic()
    last_loss = math.nan
    stopped = "steps"
    model.train()
    while run.step < config.steps:
        reason = stop_reason(started=started, minutes=minutes, step=run.step,
                             start_step=start_step, max_steps_this_run=max_steps_this_run)
        if reason is not None:
            stopped = reason
            break
        tick = time.monotonic()
        loss = next_loss()
        optimizer_step(loss, model, ema, optimizer, run.step, config)
        run.step += 1
        run.elapsed += time.monotonic() - tick
        window_loss += float(loss.item())
        window_steps += 1
        if run.step % config.log_every == 0:
            last_loss = window_loss / window_steps
            log({"loss": last_loss, "lr": optimizer.param_groups[0]["lr"],
                 "sec_per_step": (time.monotonic() - window_start) / window_steps})
            window_loss, window_steps, window_start = 0.0, 0, time.monotonic()
        if run.step % config.val_every == 0 or run.step == config.steps:
            run.last_val = validate(ema)
            log(run.last_val)
            if run.last_val[val_key] > run.best_val:
                run.best_val = run.last_val[val_key]
                checkpoint(best_path)
        if run.step % config.ckpt_every == 0:
            checkpoint(last_path)
    if window_steps:
        last_loss = window_loss / window_steps
    checkpoint(last_path)
    if not best_path.exists():
        checkpoint(best_path)
    log({"event": "stop", "reason": stopped})
    return {"step": run.step, "loss": last_loss, "best_val": run.best_val,
            "elapsed_seconds": run.elapsed, "stopped": stopped}


def lr_at(step: int, config: ScheduleConfig, total: int) -> float:
    """Linear warm-up, then a cosine decay to 1 % of ``config.lr`` at step ``total``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min((step - config.warmup) / max(total - config.warmup, 1), 1.0)
    return config.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def optimizer_step(loss: torch.Tensor, model: torch.nn.Module, ema: torch.nn.Module,
                   optimizer: torch.optim.Optimizer, step: int, config: ScheduleConfig
                   ) -> None:
    """One update: scheduled learning rate, backward, clip to norm 1, step, EMA update.

    Raises
    ------
    FloatingPointError
        The loss is not finite.
    """
    import torch

    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, config, config.steps)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss became {loss.item()} at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    with torch.no_grad():
        decay = min(config.ema, (step + 1) / (step + 10))
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """Weights to start a run from: an exported ``.safetensors`` file or a checkpoint's EMA."""
    if Path(path).suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return load_checkpoint(Path(path))["ema"]
