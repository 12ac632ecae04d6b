"""Tiled processing with overlapping tiles and feathered blending.

Networks see one tile at a time, so peak memory is set by the tile size, not by the image.
Neighbouring tiles overlap and are blended with linear ramps, so no seam shows. A network
that enlarges (an upscaler) returns tiles ``scale`` times larger; they are placed and blended on
an output ``scale`` times the input's size. On an
accelerator out-of-memory error the tile size is halved, and below ``min_tile`` the work moves
to the CPU (:class:`engine.core.device.Fallback`); the returned info says which fallbacks were
taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.device import Fallback
from engine.core.ensemble import Transform
from engine.core.progress import CancelToken, Progress, null_progress

if TYPE_CHECKING:
    import torch

__all__ = [
    "iter_tiles",
    "process_tiled",
    "run_tiled_torch",
    "tile_weights",
]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = max(tile - overlap, 1)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def iter_tiles(height: int, width: int, tile: int, overlap: int
               ) -> Iterator[tuple[slice, slice]]:
    """Yield ``(rows, cols)`` slices of overlapping tiles that cover the image."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    for y in _starts(height, tile, overlap):
        for x in _starts(width, tile, overlap):
            yield slice(y, min(y + tile, height)), slice(x, min(x + tile, width))


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    ramp = np.ones(length, dtype=np.float32)
    if overlap <= 0:
        return ramp
    rise = (np.arange(length, dtype=np.float32) + 0.5) / overlap
    if not at_start:
        ramp = np.minimum(ramp, rise)
    if not at_end:
        ramp = np.minimum(ramp, rise[::-1])
    return np.clip(ramp, 1e-3, 1.0)


def tile_weights(rows: slice, cols: slice, shape: tuple[int, int], overlap: int) -> np.ndarray:
    """Blend weights ``h×w×1`` of one tile: ramps inside overlaps, 1 along the image border."""
    h, w = shape
    wy = _ramp(rows.stop - rows.start, overlap, rows.start == 0, rows.stop == h)
    wx = _ramp(cols.stop - cols.start, overlap, cols.start == 0, cols.stop == w)
    return (wy[:, None] * wx[None, :])[:, :, None]


def _scaled(part: slice, scale: int) -> slice:
    return slice(part.start * scale, part.stop * scale)


def process_tiled(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], *,
                  tile: int = 512, overlap: int = 32, out_channels: int | None = None,
                  scale: int = 1, progress: Progress = null_progress,
                  cancel: CancelToken | None = None) -> np.ndarray:
    """Apply ``fn`` (tile → tile ``scale`` times larger, 1: the same size) over ``image`` in
    overlapping, blended tiles.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        Input; not modified.
    fn : callable
        Maps a float32 ``h×w×C`` tile to a float32 ``(scale·h)×(scale·w)×out_channels`` tile.
    tile, overlap : int
        Tile edge and overlap in input pixels.
    out_channels : int, optional
        Channels of ``fn``'s output; defaults to the input's.
    scale : int
        How many times larger than its tile ``fn``'s output is (1: the same size).
    progress, cancel
        Reported and checked once per tile.

    Returns
    -------
    ndarray, float32 (scale·H)×(scale·W)×out_channels
    """
    cancel = cancel or CancelToken()
    h, w, c = image.shape
    size = (h * scale, w * scale)
    out = np.zeros((*size, out_channels or c), dtype=np.float32)
    total = np.zeros((*size, 1), dtype=np.float32)
    tiles = list(iter_tiles(h, w, tile, overlap))
    for index, (rows, cols) in enumerate(tiles):
        cancel.raise_if_cancelled()
        result = fn(image[rows, cols])
        rows, cols = _scaled(rows, scale), _scaled(cols, scale)
        weights = tile_weights(rows, cols, size, overlap * scale)
        out[rows, cols] += result * weights
        total[rows, cols] += weights
        progress((index + 1) / len(tiles), f"tile {index + 1} of {len(tiles)}")
    return np.divide(out, total, out=out)  # in place: an enlarged output can be gigabytes


def _pad_to_multiple(tensor: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    import torch.nn.functional as F

    h, w = tensor.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h or pad_w:
        mode = "reflect" if h > pad_h and w > pad_w else "replicate"
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    return tensor, h, w


def run_tiled_torch(image: np.ndarray, forward: Callable[[torch.Tensor], torch.Tensor], *,
                    device: str | torch.device, tile: int = 512, overlap: int = 32,
                    multiple: int = 8, half: bool = False, min_tile: int = 128,
                    out_channels: int | None = None, scale: int = 1,
                    ensemble: Sequence[Transform] = (),
                    progress: Progress = null_progress,
                    cancel: CancelToken | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Run a network over ``image`` tile by tile, with the out-of-memory fallbacks.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        Input in [0, 1].
    forward : callable
        Takes a ``1×C×h×w`` tensor on the device (h, w multiples of ``multiple``) and returns
        ``1×C'×(scale·h)×(scale·w)``. Called under ``torch.inference_mode``.
    device : str or torch.device
        Where to run first.
    tile, overlap, multiple, min_tile : int
        Tile edge, overlap, size multiple the network needs, smallest tile before the CPU.
    half : bool
        Run in float16 (on an accelerator; the CPU always runs float32).
    scale : int
        How many times ``forward`` enlarges (1: same size).
    ensemble : sequence of Transform
        Flips and turns (:data:`engine.core.ensemble.DIHEDRAL`, :data:`~engine.core.ensemble.FLIPS`)
        of each tile to average ``forward`` over, each applied before the tile is padded so
        that the photo's edges stay at the tensor's edges; empty: one pass.

    Returns
    -------
    result : ndarray, float32 (scale·H)×(scale·W)×C'
    info : dict
        ``tile``, ``device`` and ``fallbacks`` (:meth:`engine.core.device.Fallback.info`).
    """
    import torch

    from engine.core.ensemble import self_ensemble
    from engine.core.pixels import from_tensor, to_tensor

    def attempt(where: Fallback) -> np.ndarray:
        assert where.tile is not None
        dtype = torch.float16 if half and where.device.type != "cpu" else torch.float32
        lap = min(overlap, max(where.tile // 4, 0))

        def padded_forward(tensor: torch.Tensor) -> torch.Tensor:
            padded, h, w = _pad_to_multiple(tensor, multiple)
            return forward(padded)[..., :h * scale, :w * scale]

        def one_tile(part: np.ndarray) -> np.ndarray:
            tensor = to_tensor(part, where.device, dtype)
            with torch.inference_mode():
                output = (self_ensemble(padded_forward, tensor, transforms=ensemble) if ensemble
                          else padded_forward(tensor))
            return from_tensor(output)

        return process_tiled(image, one_tile, tile=where.tile, overlap=lap,
                             out_channels=out_channels, scale=scale, progress=progress,
                             cancel=cancel)

    fallback = Fallback(device, tile=tile, min_tile=min_tile)
    result = fallback.run(attempt)
    return result, fallback.info()
