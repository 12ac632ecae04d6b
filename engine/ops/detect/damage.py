"""Learned damage detection: a per-pixel damage probability and the mask proposed from it.

The shipped network (:mod:`engine.ops.detect.net`, weights ``damage_unet`` in
``resources/models``, built through the architecture registry and checksum-verified by
:func:`engine.models.weights.load_model`) was trained on clean photos with synthetic scratches,
hairlines, cracks, dust, lint, flakes and torn corners drawn over them, and grain, noise, JPEG,
blur, fading and sepia that it must not mark (:mod:`engine.training.damage`). It runs in
overlapping tiles through :func:`engine.core.tiling.run_tiled_torch` (float16 on CUDA, smaller
tiles and then the CPU on out-of-memory, :class:`engine.core.device.Fallback`), so a 12 MP scan
costs the memory of one tile. Grey images are replicated to RGB. torch is imported when a
function here runs, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.core.masks import grow_mask
from engine.core.progress import CancelToken, Progress, null_progress
from engine.ops.detect.defects import hysteresis

if TYPE_CHECKING:
    import torch

__all__ = [
    "BORDER_SCALE",
    "MODEL_NAME",
    "OVERLAP",
    "TILE",
    "WIDE_PX",
    "border_map",
    "clear_model_cache",
    "damage_probability",
    "load_damage_model",
    "propose_damage_mask",
    "weights_available",
]

MODEL_NAME = "damage_unet"
TILE = 512
OVERLAP = 64
"""Tile edge and overlap (px). The overlap is a third of the network's reach on each side;
the ramps that blend neighbouring tiles hide what little the missing context changes."""
BORDER_SCALE = 32.0
"""Distance (px) over which the border map falls from 1 at the photo's edge to 1/e."""
WIDE_PX = 7
"""Found damage at least this thick (flakes, torn corners, large specks) is grown by the whole
``grow_px``, thinner damage (hairlines, scratches, dust) by one pixel less: the network marks a
line to its soft edges, and a grown line costs the good pixels beside it (restore bench: repair
+5.22 -> +5.51 dB, F1 unchanged), while a tear's soft rim, left out, shows as a pale outline
after the fill."""


def border_map(shape: tuple[int, int], edges: tuple[bool, bool, bool, bool] = (True,) * 4
               ) -> np.ndarray:
    """How close each pixel is to the photo's edge: ``exp(-d / BORDER_SCALE)``.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)``.
    edges : tuple of bool
        Which sides (top, bottom, left, right) are the photo's edges (training crops from
        inside a photo have fewer); ``d`` is the distance to the nearest of them.

    Returns
    -------
    ndarray of float32, shape (H, W)
        1 on the edge pixels, 0 with no edge at all.
    """
    height, width = shape
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    distance = np.full((height, width), np.inf, np.float32)
    top, bottom, left, right = edges
    for on, d in ((top, rows), (bottom, height - 1 - rows), (left, cols),
                  (right, width - 1 - cols)):
        if on:
            distance = np.minimum(distance, d)
    return np.exp(-distance / np.float32(BORDER_SCALE)).astype(np.float32)


def load_damage_model(device: str | torch.device = "cpu", half: bool = False
                      ) -> torch.nn.Module:
    """The shipped damage network on ``device`` (cached; verified on first use).

    Parameters
    ----------
    device : str or torch.device
        Where the network runs.
    half : bool
        Cast it to float16 (CUDA).

    Returns
    -------
    torch.nn.Module
        A :class:`engine.ops.detect.net.DamageUNet` in eval mode.

    Raises
    ------
    engine.models.weights.WeightsError
        The weights are missing, damaged or not listed in the manifest.
    """
    import torch

    from engine.models.weights import load_model

    return load_model(MODEL_NAME, device, dtype=torch.float16 if half else torch.float32)[0]


def weights_available() -> bool:
    """Whether the manifest lists the damage network and its file is present (no checksum)."""
    from engine.models.weights import WeightsError, model_entry

    try:
        return model_entry(MODEL_NAME).path.is_file()
    except WeightsError:
        return False


