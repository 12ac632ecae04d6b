"""Per-sample texture GAN: training with a time budget, resumable models, generation at any size.

A :class:`TextureModel` is learnt from one sample image (PSGAN / SGAN family, see
:mod:`engine.ops.texture.net`): the generator maps a spatial noise field (local, global
and periodic channels) to texture, and a spectrally normalised patch discriminator, applied at
full and half resolution, judges random crops of the sample against generated crops with the
hinge loss (Adam, lr 2e-4, betas (0.5, 0.999)). The presets add a direct patch-statistics
term to the generator's loss (:mod:`engine.ops.texture.patch_loss`, a multi-scale sliced
Wasserstein distance between generated and real 5×5 neighbourhoods): in short CPU runs the
adversarial loss alone often left stripes, a wrong colour or a collapsed flat image.

Training stops after a time budget or a number of steps, reports progress with a generated
preview every few seconds, checks the cancel token at every step, and can continue from an
earlier model (the discriminator and the optimiser moments travel with it). A model serialises
to safetensors bytes with its config as JSON metadata (no pickle), and :data:`model_cache`
keeps recent models keyed by the sample's hash, so the op re-generates instantly with another
seed or size.

Generation feeds a noise field of the wanted size to the fully convolutional generator. Large
outputs are generated in tiles of the noise field, each grown by the generator's halo, so every
tile equals the matching window of a one-pass generation (no blending needed). Tileable output
uses a periodic noise field, wave vectors snapped to whole cycles and circular padding, so the
image repeats exactly. (:func:`engine.core.tiling.run_tiled_torch` is not used: it maps an image to
a same-size image and blends overlapping tiles, while here the input is a noise field at
1/16 of the output size and halo tiles agree exactly; the out-of-memory fallbacks are the
same: halve the tile, then finish on the CPU.)

Training speed on the CPU: the two finest scales pad with zeros while training (circular
padding copies every feature map), both networks run channels-last, and the generator's
batch-norm statistics are re-estimated with the final weights before a model is handed out.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.device import Fallback, select_device
from engine.core.progress import Cancelled, CancelToken, Progress, null_progress
from engine.core.tiling import iter_tiles
from engine.ops.texture.patch_loss import sliced_patch_loss

if TYPE_CHECKING:
    import torch

    from engine.ops.texture.net import MultiScaleDiscriminator, TextureGenerator

__all__ = [
    "FORMAT",
    "PRESETS",
    "ModelCache",
    "TextureGANConfig",
    "TextureModel",
    "crop_positions",
    "default_train_seconds",
    "generate_texture",
    "model_cache",
    "resolve_model_size",
    "sample_hash",
    "train_texture_gan",
]

FORMAT = "pixelmend-texture-gan"
"""The ``format`` field in a saved model's metadata."""

PREVIEW_SIZE = 256
"""Edge of the generated preview sent with progress reports during training."""


@dataclass(frozen=True)
class TextureGANConfig:
    """Architecture and training settings of a texture GAN.

    Attributes
    ----------
    channels : int
        Image channels (3 or 1).
    n_local, n_global, n_periodic : int
        Noise channels of each kind.
    widths : tuple of int
        Generator widths, noise resolution first (``len - 1`` upsamplings).
    d_width, d_depth : int
        Discriminator first-layer width and number of stride-2 layers.
    crop : int
        Training crop edge in pixels (a multiple of the generator's scale).
    batch : int
        Crops per step.
    lr, beta1, beta2 : float
        Adam settings of both networks.
    ema : float
        Decay of an exponential moving average of the generator's weights that then
        generates (0: generate with the trained weights). Off by default: in short CPU runs
        (a few hundred to a thousand steps) the average was blurrier than the trained weights
        (bark sample, 240 s: SWD 249 with 0.99).
    patch_loss : float
        Weight of :func:`engine.ops.texture.patch_loss.sliced_patch_loss` (generated against real
        crops) added to the generator's adversarial loss; 0 turns it off.
    name : str
        The preset it came from ("small", "large" or "custom").
    """

    channels: int = 3
    n_local: int = 16
    n_global: int = 8
    n_periodic: int = 4
    widths: tuple[int, ...] = (96, 64, 48, 32, 16)
    d_width: int = 32
    d_depth: int = 3
    crop: int = 64
    batch: int = 8
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    ema: float = 0.0
    patch_loss: float = 0.0
    name: str = "custom"

    @property
    def scale(self) -> int:
        """Output pixels per noise pixel."""
        return 2 ** (len(self.widths) - 1)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextureGANConfig:
        """Inverse of :meth:`to_json`; unknown keys are an error."""
        data = dict(data)
        data["widths"] = tuple(int(w) for w in data.get("widths", cls.widths))
        return cls(**data)

    @classmethod
    def preset(cls, name: str, channels: int = 3) -> TextureGANConfig:
        """The ``"small"`` (CPU) or ``"large"`` (GPU) preset for ``channels`` image channels."""
        if name not in PRESETS:
            raise ValueError(f"unknown model size {name!r}; use one of: {', '.join(PRESETS)}")
        return cls(channels=channels, name=name, **PRESETS[name])


