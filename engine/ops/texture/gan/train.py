"""Training a per-sample texture GAN with a time budget, resumable from an earlier model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.device import select_device
from engine.core.progress import Cancelled, CancelToken, Progress, null_progress
from engine.ops.texture.patch_loss import sliced_patch_loss

if TYPE_CHECKING:
    import torch

    from engine.ops.texture.net import MultiScaleDiscriminator, TextureGenerator

from engine.ops.texture.gan.model import (
    TextureGANConfig,
    TextureModel,
    default_train_seconds,
    new_generator,
    noise_field,
    sample_hash,
)

__all__ = ["PREVIEW_SIZE", "crop_positions", "train_texture_gan"]

PREVIEW_SIZE = 256
"""Edge of the generated preview sent with progress reports during training."""




def _new_discriminator(config: TextureGANConfig) -> MultiScaleDiscriminator:
    from engine.ops.texture.net import MultiScaleDiscriminator

    return MultiScaleDiscriminator(config.channels, config.d_width, config.d_depth, scales=2)


def crop_positions(height: int, width: int, crop: int,
                   forbidden: np.ndarray | None = None) -> np.ndarray:
    """Top-left corners ``K×2`` of all ``crop×crop`` windows that avoid ``forbidden`` pixels."""
    if crop > height or crop > width:
        return np.zeros((0, 2), dtype=np.int64)
    if forbidden is None or not forbidden.any():
        ys, xs = np.mgrid[0:height - crop + 1, 0:width - crop + 1]
        return np.stack([ys.ravel(), xs.ravel()], axis=1)
    integral = cv2.integral(forbidden.astype(np.uint8), sdepth=cv2.CV_32S)
    counts = (integral[crop:, crop:] - integral[:-crop, crop:] - integral[crop:, :-crop]
              + integral[:-crop, :-crop])
    return np.argwhere(counts == 0)


def _choose_crop(config: TextureGANConfig, height: int, width: int,
                 forbidden: np.ndarray | None) -> tuple[int, np.ndarray]:
    s = config.scale
    crop = min(config.crop, (min(height, width) // s) * s)
    while crop >= 2 * s:
        positions = crop_positions(height, width, crop, forbidden)
        if len(positions):
            return crop, positions
        crop -= s
    raise ValueError(
        f"the texture sample is too small to learn from: it needs an unmasked area of at least "
        f"{2 * s}×{2 * s} pixels (got {width}×{height}); select a larger sample area"
    )


def _flatten_adam(prefix: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensor = value if hasattr(value, "detach") else None
            if tensor is None:
                import torch

                tensor = torch.tensor(float(value))
            flat[f"{prefix}.{index}.{key}"] = tensor.detach().cpu().clone()
    return flat


def _restore_adam(prefix: str, optimizer: torch.optim.Optimizer,
                  flat: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        head, index, name = key.split(".")
        if head == prefix:
            state.setdefault(int(index), {})[name] = value
    if state:
        optimizer.load_state_dict({"state": state,
                                   "param_groups": optimizer.state_dict()["param_groups"]})


def train_texture_gan(sample: np.ndarray, *, config: TextureGANConfig | None = None,
                      seconds: float | None = None, steps: int | None = None, seed: int = 0,
                      device: str | torch.device | None = None,
                      forbidden: np.ndarray | None = None, init: TextureModel | None = None,
                      progress: Progress = null_progress, cancel: CancelToken | None = None,
                      checkpoint: Callable[[TextureModel], None] | None = None,
                      preview_seconds: float = 3.0) -> TextureModel:
    """Learn a texture GAN from ``sample`` (or continue learning from ``init``).

    Parameters
    ----------
    sample : ndarray, float32 H×W×C in [0, 1]
        The texture to learn; random crops of it are the "real" examples.
    config : TextureGANConfig, optional
        Architecture; the small preset when omitted. Ignored when ``init`` is given (its
        config is kept).
    seconds : float, optional
        Time budget of this call (training stops after the step that crosses it).
    steps : int, optional
        Step budget of this call. With neither budget, :func:`default_train_seconds` applies.
    seed : int
        Seeds the initial weights, the crops and the noise.
    device : str or torch.device, optional
        Chosen by :func:`engine.core.device.select_device` when omitted.
    forbidden : ndarray of bool H×W, optional
        Pixels no training crop may touch (the hole, in fill-mask mode).
    init : TextureModel, optional
        A model to continue from (its weights, discriminator and optimiser moments).
    progress, cancel
        Reports twice a second, with a generated preview every ``preview_seconds`` (less often
        where making the preview would take over a tenth of the time); cancel is checked at
        every step.
    checkpoint : callable, optional
        Called with the model as it stands when training ends, also when it is cancelled (the
        op uses it to keep a cancelled run resumable).

    Returns
    -------
    TextureModel
        With ``steps`` and ``seconds`` counting all training so far.

    Raises
    ------
    ValueError
        The sample (or its unmasked part) is too small, or its channels do not match ``init``.
    engine.core.progress.Cancelled
        The run was cancelled (``checkpoint`` received the partial model first).
    """
    import torch
    import torch.nn.functional as F

    cancel = cancel or CancelToken()
    device = select_device(device) if not isinstance(device, torch.device) else device
    if sample.ndim != 3 or sample.shape[2] not in (1, 3):
        raise ValueError(f"the texture sample must be H×W×1 or H×W×3, got {sample.shape}")
    channels = sample.shape[2]
    if init is not None:
        config = init.config
    config = config or TextureGANConfig.preset("small", channels)
    if config.channels != channels:
        raise ValueError(f"the model expects {config.channels}-channel samples, not {channels}")
    if seconds is None and steps is None:
        seconds = default_train_seconds(device)
    height, width = sample.shape[:2]
    crop, positions = _choose_crop(config, height, width, forbidden)

    torch.manual_seed(seed)
    net_g = new_generator(config).to(device)
    net_d = _new_discriminator(config).to(device)
    net_avg = new_generator(config).to(device) if config.ema > 0 else net_g
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(net_g.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=config.lr, betas=betas)
    done_steps, done_seconds = 0, 0.0
    if init is not None:
        net_g.load_state_dict(init.generator_raw or init.generator)
        if init.discriminator is not None:
            net_d.load_state_dict(init.discriminator)
        if init.optimizer is not None:
            _restore_adam("g", opt_g, init.optimizer)
            _restore_adam("d", opt_d, init.optimizer)
        done_steps, done_seconds = init.steps, init.seconds
    if net_avg is not net_g:
        net_avg.load_state_dict(init.generator if init is not None else net_g.state_dict())
        net_avg.requires_grad_(False)
    for net in (net_g, net_avg, net_d):
        net.train()
        net.to(memory_format=torch.channels_last)
    net_g.set_training_padding(True)
    net_avg.set_training_padding(True)
    params_g = list(net_g.parameters())
    params_avg = list(net_avg.parameters())

    rng = np.random.default_rng([seed, done_steps])
    noise_gen = torch.Generator().manual_seed(seed * 1_000_003 + done_steps)
    real_all = torch.from_numpy(np.ascontiguousarray(sample.transpose(2, 0, 1)) * 2.0 - 1.0)
    real_all = real_all.to(device)
    autocast = _autocast(device)
    preview_noise = noise_field(net_g, 1, PREVIEW_SIZE // config.scale,
                                PREVIEW_SIZE // config.scale,
                                torch.Generator().manual_seed(seed + 12345), device)
    n_noise = crop // config.scale
    losses = dict(init.losses) if init is not None else {}

    def snapshot() -> TextureModel:
        _recalibrate_batchnorm(net_avg, config.batch, n_noise, noise_gen, device)
        raw = None
        if net_avg is not net_g:
            raw = {k: v.detach().cpu().contiguous().clone() for k, v in net_g.state_dict().items()}
        return TextureModel(
            config=config,
            generator={k: v.detach().cpu().contiguous().clone()
                       for k, v in net_avg.state_dict().items()},
            generator_raw=raw,
            discriminator={k: v.detach().cpu().contiguous().clone()
                           for k, v in net_d.state_dict().items()},
            optimizer={**_flatten_adam("g", opt_g), **_flatten_adam("d", opt_d)},
            steps=done_steps + step, seconds=done_seconds + (time.perf_counter() - started),
            sample_hash=init.sample_hash if init is not None else sample_hash(sample, forbidden),
            losses=dict(losses))

    started = time.perf_counter()
    last_report = last_preview = started
    preview_wait = preview_seconds
    step = 0
    budget_steps = steps if steps is not None else math.inf
    budget_seconds = seconds if seconds is not None else math.inf
    try:
        while step < budget_steps:
            cancel.raise_if_cancelled()
            elapsed = time.perf_counter() - started
            if elapsed >= budget_seconds:
                break
            picks = positions[rng.integers(len(positions), size=config.batch)]
            real = torch.stack([real_all[:, y:y + crop, x:x + crop] for y, x in picks])
            real = real.contiguous(memory_format=torch.channels_last)
            noise = noise_field(net_g, config.batch, n_noise, n_noise, noise_gen, device)
            noise = noise.contiguous(memory_format=torch.channels_last)
            with autocast:
                fake = net_g(noise)
                loss_d = sum(F.relu(1.0 - out).mean() for out in net_d(real))
                loss_d = loss_d + sum(F.relu(1.0 + out).mean() for out in net_d(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with autocast:
                loss_g = -sum(out.mean() for out in net_d(fake))
            if config.patch_loss:
                loss_g = loss_g + config.patch_loss * sliced_patch_loss(
                    fake.float(), real.float(), generator=noise_gen)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            if net_avg is not net_g:
                # Warm up: average over the steps so far until the decay takes over.
                total = done_steps + step
                decay = min(config.ema, total / (total + 10.0))
                with torch.no_grad():
                    torch._foreach_lerp_(params_avg, params_g, 1.0 - decay)
            for key, value in (("d", loss_d.item()), ("g", loss_g.item())):
                if not math.isfinite(value):
                    raise FloatingPointError(f"texture GAN training diverged ({key} loss {value})")
                losses[key] = value if key not in losses else 0.95 * losses[key] + 0.05 * value

            now = time.perf_counter()
            fraction = min(max(step / budget_steps, (now - started) / budget_seconds), 1.0)
            if now - last_preview >= preview_wait:
                for avg, live in zip(net_avg.buffers(), net_g.buffers(), strict=True):
                    avg.copy_(live)  # batch-norm statistics for the preview
                image = _preview(net_avg, preview_noise)
                last_preview = last_report = time.perf_counter()
                # Previews take at most a tenth of the training time on a slow machine.
                preview_wait = max(preview_seconds, 10.0 * (last_preview - now))
                progress(fraction, _message(step + done_steps, losses), image)
            elif now - last_report >= 0.5:
                last_report = now
                progress(fraction, _message(step + done_steps, losses))
    except Cancelled:
        if checkpoint is not None:
            checkpoint(snapshot())
        raise
    model = snapshot()
    if checkpoint is not None:
        checkpoint(model)
    return model


def _recalibrate_batchnorm(net: TextureGenerator, batch: int, size: int,
                           generator: torch.Generator, device: torch.device,
                           batches: int = 8) -> None:
    """Set every batch-norm layer's running statistics to their exact mean over fresh batches.

    The running averages kept during training lag behind the weights; generation (eval mode)
    uses them, so they are re-estimated once with the final weights.
    """
    import torch

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = net.training
    net.train()
    with torch.no_grad():
        for _ in range(batches):
            net(noise_field(net, batch, size, size, generator, device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)


def _message(step: int, losses: dict[str, float]) -> str:
    return (f"learning the texture: step {step}, D loss {losses.get('d', 0):.2f}, "
            f"G loss {losses.get('g', 0):.2f}")


def _autocast(device: torch.device) -> Any:
    import contextlib

    import torch

    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _preview(net: TextureGenerator, noise: torch.Tensor) -> np.ndarray:
    import torch

    from engine.core.pixels import from_tensor

    net.eval()
    with torch.no_grad():
        image = net(noise)
    net.train()
    return np.clip(from_tensor(image.float()) * 0.5 + 0.5, 0.0, 1.0).astype(np.float32)


