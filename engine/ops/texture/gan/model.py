"""The per-sample texture GAN's model: its configuration and presets, serialisation to
safetensors bytes (no pickle), the noise field it is fed, and the cache of recent models."""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from engine.ops.texture.net import TextureGenerator

__all__ = ["FORMAT", "PRESETS", "ModelCache", "TextureGANConfig", "TextureModel",
           "default_train_seconds", "model_cache", "new_generator", "noise_field",
           "resolve_model_size", "sample_hash"]

FORMAT = "pixelmend-texture-gan"
"""The ``format`` field in a saved model's metadata."""



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
            net = new_generator(self.config)
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



def noise_field(net: TextureGenerator, batch: int, height: int, width: int,
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


def new_generator(config: TextureGANConfig) -> TextureGenerator:
    """An untrained generator of ``config``'s shape."""
    from engine.ops.texture.net import TextureGenerator

    return TextureGenerator(config.channels, config.n_local, config.n_global, config.n_periodic,
                            config.widths)