PRESETS: dict[str, dict[str, Any]] = {
    # About 0.3 M generator parameters; ~0.1 CPU-second a step. Batches of 4 learnt faster
    # per CPU second than batches of 8 (cracked-mud sample, equal CPU time: SWD 75 vs 156).
    # The patch loss (weight 10) on four samples, 120 CPU-seconds each (a shared 2-core Xeon):
    # SWD 629 → 277 (fur), 309 → 147 (wicker), 911 → 140 (water), 413 → 416 (parquet), and
    # no more collapsed, single-colour or striped outputs; it costs about half the steps.
    "small": {"n_local": 16, "n_global": 8, "n_periodic": 4, "widths": (96, 64, 48, 32, 16),
              "d_width": 32, "d_depth": 3, "crop": 64, "batch": 4, "patch_loss": 10.0},
    # About 1.1 M generator parameters (4.5 MB) and 0.7 M discriminator parameters; for a GPU.
    "large": {"n_local": 32, "n_global": 16, "n_periodic": 8,
              "widths": (192, 128, 96, 64, 32), "d_width": 64, "d_depth": 3, "crop": 128,
              "batch": 16, "patch_loss": 10.0},
}


def resolve_model_size(model_size: str, device: torch.device | str) -> str:
    """``"auto"`` → ``"large"`` on a GPU and ``"small"`` on the CPU; other names unchanged."""
    import torch

    if model_size != "auto":
        return model_size
    return "small" if torch.device(device).type == "cpu" else "large"


def default_train_seconds(device: torch.device | str) -> float:
    """Training time used when none is given: 240 s on the CPU, 90 s on a GPU."""
    import torch

    return 240.0 if torch.device(device).type == "cpu" else 90.0


