"""Learned denoising with the shipped noise-level-conditioned U-Net.

The network (:mod:`engine.ops.denoise.net`) takes the image and a noise-level map, so one model
covers every noise strength. Two are shipped in ``resources/models``: ``denoise_unet`` (the
default; a one-channel map, trained on Gaussian, Poisson-Gaussian, channel-correlated and JPEG
noise) and ``denoise_unet_v2`` (the op's ``network=real``; two map channels, the luma and the
chroma σ of the noise in :mod:`engine.ops.denoise.opponent`, trained on camera-like noise too).
A one-channel model is given the per-channel σ of the same energy. The op
(:mod:`engine.ops.denoise.denoise_op`) supplies the levels given or estimated
(:mod:`engine.ops.denoise.noise_level`), constant or per pixel, scaled by its controls. Told
more noise than the image holds (``strength`` above 1) the network answers with a slight
brightening, which :func:`keep_local_means` removes.

torch is imported only when the op runs, and the model is loaded on the first run and kept per
device. Grey images are replicated to RGB for the network and averaged back. The image (or, with
a mask, the mask's bounding box plus a margin) is processed in overlapping tiles through
:func:`engine.core.tiling.run_tiled_torch`, in float16 on CUDA, with its out-of-memory fallbacks;
a per-pixel map travels with the image as two extra channels, so every tile gets its part.
With ``ensemble`` each tile is denoised in its 8 flips and quarter turns and the results, turned
back, are averaged (a self-ensemble: 8× the time, about 0.2 dB on CBSD68).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["MAX_SIGMA", "MODEL_NAME", "MODEL_NAME_REAL", "clear_model_cache", "denoise_array",
           "denoise_models", "fit_tile", "keep_local_means", "load_model"]

MODEL_NAME = "denoise_unet"
"""The op's default weights (one-channel map, trained on white Gaussian-type noise)."""
MODEL_NAME_REAL = "denoise_unet_v2"
"""The op's ``network=real`` weights (luma and chroma map, trained on camera-like noise too)."""
MAX_SIGMA = 75.0
"""Largest noise level (8-bit units) the network was trained on; larger maps are capped."""
OVERLAP = 32
MEAN_SIGMA_PX = 12.0
"""Scale (Gaussian σ, px) below which :func:`keep_local_means` counts a change as 'local mean'."""


def load_model(device: Any, half: bool = False, name: str = MODEL_NAME) -> Any:
    """The shipped denoiser ``name`` on ``device`` (cached; loaded and checksum-verified on
    first use).

    Returns
    -------
    model : DenoiseUNet
        In eval mode, float16 when ``half``.
    """
    import torch

    from engine.models.weights import load_model as load_weights

    _LOADED.add(name)
    return load_weights(name, device, dtype=torch.float16 if half else torch.float32)[0]


_LOADED: set[str] = set()


def clear_model_cache() -> None:
    """Forget the loaded models (tests; freeing accelerator memory)."""
    from engine.models.weights import clear_model_cache as clear

    for name in {MODEL_NAME, MODEL_NAME_REAL, *_LOADED}:
        clear(name)


def denoise_models() -> list[str]:
    """The manifest names of the installed denoisers (task ``denoise``), the op's among them."""
    from engine.models.weights import list_models, model_entry

    return [name for name in list_models() if model_entry(name).meta.get("task") == "denoise"]


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


def _level_map(sigma: float | tuple[float, float] | np.ndarray, shape: tuple[int, ...],
               gray: bool) -> np.ndarray:
    """The (luma σ, chroma σ) map as ``(2,)`` or ``H×W×2`` float32 (see :func:`denoise_array`)."""
    if np.isscalar(sigma):
        level = float(sigma)  # white noise of σ per channel
        pair = (math.sqrt(3.0) * level, 0.0) if gray else (level, level)
        return np.asarray(pair, np.float32)
    levels = np.asarray(sigma, dtype=np.float32)
    if levels.shape == (2,) or levels.shape == (*shape[:2], 2):
        return levels
    raise ValueError(f"noise levels must be σ, (luma σ, chroma σ) or an H×W×2 map; got shape "
                     f"{levels.shape} for a {shape[1]}×{shape[0]} image")


def denoise_array(image: np.ndarray, sigma: float | tuple[float, float] | np.ndarray, *,
                  device: Any = "cpu", tile: int = 512, ensemble: bool = False,
                  model: str = MODEL_NAME, progress: Progress | None = None,
                  cancel: CancelToken | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise a float32 ``H×W×C`` (C = 1 or 3) image given its noise level in [0, 1] units.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        The noisy image; not modified.
    sigma : float, (float, float) or ndarray H×W×2
        A float is white noise of that σ per channel (luma = chroma = σ for colour; a grey
        image's noise is all luma, √3·σ). A pair or a per-pixel map gives luma σ and chroma σ
        in the opponent space of :mod:`engine.ops.denoise.opponent`. A one-channel (v1) model
        gets :func:`engine.ops.denoise.opponent.rgb_sigma` of the two.
    device, tile
        Where the network runs; the largest tile edge.
    ensemble : bool
        Average the 8 flips and quarter turns (about 8× the time, a little more quality).
    model : str
        The manifest name of the weights (see :func:`denoise_models`); the op's by default.
    progress, cancel
        Reported and checked once per tile.

    The result is not clipped by the network; it is clipped to [0, 1] here.

    Returns
    -------
    result : ndarray, float32, same shape as ``image``
    info : dict
        The tiling facts (final tile, device, fallbacks).
    """
    import torch

    from engine.core.device import use_half_precision
    from engine.core.ensemble import DIHEDRAL
    from engine.core.tiling import run_tiled_torch

    device = torch.device(device)
    # Trained weights drive some activations into denormal floats, which x86 CPUs compute
    # about 8 times slower; flushing them to zero changes nothing visible.
    torch.set_flush_denormal(True)
    half = use_half_precision(device)
    network = load_model(device, half, model)
    gray = image.shape[2] == 1
    levels = _level_map(sigma, image.shape, gray)
    if getattr(network, "map_channels", 1) == 1:
        levels = np.sqrt((levels[..., :1] ** 2 + 2.0 * levels[..., 1:] ** 2) / 3.0)
    rgb = np.repeat(image, 3, axis=2) if gray else image
    per_pixel = levels.ndim == 3
    if per_pixel:  # the map travels with the image through the tiles, as extra channels
        rgb = np.concatenate([rgb, levels], axis=2)
    constant = tuple(float(v) for v in levels) if not per_pixel else ()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        current = load_model(batch.device, batch.dtype == torch.float16, model)
        if per_pixel:
            x, level = batch[:, :3], batch[:, 3:]
        else:
            x = batch
            level = torch.tensor(constant, device=batch.device, dtype=batch.dtype).view(
                1, -1, 1, 1)
        return current(x, level)

    tile = fit_tile(*image.shape[:2], tile, OVERLAP, network.multiple)
    result, tiling = run_tiled_torch(
        rgb, forward, device=device, tile=tile, overlap=OVERLAP, multiple=network.multiple,
        half=half, out_channels=3, ensemble=DIHEDRAL if ensemble else (),
        progress=progress or null_progress, cancel=cancel)
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