def clear_model_cache() -> None:
    """Forget the loaded networks (tests; freeing accelerator memory)."""
    from engine.models.weights import clear_model_cache as clear

    clear(MODEL_NAME)


def damage_probability(image: np.ndarray, device: Any = None,
                       progress: Progress | None = None, cancel: CancelToken | None = None, *,
                       tile: int = TILE, ensemble: bool = False
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-pixel probability that a pixel is damage (scratch, crack, dust, tear).

    Parameters
    ----------
    image : ndarray of float32, shape (H, W, C)
        The photo in [0, 1], C = 1 or 3; not modified.
    device : str or torch.device, optional
        Where the network runs; None lets :func:`engine.core.device.select_device` choose.
    progress, cancel
        Reported and checked once per tile.
    tile : int
        Tile edge in pixels (memory scales with its square).
    ensemble : bool
        Average the probabilities of the photo and its three mirror images
        (:data:`engine.core.ensemble.FLIPS`): four times the time; on the restore bench,
        with the fifth training cycle's weights, recall 0.68 -> 0.69 and precision 0.875 ->
        0.90.

    Returns
    -------
    probability : ndarray of float32, shape (H, W)
        Values in [0, 1].
    info : dict
        The tiling facts (final tile, device, fallbacks).

    Raises
    ------
    engine.models.weights.WeightsError
        The network's weights are missing or damaged.
    """
    import torch

    from engine.core.device import select_device, use_half_precision
    from engine.core.ensemble import FLIPS
    from engine.core.pixels import check_image
    from engine.core.tiling import run_tiled_torch

    check_image(image)
    target = select_device(device) if device is None or isinstance(device, str) else device
    torch.set_flush_denormal(True)  # denormal activations slow CPU convolutions ~8×
    half = use_half_precision(target)
    model = load_damage_model(target, half)
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
    planes = [rgb]
    if model.in_channels == 4:
        planes.append(border_map(image.shape[:2])[:, :, None])

    def forward(batch: torch.Tensor) -> torch.Tensor:
        current = load_damage_model(batch.device, batch.dtype == torch.float16)
        return torch.sigmoid(current(batch).float())

    probability, tiling = run_tiled_torch(
        np.concatenate(planes, axis=2).astype(np.float32), forward, device=target, tile=tile,
        overlap=OVERLAP, multiple=model.multiple, half=half, out_channels=1,
        ensemble=FLIPS if ensemble else (),
        progress=progress or null_progress, cancel=cancel)
    return np.clip(probability[:, :, 0], 0.0, 1.0).astype(np.float32), tiling


def propose_damage_mask(probability: np.ndarray, threshold: float = 0.5, grow_px: int = 1
                        ) -> np.ndarray:
    """The mask to repair: pixels above ``threshold``, their fainter continuation, grown.

    Pixels above ``threshold`` start a region; connected pixels above half of it join
    (hysteresis, so a scratch that fades along its length is kept whole and a faint speck
    alone is not). The parts at least :data:`WIDE_PX` thick are then dilated by ``grow_px``
    to cover their soft rims, the thinner ones by ``grow_px - 1``.

    Parameters
    ----------
    probability : ndarray of float32, shape (H, W)
        Output of :func:`damage_probability`.
    threshold : float
        Probability in (0, 1) that starts a region; lower finds fainter damage.
    grow_px : int
        Dilation radius in pixels of the wide parts (0 = none).

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    if grow_px < 0:
        raise ValueError("grow_px must not be negative")
    strong = probability > threshold
    if not strong.any():
        return strong
    found = hysteresis(strong, probability > 0.5 * threshold)
    if grow_px == 0:
        return found
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (WIDE_PX, WIDE_PX))
    wide = cv2.morphologyEx(found.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    return grow_mask(found, int(grow_px) - 1) | grow_mask(wide, int(grow_px))
