"""Learned upscaling with the shipped multi-scale network, tile by tile.

The network (:mod:`engine.ops.upscale.net`) enlarges ×2, ×3 or ×4 with one set of weights,
``resources/models/upscale_msr.safetensors``. torch is imported only when it runs; the model is
loaded on first use and kept per device (:func:`engine.models.weights.load_model`). The image
goes through :func:`engine.core.tiling.run_tiled_torch` in overlapping low-resolution tiles,
whose enlarged results are blended on the large canvas, so the memory a run needs is set by the
tile and the output, never by a whole-image activation; out-of-memory on an accelerator halves
the tile, then moves to the CPU. Grey images are replicated to RGB for the network and averaged
back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

__all__ = ["MODEL_NAME", "OVERLAP", "SCALES", "upscale_array"]

MODEL_NAME = "upscale_msr"
SCALES = (2, 3, 4)
"""The factors the shipped network enlarges by."""
OVERLAP = 32
"""Overlap of neighbouring tiles in input pixels: longer than the network's reach (19 px), so
the pixels a tile's edge disturbs weigh little in the blend (tiled and whole results differ by
at most about one 8-bit level)."""


def _load(device: Any, half: bool) -> Any:
    import torch

    from engine.models.weights import load_model

    return load_model(MODEL_NAME, device, dtype=torch.float16 if half else torch.float32)[0]


def upscale_array(image: np.ndarray, scale: int, *, device: Any = "cpu", tile: int = 384,
                  progress: Progress | None = None, cancel: CancelToken | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Enlarge a float32 ``H×W×C`` image (C = 1 or 3, in [0, 1]) ``scale`` times.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        Not modified.
    scale : int
        2, 3 or 4.
    device : str or torch.device
        Where the network runs (float16 on CUDA).
    tile : int
        The largest input tile edge in pixels.
    progress, cancel
        Reported and checked once per tile.

    Returns
    -------
    result : ndarray, float32 (scale·H)×(scale·W)×C, clipped to [0, 1]
    info : dict
        The tiling facts (final tile, device, fallbacks).

    Raises
    ------
    ValueError
        ``scale`` is not one the network knows.
    """
    import torch

    from engine.core.device import use_half_precision
    from engine.core.tiling import run_tiled_torch

    if scale not in SCALES:
        raise ValueError(f"the upscaler enlarges {', '.join(map(str, SCALES))} times, "
                         f"not {scale}")
    device = torch.device(device)
    torch.set_flush_denormal(True)
    half = use_half_precision(device)
    _load(device, half)  # fail early (missing or damaged weights) before any tile runs
    gray = image.shape[2] == 1
    rgb = np.repeat(image, 3, axis=2) if gray else image

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return _load(batch.device, batch.dtype == torch.float16)(batch, scale)

    result, tiling = run_tiled_torch(
        np.ascontiguousarray(rgb, dtype=np.float32), forward, device=device, tile=tile,
        overlap=min(OVERLAP, tile // 4), multiple=1, half=half, min_tile=64, out_channels=3,
        scale=scale, progress=progress or null_progress, cancel=cancel)
    if gray:
        result = result.mean(axis=2, keepdims=True, dtype=np.float32)
    return np.clip(result, 0.0, 1.0, out=result), tiling