def sample_hash(pixels: np.ndarray, extra: np.ndarray | None = None) -> str:
    """Hex SHA-256 of a training sample (its shape and float32 pixels, plus an optional mask)."""
    digest = hashlib.sha256()
    array = np.ascontiguousarray(pixels, dtype=np.float32)
    digest.update(repr(array.shape).encode())
    digest.update(array.tobytes())
    if extra is not None:
        digest.update(np.packbits(np.ascontiguousarray(extra, dtype=bool)).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The model and its serialisation
# --------------------------------------------------------------------------------------------


@dataclass
class TextureModel:
    """A trained (or partly trained) texture GAN.

    Attributes
    ----------
    config : TextureGANConfig
        Architecture and training settings.
    generator : dict of str to Tensor
        Generator weights that generate (the moving average when ``config.ema`` is set).
    generator_raw : dict of str to Tensor or None
        The generator weights being trained, kept so training can continue (None where they
        equal ``generator``).
    discriminator : dict of str to Tensor or None
        Discriminator weights, kept so training can continue.
    optimizer : dict of str to Tensor or None
        Adam moments of both networks (``"g.<i>.exp_avg"`` …), kept so training can continue.
    steps : int
        Training steps done so far.
    seconds : float
        Training time spent so far.
    sample_hash : str
        :func:`sample_hash` of the sample it learnt (the cache key).
    losses : dict of str to float
        The latest discriminator and generator losses (running means).
    """

    config: TextureGANConfig
    generator: dict[str, torch.Tensor]
    generator_raw: dict[str, torch.Tensor] | None = None
    discriminator: dict[str, torch.Tensor] | None = None
    optimizer: dict[str, torch.Tensor] | None = None
    steps: int = 0
    seconds: float = 0.0
    sample_hash: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    _built: dict[str, TextureGenerator] = field(default_factory=dict, repr=False,
                                               compare=False)

    def build_generator(self, device: torch.device | str = "cpu") -> TextureGenerator:
        """The generator in eval mode on ``device`` (built once per device and reused)."""
        import torch

        key = str(torch.device(device))
        if key not in self._built:
            net = _new_generator(self.config)
            net.load_state_dict(self.generator)
            self._built[key] = net.to(device).eval()
        return self._built[key]

    def to_bytes(self, *, training_state: bool = True) -> bytes:
        """Serialise to safetensors bytes (tensors) with the config and counters as metadata.

        Parameters
        ----------
        training_state : bool
            Include the trained (not averaged) generator, the discriminator and the optimiser
            moments (needed to continue training; several times the generator's size).
            Without them the model only generates.
        """
        from safetensors.torch import save

        tensors = {f"g.{k}": v for k, v in self.generator.items()}
        if training_state and self.generator_raw is not None:
            tensors.update({f"graw.{k}": v for k, v in self.generator_raw.items()})
        if training_state and self.discriminator is not None:
            tensors.update({f"d.{k}": v for k, v in self.discriminator.items()})
        if training_state and self.optimizer is not None:
            tensors.update({f"opt.{k}": v for k, v in self.optimizer.items()})
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
        from engine.ops.texture.net import ARCHITECTURE

        metadata = {
            "format": FORMAT,
            "version": "1",
            "architecture": ARCHITECTURE,
            "config": json.dumps(self.config.to_json()),
            "steps": str(self.steps),
            "seconds": repr(float(self.seconds)),
            "sample_hash": self.sample_hash,
            "losses": json.dumps(self.losses),
        }
        return save(tensors, metadata=metadata)

    @classmethod
    def from_bytes(cls, data: bytes) -> TextureModel:
        """Load a model written by :meth:`to_bytes`.

        Raises
        ------
        ValueError
            The bytes are not a PixelMend texture model, or come from another architecture.
        """
        from safetensors.torch import load

        from engine.ops.texture.net import ARCHITECTURE

        metadata = _safetensors_metadata(data)
        if metadata.get("format") != FORMAT:
            raise ValueError("these bytes are not a PixelMend texture model")
        if metadata.get("architecture") != ARCHITECTURE:
            raise ValueError(f"texture model architecture {metadata.get('architecture')!r} is "
                             f"not supported by this version (expects {ARCHITECTURE!r}); "
                             f"train the texture again")
        tensors = load(data)
        parts: dict[str, dict[str, torch.Tensor]] = {"g": {}, "graw": {}, "d": {}, "opt": {}}
        for key, value in tensors.items():
            prefix, _, rest = key.partition(".")
            parts[prefix][rest] = value
        return cls(
            config=TextureGANConfig.from_json(json.loads(metadata["config"])),
            generator=parts["g"],
            generator_raw=parts["graw"] or None,
            discriminator=parts["d"] or None,
            optimizer=parts["opt"] or None,
            steps=int(metadata.get("steps", "0")),
            seconds=float(metadata.get("seconds", "0")),
            sample_hash=metadata.get("sample_hash", ""),
            losses=json.loads(metadata.get("losses", "{}")),
        )


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise ValueError("these bytes are not a PixelMend texture model (too short)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise ValueError("these bytes are not a PixelMend texture model (bad header)")
    try:
        header = json.loads(data[8:8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("these bytes are not a PixelMend texture model (bad header)") from None
    return dict(header.get("__metadata__") or {})


class ModelCache:
    """Recently trained texture models, keyed by sample hash and model size (thread-safe, LRU).

    The texture op looks here before training, so running it again on the same sample with
    another seed, size or tiling generates at once. The editor can :meth:`put` a model it kept
    with the project (:meth:`TextureModel.from_bytes`) to make it available again.
    """

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._models: OrderedDict[tuple[str, str], TextureModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sample_hash: str, size: str) -> TextureModel | None:
        """The model for this sample and preset name (``"small"``/``"large"``), or None."""
        with self._lock:
            model = self._models.get((sample_hash, size))
            if model is not None:
                self._models.move_to_end((sample_hash, size))
            return model

    def put(self, model: TextureModel) -> None:
        """Keep ``model`` under its ``sample_hash`` and ``config.name``."""
        with self._lock:
            key = (model.sample_hash, model.config.name)
            self._models[key] = model
            self._models.move_to_end(key)
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)

    def clear(self) -> None:
        """Forget every model."""
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)


model_cache = ModelCache()
"""The process-wide cache the texture op reads and fills."""


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _new_generator(config: TextureGANConfig) -> TextureGenerator:
    from engine.ops.texture.net import TextureGenerator

    return TextureGenerator(config.channels, config.n_local, config.n_global, config.n_periodic,
                            config.widths)


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


def _noise(net: TextureGenerator, batch: int, height: int, width: int,
           generator: torch.Generator, device: torch.device,
           period: tuple[int, int] | None = None) -> torch.Tensor:
    """A noise field ``batch×C×height×width``: local i.i.d., global constant, periodic waves."""
    import torch

    local = torch.randn(batch, net.n_local, height, width, generator=generator)
    z_global = torch.randn(batch, net.n_global, generator=generator)
    phase = torch.rand(batch, net.n_periodic, generator=generator) * (2 * math.pi)
    local, z_global, phase = local.to(device), z_global.to(device), phase.to(device)
    rows = torch.arange(height, dtype=torch.float32, device=device)
    cols = torch.arange(width, dtype=torch.float32, device=device)
    parts = [local, z_global[:, :, None, None].expand(-1, -1, height, width)]
    if net.n_periodic:
        parts.append(net.periodic_field(z_global, phase, rows, cols, period))
    return torch.cat(parts, dim=1)


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
    net_g = _new_generator(config).to(device)
    net_d = _new_discriminator(config).to(device)
    net_avg = _new_generator(config).to(device) if config.ema > 0 else net_g
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
    preview_noise = _noise(net_g, 1, PREVIEW_SIZE // config.scale, PREVIEW_SIZE // config.scale,
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
            noise = _noise(net_g, config.batch, n_noise, n_noise, noise_gen, device)
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
            net(_noise(net, batch, size, size, generator, device))
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


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def generate_texture(model: TextureModel, height: int, width: int, *, seed: int = 0,
                     tileable: bool = False, device: str | torch.device | None = None,
                     tile: int | None = None, progress: Progress = null_progress,
                     cancel: CancelToken | None = None, info: dict[str, Any] | None = None
                     ) -> np.ndarray:
    """Generate a ``height×width`` texture from a trained model.

    Parameters
    ----------
    model : TextureModel
        The trained model.
    height, width : int
        Output size in pixels (any size ≥ 1).
    seed : int
        Seeds the noise field: the same seed and size give the same image.
    tileable : bool
        Make the image exactly periodic (its 2×2 tiling shows no seam). When a side is not a
        multiple of the generator's scale, a periodic texture of the next multiple is resampled
        to the asked size with wrap-around interpolation, which keeps it periodic.
    device : str or torch.device, optional
        Where to run; chosen by :func:`engine.core.device.select_device` when omitted.
    tile : int, optional
        Output tile edge for large images (default 1024 on the CPU, 2048 on a GPU). Tiles are
        exact windows of the full generation; on an out-of-memory error the tile is halved and
        then the CPU takes over.
    progress, cancel
        Reported and checked once per tile.
    info : dict, optional
        Receives the tile size, the device used and any fallbacks taken.

    Returns
    -------
    ndarray, float32 height×width×C in [0, 1]
    """
    import torch

    cancel = cancel or CancelToken()
    if height < 1 or width < 1:
        raise ValueError(f"the texture size must be positive, got {width}×{height}")
    device = select_device(device) if not isinstance(device, torch.device) else device
    s = model.config.scale
    net = model.build_generator("cpu")
    halo = net.halo()
    rows_n, cols_n = math.ceil(height / s), math.ceil(width / s)
    generator = torch.Generator().manual_seed(int(seed))
    if tileable:
        field_ = _noise(net, 1, rows_n, cols_n, generator, torch.device("cpu"),
                        period=(rows_n, cols_n))
        region = (0, 0)
    else:
        field_ = _noise(net, 1, rows_n + 2 * halo, cols_n + 2 * halo, generator,
                        torch.device("cpu"))
        region = (halo, halo)
    fallback = Fallback(device, tile=tile or (1024 if device.type == "cpu" else 2048),
                        min_tile=max(2 * s, 128))
    out = fallback.run(lambda where: _render(model, field_, region, (rows_n, cols_n), halo,
                                             where.device, max(where.tile // s, 1), progress,
                                             cancel))
    if info is not None:
        facts = fallback.info()
        notes = info.setdefault("fallbacks", [])
        notes += [note for note in facts.pop("fallbacks") if note not in notes]
        info.update(facts)
    out *= 0.5
    out += 0.5
    if tileable and out.shape[:2] != (height, width):
        out = periodic_resize(out, height, width)
    out = np.ascontiguousarray(out[:height, :width])
    return np.clip(out, 0.0, 1.0, out=out)


def _render(model: TextureModel, field_: torch.Tensor, start: tuple[int, int],
            size: tuple[int, int], halo: int, device: torch.device, tile_n: int,
            progress: Progress, cancel: CancelToken) -> np.ndarray:
    """Run the generator over ``size`` noise cells from ``start`` of ``field_``, tile by tile.

    Each tile reads ``halo`` extra noise cells on each side (wrapping around the field) and
    keeps only its centre, which therefore equals the same window of a one-pass generation.
    """
    import torch

    from engine.core.pixels import from_tensor

    net = model.build_generator(device)
    s = model.config.scale
    rows_n, cols_n = size
    total_rows, total_cols = field_.shape[-2:]
    out = np.empty((rows_n * s, cols_n * s, model.config.channels), dtype=np.float32)
    tiles = list(iter_tiles(rows_n, cols_n, tile_n, 0)) if tile_n > 0 else []
    for index, (rows, cols) in enumerate(tiles):
        cancel.raise_if_cancelled()
        r_idx = torch.arange(start[0] + rows.start - halo, start[0] + rows.stop + halo)
        c_idx = torch.arange(start[1] + cols.start - halo, start[1] + cols.stop + halo)
        window = field_[:, :, r_idx % total_rows][:, :, :, c_idx % total_cols]
        with torch.inference_mode():
            image = net(window.to(device))
        image = image[..., halo * s:(halo + rows.stop - rows.start) * s,
                      halo * s:(halo + cols.stop - cols.start) * s]
        out[rows.start * s:rows.stop * s, cols.start * s:cols.stop * s] = from_tensor(image)
        progress((index + 1) / len(tiles), f"generating tile {index + 1} of {len(tiles)}")
    return out


def periodic_resize(image: np.ndarray, height: int, width: int, chunk: int = 256) -> np.ndarray:
    """Resample a periodic image to ``height×width`` by Fourier interpolation.

    Truncating (or zero-padding) the spectrum along each axis is exact band-limited
    interpolation of a periodic signal: the result is periodic with the new size and equally
    sharp at every position, so the wrap-around is no different from any other pixel step
    (linear interpolation would blur some positions more than others). Works in strips of
    ``chunk`` lines to bound memory.
    """
    out = np.ascontiguousarray(image, dtype=np.float32)
    for axis, size in ((1, width), (0, height)):
        if out.shape[axis] == size:
            continue
        old = out.shape[axis]
        shape = list(out.shape)
        shape[axis] = size
        resized = np.empty(shape, dtype=np.float32)
        other = out.shape[1 - axis]
        bins = min(old, size) // 2 + 1
        for start in range(0, other, chunk):
            part = out[start:start + chunk] if axis == 1 else out[:, start:start + chunk]
            spectrum = np.fft.rfft(part, axis=axis)
            index = [slice(None)] * 3
            index[axis] = slice(0, bins)
            spectrum = spectrum[tuple(index)]
            if size < old and size % 2 == 0:
                # The new Nyquist bin stands for both signs of that frequency: keep its real
                # part only once, as a real signal of even length has it.
                index[axis] = bins - 1
                spectrum[tuple(index)] = spectrum[tuple(index)].real
            values = np.fft.irfft(spectrum, n=size, axis=axis) * (size / old)
            if axis == 1:
                resized[start:start + chunk] = values
            else:
                resized[:, start:start + chunk] = values
        out = resized
    return out
