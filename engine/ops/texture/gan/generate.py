"""Generating a texture of any size from a trained model, in exact halo tiles."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.device import Fallback, select_device
from engine.core.progress import CancelToken, Progress, null_progress
from engine.core.tiling import iter_tiles

if TYPE_CHECKING:
    import torch


from engine.ops.texture.gan.model import TextureModel, noise_field
from engine.ops.texture.periodic import periodic_resize

__all__ = ["generate_texture"]




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
        field_ = noise_field(net, 1, rows_n, cols_n, generator, torch.device("cpu"),
                        period=(rows_n, cols_n))
        region = (0, 0)
    else:
        field_ = noise_field(net, 1, rows_n + 2 * halo, cols_n + 2 * halo, generator,
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


