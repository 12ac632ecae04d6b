"""The denoiser recipe's training configs (:data:`CONFIGS`) and the names its exports get.

:mod:`engine.training.denoise` trains and exports them; a config's network part
(:meth:`TrainConfig.model_config`) is what the manifest records and
:func:`engine.ops.denoise.net.build_denoiser` builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CONFIGS", "MODEL_NAME", "MODEL_NAME_V2", "NOISE_DESCRIPTIONS", "TrainConfig"]

MODEL_NAME = "denoise_unet"
MODEL_NAME_V2 = "denoise_unet_v2"
"""Default export names: configs with a one-channel map (architecture ``denoise_unet_v1``) and
with a two-channel one (``denoise_unet_v2``)."""
NOISE_DESCRIPTIONS = {
    "awgn": "Gaussian 0-75, Poisson-Gaussian, channel-correlated, JPEG q20-95 "
            "(engine/training/noise.py)",
    "real": "Gaussian 0-75 (a quarter with spatially varying levels), Poisson-Gaussian, "
            "channel-correlated, JPEG q20-95, filtered luma/chroma noise, Bayer-demosaicked "
            "noise, film grain (engine/training/noise.py, real_noise.py)",
    "gauss": "Gaussian 0-75 (80 %), Poisson-Gaussian, channel-correlated, JPEG q20-95 "
             "(engine/training/noise.py)",
}

@dataclass(frozen=True)
class TrainConfig:
    """One training configuration.

    Attributes
    ----------
    widths, blocks, unshuffle
        Network shape (see :class:`engine.ops.denoise.net.DenoiseUNet`).
    crop, batch : int
        Training crop edge (a multiple of the network's size multiple, 16) and batch size.
    steps : int
        Length of the learning-rate schedule.
    lr, weight_decay, warmup : float, float, int
        AdamW peak learning rate, decoupled weight decay, warm-up steps.
    ema : float
        Decay of the weight moving average.
    log_every, val_every, ckpt_every : int
        Intervals in steps.
    val_every_nth, val_crop : int
        Held-out split (every n-th file) and the centre-crop edge validated on.
    map_channels : int
        Noise-map channels: 1 (``denoise_unet_v1``) or 2 (``denoise_unet_v2``: luma, chroma).
    noise : str
        The training noise mix, a key of :data:`engine.training.noise.NOISE_MIXES`.
    full_chroma_share : float
        Share of the crops cut from the training photos shrunk to half their size. The BSDS
        JPEGs store colour at half the resolution of brightness (4:2:0), so a network trained
        on them alone learns that colour is always smooth and flattens sharp colour edges
        (McMaster, photos developed from raw); halving the photo gives its colour full
        resolution again.
    val_key : str
        The validation figure that picks the best checkpoint.
    """

    widths: tuple[int, ...] = (24, 48, 96, 192)
    blocks: tuple[int, ...] = (1, 1, 1, 2)
    unshuffle: int = 2
    crop: int = 96
    batch: int = 8
    steps: int = 9000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    ema: float = 0.999
    log_every: int = 50
    val_every: int = 500
    ckpt_every: int = 250
    val_every_nth: int = 27
    val_crop: int = 160
    map_channels: int = 1
    noise: str = "awgn"
    full_chroma_share: float = 0.0
    val_key: str = "val_psnr_25"

    @property
    def model_name(self) -> str:
        """The manifest name an export of this config gets unless told otherwise."""
        return MODEL_NAME_V2 if self.map_channels == 2 else MODEL_NAME

    @property
    def architecture(self) -> str:
        """The registered architecture name this config trains."""
        from engine.ops.denoise import ARCHITECTURE, ARCHITECTURE_V2

        return ARCHITECTURE_V2 if self.map_channels == 2 else ARCHITECTURE

    def model_config(self) -> dict[str, Any]:
        """The network part, as stored in the manifest."""
        config: dict[str, Any] = {
            "channels": 3, "widths": list(self.widths), "blocks": list(self.blocks),
            "unshuffle": self.unshuffle,
            "multiple": self.unshuffle * 2 ** (len(self.widths) - 1),
            "noise_map": "sigma/255 per pixel"}
        if self.map_channels == 2:
            config.update(map_channels=2, noise_map="luma sigma/255, chroma sigma/255 per "
                          "pixel (orthonormal opponent space, engine/ops/denoise/opponent.py)")
        return config


CONFIGS: dict[str, TrainConfig] = {
    # Smoke tests: a few seconds on one CPU thread.
    "tiny": TrainConfig(widths=(8, 16, 32), blocks=(1, 1, 1), crop=32, batch=4, steps=20,
                        lr=2e-3, warmup=2, ema=0.9, log_every=1, val_every=5, ckpt_every=5,
                        val_every_nth=4, val_crop=48),
    # What a shared 2-core CPU can do in an hour or two.
    "cpu": TrainConfig(),
    # A second CPU cycle started from the exported ``cpu`` weights (``--init-from``): a lower
    # peak rate and a longer cosine, so the warm restart refines instead of unlearning.
    "cpu_continue": TrainConfig(steps=16000, lr=4e-4, warmup=300),
    # A third cycle from the ``cpu_continue`` export: larger crops give the coarsest level
    # more context, at a still lower peak rate.
    "cpu_third": TrainConfig(crop=128, steps=11000, lr=2e-4, warmup=200),
    # The same smoke test for the two-channel map and the real-noise mix.
    "tiny_v2": TrainConfig(widths=(8, 16, 32), blocks=(1, 1, 1), crop=32, batch=4, steps=20,
                           lr=2e-3, warmup=2, ema=0.9, log_every=1, val_every=5, ckpt_every=5,
                           val_every_nth=4, val_crop=48, map_channels=2, noise="real"),
    # The fourth cycle: the two-channel map (luma, chroma) widened from the ``cpu_third``
    # export, the real-noise mix, 128 px crops, a peak rate below the third cycle's.
    "cpu_v2": TrainConfig(crop=128, steps=8000, lr=1.5e-4, warmup=200, map_channels=2,
                          noise="real"),
    # A fifth cycle from the shipped ``denoise_unet`` (``--init-from``): half the crops with
    # colour at full resolution, chosen on the mean of both held-out figures at σ = 25.
    "cpu_chroma": TrainConfig(crop=128, steps=16000, lr=2e-4, warmup=300,
                              full_chroma_share=0.5, val_key="val_psnr_25_both"),
    # A sixth, shorter cycle from the fifth's export at half its peak rate, with more of the
    # crops at half size (McMaster, full of fine colour, gained most from them).
    "cpu_chroma2": TrainConfig(crop=128, steps=10000, lr=1e-4, warmup=200,
                               full_chroma_share=0.7, val_key="val_psnr_25_both"),
    # A seventh cycle from the sixth's export at a still lower peak rate, on mostly Gaussian
    # noise (the benchmarks' kind), colour at full resolution in 70 % of the crops.
    "cpu_gauss": TrainConfig(crop=128, steps=10000, lr=6e-5, warmup=200, noise="gauss",
                             full_chroma_share=0.7, val_key="val_psnr_25_both"),
    "tiny_chroma": TrainConfig(widths=(8, 16, 32), blocks=(1, 1, 1), crop=32, batch=4,
                               steps=20, lr=2e-3, warmup=2, ema=0.9, log_every=1, val_every=5,
                               ckpt_every=5, val_every_nth=4, val_crop=48,
                               full_chroma_share=0.5, val_key="val_psnr_25_both"),
    # Same architecture (the op's CPU speed target fixes it), GPU-sized batches and schedule.
    "gpu": TrainConfig(crop=128, batch=32, steps=300_000, lr=5e-4, warmup=2000, ema=0.9995,
                       log_every=200, val_every=5000, ckpt_every=5000, val_crop=256,
                       map_channels=2, noise="real"),
}
