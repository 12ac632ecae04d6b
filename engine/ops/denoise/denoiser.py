"""Learned denoising with the shipped noise-level-conditioned U-Net.

The network (:mod:`engine.ops.denoise.net`, weights ``denoise_unet`` in ``resources/models``) takes
the image and a noise-level map, so one model covers every noise strength. The σ given to it is the
``sigma`` parameter, or, when that is 0, the level estimated from the image by patch PCA (Chen, Zhu
& Heng, ICCV 2015; see :mod:`engine.ops.denoise.noise_level`), per channel, median over channels,
times ``strength``. Above a strength of 1 the network is told more noise than the image holds, which
it never saw in training: it answers with a slight brightening, which :func:`keep_local_means`
removes, and (with the shipped, briefly trained weights) beyond about 1.5 with faint texture rather
than more smoothing.

torch is imported only when the op runs, and the model is loaded on the first run and kept per
device. Grey images are replicated to RGB for the network and averaged back. The image (or, with
a mask, the mask's bounding box plus a margin) is processed in overlapping tiles through
:func:`engine.core.tiling.run_tiled_torch`, in float16 on CUDA, with its out-of-memory fallbacks.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["MAX_SIGMA", "MODEL_NAME", "clear_model_cache", "denoise_array", "fit_tile",
           "keep_local_means", "load_model"]

MODEL_NAME = "denoise_unet"
MAX_SIGMA = 75.0
"""Largest noise level (8-bit units) the network was trained on; larger maps are capped."""
OVERLAP = 32
MEAN_SIGMA_PX = 12.0
"""Scale (Gaussian σ, px) below which :func:`keep_local_means` counts a change as 'local mean'."""


def load_model(device: Any, half: bool = False) -> Any:
    """The shipped denoiser on ``device`` (cached; loaded and checksum-verified on first use).

    Returns
    -------
    model : DenoiseUNet
        In eval mode, float16 when ``half``.
    """
    import torch

    from engine.models.weights import load_model as load_weights

    return load_weights(MODEL_NAME, device, dtype=torch.float16 if half else torch.float32)[0]


def clear_model_cache() -> None:
    """Forget the loaded models (tests; freeing accelerator memory)."""
    from engine.models.weights import clear_model_cache as clear

    clear(MODEL_NAME)


def fit_tile(height: int, width: int, tile: int, overlap: int = OVERLAP, multiple: int = 16
             ) -> int:
    """The smallest tile (a multiple of ``multiple``, at most ``tile``) that covers the image
    with as few tiles as ``tile`` does, so that the tiles share the image evenly instead of the
    last one overlapping its neighbour almost whole (a 1000 px side takes 3 tiles of 368 px
    rather than 3 of 512)."""
    overlap = min(overlap, tile // 4)
    best = multiple
    for length in (height, width):
        if length <= tile:
            needed = length
        else:
            count = math.ceil((length - overlap) / (tile - overlap))
            needed = math.ceil((length - overlap) / count) + overlap
        best = max(best, needed)
    return min(tile, multiple * math.ceil(best / multiple))


def denoise_array(image: np.ndarray, sigma: float, *, device: Any = "cpu", tile: int = 512,
                  progress: Progress | None = None, cancel: CancelToken | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise a float32 ``H×W×C`` (C = 1 or 3) image given the noise σ in [0, 1] units.

    The result is not clipped by the network; it is clipped to [0, 1] here.

    Returns
    -------
    result : ndarray, float32, same shape as ``image``
    info : dict
        The tiling facts (final tile, device, fallbacks).
    """
    import torch

    from engine.core.device import use_half_precision
    from engine.core.tiling import run_tiled_torch

    device = torch.device(device)
    # Trained weights drive some activations into denormal floats, which x86 CPUs compute
    # about 8 times slower; flushing them to zero changes nothing visible.
    torch.set_flush_denormal(True)
    half = use_half_precision(device)
    model = load_model(device, half)
    gray = image.shape[2] == 1
    rgb = np.repeat(image, 3, axis=2) if gray else image
    level = float(sigma)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        current = load_model(batch.device, batch.dtype == torch.float16)
        sigma_map = torch.full((1, 1, 1, 1), level, device=batch.device, dtype=batch.dtype)
        return current(batch, sigma_map)

    tile = fit_tile(*image.shape[:2], tile, OVERLAP, model.multiple)
    result, tiling = run_tiled_torch(
        rgb, forward, device=device, tile=tile, overlap=OVERLAP, multiple=model.multiple,
        half=half, progress=progress or null_progress, cancel=cancel)
    if gray:
        result = result.mean(axis=2, keepdims=True)
    return np.clip(result, 0.0, 1.0).astype(np.float32), tiling


def keep_local_means(denoised: np.ndarray, noisy: np.ndarray, weight: float,
                     radius: float = MEAN_SIGMA_PX) -> np.ndarray:
    """Remove ``weight`` × the low-frequency part (Gaussian, σ = ``radius`` px) of the change.

    Noise is zero-mean, so removing it must not move local brightness. Told a noise level
    higher than the image holds (``strength`` above 1), the network, which never saw that in
    training, drifts brighter by up to 2–5 % at strength 2; this takes the drift back out.
    """
    change = (denoised - noisy).astype(np.float32)
    drift = cv2.GaussianBlur(change, (0, 0), radius, borderType=cv2.BORDER_REFLECT)
    corrected = denoised - np.float32(weight) * drift.reshape(change.shape)
    return np.clip(corrected, 0.0, 1.0).astype(np.float32)
