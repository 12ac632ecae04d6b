"""Texture ops: learn a texture with a GAN, or quilt it from blocks; generate or fill a mask.

Both ops take the texture sample from the image and work in one of two modes:

``generate``
    Make a new ``width×height`` texture (optionally tileable: it repeats without a seam). The
    sample is the whole image, or the bounding box of the mask when one is painted.
``fill_mask``
    Fill the painted mask with texture learnt from around it: the sample is the mask's bounding
    box grown by its own size (at least 64 px) with the masked pixels excluded, the texture is
    shifted to the mean colour of a thin ring around the mask, and blended in with a
    :data:`FILL_FEATHER_PX` feather just inside the mask's edge (:func:`fill_with_texture`);
    pixels outside the mask stay bit-identical.

``texture_gan`` trains a small per-sample GAN (:mod:`engine.ops.texture.gan`) for a time budget,
with a live preview; the trained model is returned in ``info["model"]`` and kept in
:data:`engine.ops.texture.gan.model_cache`, so running the op again on the same sample (another
seed, size or tiling) generates at once, and asking for more training time continues from it.
With ``sample_detail`` on (the default) the generator draws ``layouts`` (32) arrangements, and
the one whose coarse patches come closest to the sample's is rebuilt from the sample's patches
(:func:`engine.ops.texture.layouts.rebuild_gan_texture`, PatchMatch texture optimisation): on a
CPU budget the GAN alone is soft, and this is what makes it sharp.
``texture_patch`` is classical image quilting (:mod:`engine.ops.texture.quilting`; no training, a
1024×1024 texture in seconds) or the same PatchMatch synthesis started from noise layouts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from engine.core.masks import blend_inside, mask_bbox
from engine.core.params import Bool, Choice, Float, Int, Seed
from engine.core.progress import CancelToken, Progress, sub_range
from engine.ops.registry import Op, OpError, OpResult, register

__all__ = ["TextureGanOp", "TexturePatchOp", "fill_with_texture", "texture_sample"]

RING_PX = 6
"""Width of the ring around the mask whose mean colour the fill is matched to."""
FILL_FEATHER_PX = 3.0
"""Width of the ramp from the original to the texture just inside a filled mask's edge."""

MAX_DETAIL_PIXELS = 4096 * 4096
"""Largest texture the GAN op rebuilds from sample patches (its NNF and distance maps grow with
the area: about 1.5 GB at this size)."""

MAX_QUILT_SAMPLE = 768
"""Quilting searches the whole sample for every block; larger samples are centre-cropped."""

_COMMON = (
    Choice("mode", "generate", title="Mode", choices=("generate", "fill_mask"),
           help="generate: make a new texture image of the size below from the image (or the "
                "mask's bounding box); fill_mask: fill the mask with texture learnt from "
                "around it."),
    Int("width", 512, title="Width", minimum=16, maximum=8192, step=16,
        help="Width of the generated texture in pixels (generate mode)."),
    Int("height", 512, title="Height", minimum=16, maximum=8192, step=16,
        help="Height of the generated texture in pixels (generate mode)."),
    Seed("seed", 0, title="Seed", help="The same seed gives the same texture."),
    Bool("tileable", False, title="Tileable",
         help="Make the texture repeat seamlessly when tiled (generate mode)."),
)


def texture_sample(image: np.ndarray, mask: np.ndarray | None, mode: str
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """The pixels to learn the texture from, and the sample pixels to avoid.

    Parameters
    ----------
    image : ndarray, float32 H×W×C
    mask : ndarray of bool or None
    mode : {"generate", "fill_mask"}

    Returns
    -------
    sample : ndarray
        A contiguous copy of the whole image, the mask's bounding box (generate), or the
        mask's bounding box grown by its size, at least 64 px (fill_mask).
    forbidden : ndarray of bool or None
        In fill_mask mode, the mask (grown by 2 px) within ``sample``: no training crop or
        quilting block may touch it.
    """
    if mode == "fill_mask":
        if mask is None:
            raise OpError("fill_mask mode needs a mask: paint over the area to fill first")
        rows, cols = mask_bbox(mask)
        margin = max(64, rows.stop - rows.start, cols.stop - cols.start)
        rows, cols = mask_bbox(mask, margin)
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        return np.ascontiguousarray(image[rows, cols]), grown[rows, cols]
    if mask is not None:
        rows, cols = mask_bbox(mask)
        return np.ascontiguousarray(image[rows, cols]), None
    return np.ascontiguousarray(image), None


def fill_with_texture(image: np.ndarray, mask: np.ndarray,
                      synthesise: Callable[[int, int], np.ndarray], *,
                      match_colour: bool = True) -> np.ndarray:
    """Blend synthesised texture into ``mask``, feathered over :data:`FILL_FEATHER_PX` inside
    its edge (generating ops confine their own results: ``run_op`` does not blend them).

    Parameters
    ----------
    image : ndarray, float32 H×W×C
        The original; not modified.
    mask : ndarray of bool H×W
        Where to fill.
    synthesise : callable
        ``(height, width) -> texture`` of that size.
    match_colour : bool
        Shift the texture so its mean over a thin ring around the mask equals the image's.

    Returns
    -------
    ndarray, float32 H×W×C
        The image with texture inside the mask and the original pixels elsewhere.
    """
    rows, cols = mask_bbox(mask, RING_PX)
    texture = synthesise(rows.stop - rows.start, cols.stop - cols.start)
    inside = mask[rows, cols]
    original = image[rows, cols]
    if match_colour:
        grown = cv2.dilate(inside.astype(np.uint8),
                           np.ones((2 * RING_PX + 1, 2 * RING_PX + 1), np.uint8)).astype(bool)
        ring = grown & ~inside
        if ring.any():
            shift = original[ring].mean(axis=0) - texture[ring].mean(axis=0)
            texture = np.clip(texture + shift, 0.0, 1.0)
    out = image.copy()
    out[rows, cols] = blend_inside(original, texture.astype(np.float32), inside,
                                   FILL_FEATHER_PX)
    return out


@register
class TextureGanOp(Op):
    """Learn a texture from the image with a small GAN and generate it at any size."""

    name = "texture_gan"
    title = "Texture GAN"
    category = "Texture"
    description = (
        "Learns the texture of the image (or of the mask's bounding box) with a small GAN, "
        "generates it at any size, optionally tileable, or fills the mask with it, and "
        "rebuilds the result from the sample's own patches for real detail. Training takes "
        "minutes with a live preview; the trained model is reused, so another seed or size "
        "is quick."
    )
    generates = True
    mask_use = "feather"
    feather_px = 3.0
    devices = ("cpu", "cuda", "mps")
    params = (
        *_COMMON,
        Int("train_seconds", 0, title="Training time (s)", minimum=0, maximum=3600, step=30,
            help="Total training time of the model; 0 = automatic (240 s on the CPU, 90 s on a "
                 "GPU). A model already trained on this sample is reused, and trained further "
                 "only if more time is asked for."),
        Choice("model_size", "auto", title="Model size", choices=("auto", "small", "large"),
               help="small is fast on the CPU; large learns more detail on a GPU; auto picks "
                    "by device."),
        Bool("sample_detail", True, title="Detail from the sample",
             help="Draw several GAN layouts, keep the one closest to the sample and rebuild it "
                  "from the sample's own patches: much sharper. It takes about 25 s for "
                  "256×256 and about four minutes per megapixel on a CPU (textures up to "
                  "4096×4096). Off: the GAN's raw output, at once."),
        Int("layouts", 32, title="Layouts tried", minimum=1, maximum=64,
            help="How many GAN layouts are laid out coarsely from the sample's patches before "
                 "the closest to the sample is detailed (with Detail from the sample on): "
                 "more is closer to the sample and slower, about 0.7 s each at 256×256 on a "
                 "CPU."),
    )

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        from engine.core.device import select_device
        from engine.ops.texture.gan import (
            TextureGANConfig,
            default_train_seconds,
            generate_texture,
            model_cache,
            resolve_model_size,
            sample_hash,
            train_texture_gan,
        )
        from engine.ops.texture.layouts import rebuild_gan_texture

        mode = params["mode"]
        sample, forbidden = texture_sample(image, mask, mode)
        torch_device = select_device(device)
        size = resolve_model_size(params["model_size"], torch_device)
        key = sample_hash(sample, forbidden)
        model = model_cache.get(key, size)
        budget = float(params["train_seconds"]) or default_train_seconds(torch_device)
        trained_now = 0.0
        if model is None or model.seconds < budget - 1.0:
            trained_now = budget - (model.seconds if model is not None else 0.0)
            config = TextureGANConfig.preset(size, image.shape[2])
            try:
                model = train_texture_gan(
                    sample, config=config, seconds=trained_now, seed=params["seed"],
                    device=torch_device, forbidden=forbidden, init=model,
                    progress=sub_range(progress, 0.0, 0.9), cancel=cancel,
                    checkpoint=model_cache.put)
            except ValueError as error:
                raise OpError(str(error)) from None
        start = 0.9 if trained_now else 0.0
        detail = bool(params["sample_detail"])
        remaining = sub_range(progress, start, 1.0)
        tiles: dict[str, Any] = {}
        notes: dict[str, Any] = {"sample_detail": False}

        def synthesise(height: int, width: int, tileable: bool = False) -> np.ndarray:
            if detail and height * width > MAX_DETAIL_PIXELS:
                notes["sample_detail_skipped"] = (
                    f"{width}×{height} is above the {MAX_DETAIL_PIXELS // 1_000_000} MP that "
                    "the rebuild from sample patches handles; this is the GAN's raw output")
            elif detail:
                notes["sample_detail"] = True
                return _with_cpu_fallback(
                    lambda where: rebuild_gan_texture(
                        model, sample, height, width, tileable=tileable, forbidden=forbidden,
                        layouts=params["layouts"], seed=params["seed"], device=where,
                        progress=remaining, cancel=cancel, info=tiles),
                    torch_device, tiles)
            return generate_texture(model, height, width, seed=params["seed"],
                                    tileable=tileable, device=torch_device,
                                    progress=remaining, cancel=cancel, info=tiles)

        if mode == "fill_mask":
            out = fill_with_texture(image, mask, synthesise)
        else:
            out = synthesise(params["height"], params["width"], params["tileable"])
        info = {
            "model": model,
            "sample_hash": key,
            "sample_size": [int(sample.shape[1]), int(sample.shape[0])],
            "model_size": size,
            "reused_model": trained_now == 0.0,
            "train_seconds_now": round(trained_now, 1),
            "train_seconds_total": round(model.seconds, 1),
            "train_steps": model.steps,
            "losses": dict(model.losses),
            "device": tiles.get("device", torch_device.type),
            "fallbacks": tiles.get("fallbacks", []),
            **notes,
        }
        return OpResult(image=out, info=info)


def _with_cpu_fallback(run: Callable[[Any], np.ndarray], device: Any,
                       notes: dict[str, Any]) -> np.ndarray:
    """``run(device)``; again on the CPU when a GPU runs out of memory (noted in ``notes``). A
    ``ValueError`` (a sample with nothing usable) becomes an :class:`OpError`."""
    from engine.core.device import Fallback

    fallback = Fallback(device)
    try:
        return fallback.run(lambda where: run(where.device))
    except ValueError as error:
        raise OpError(str(error)) from None
    finally:
        known = notes.setdefault("fallbacks", [])
        known += [note for note in fallback.notes if note not in known]


@register
class TexturePatchOp(Op):
    """Patch-based texture synthesis: image quilting, or PatchMatch synthesis."""

    name = "texture_patch"
    title = "Texture from patches"
    category = "Texture"
    description = (
        "A new texture from pieces of the image (or of the mask's bounding box), no training: "
        "quilting (instant) or patchmatch (more varied, seconds to minutes). Optionally "
        "tileable, or fills the mask with texture taken from around it."
    )
    generates = True
    mask_use = "feather"
    feather_px = 3.0
    devices = ("cpu", "cuda", "mps")
    params = (
        *_COMMON,
        Choice("method", "quilting", title="Method", choices=("quilting", "patchmatch"),
               help="quilting: blocks stitched along seams, instant. patchmatch: the best of "
                    "several coarse layouts, built from the sample's 7×7 patches coarse to fine "
                    "(PatchMatch texture optimisation); much closer to the sample's patch "
                    "statistics and no seams, about 12 s for 256×256 and two to three "
                    "minutes per megapixel on a CPU. Block size, overlap and variety apply "
                    "to quilting only."),
        Int("layouts", 32, title="Layouts tried", minimum=1, maximum=64,
            help="patchmatch: how many noise layouts are laid out coarsely from the sample's "
                 "patches before the closest to the sample is detailed; more is closer to the "
                 "sample and slower, about 0.25 s each at 256×256 on a CPU."),
        Int("block", 48, title="Block size", minimum=8, maximum=256, step=4,
            help="Edge of the copied blocks in pixels; make it larger than the texture's "
                 "largest element (a brick, a tile)."),
        Int("overlap", 8, title="Overlap", minimum=2, maximum=96,
            help="Overlap of neighbouring blocks in pixels (at most a third of the block)."),
        Float("tolerance", 0.1, title="Variety", minimum=0.0, maximum=1.0, step=0.05,
              help="Blocks up to this much worse than the best match are also used: more "
                   "variety, slightly more visible seams."),
    )

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        from engine.ops.texture.layouts import synthesise_texture
        from engine.ops.texture.quilting import quilt

        mode = params["mode"]
        sample, forbidden = texture_sample(image, mask, mode)
        cropped = False
        if max(sample.shape[:2]) > MAX_QUILT_SAMPLE:
            rows, cols = _centre_crop(sample.shape[:2], MAX_QUILT_SAMPLE)
            sample = np.ascontiguousarray(sample[rows, cols])
            forbidden = forbidden[rows, cols] if forbidden is not None else None
            cropped = True
        used: dict[str, int] = {}
        facts: dict[str, Any] = {}

        def synthesise(height: int, width: int, tileable: bool = False) -> np.ndarray:
            if params["method"] == "patchmatch":
                return _with_cpu_fallback(
                    lambda where: synthesise_texture(
                        sample, height, width, periodic=tileable, forbidden=forbidden,
                        layouts=params["layouts"], seed=params["seed"], device=where,
                        progress=progress, cancel=cancel),
                    device or "cpu", facts)
            block = params["block"]
            while True:
                try:
                    result = quilt(sample, height, width, block=block,
                                   overlap=min(params["overlap"], block // 3),
                                   tolerance=params["tolerance"], seed=params["seed"],
                                   tileable=tileable, forbidden=forbidden, progress=progress,
                                   cancel=cancel)
                    used["block"] = block
                    return result
                except ValueError as error:
                    # Around a large mask the unmasked sample may not hold a full block.
                    if forbidden is None or block // 2 < 8:
                        raise OpError(str(error)) from None
                    block //= 2

        if mode == "fill_mask":
            out = fill_with_texture(image, mask, synthesise)
        else:
            out = synthesise(params["height"], params["width"], params["tileable"])
        info = {"sample_size": [int(sample.shape[1]), int(sample.shape[0])],
                "sample_cropped": cropped, "method": params["method"], **facts}
        if params["method"] == "quilting":
            info["block"] = used.get("block", params["block"])
        return OpResult(image=out, info=info)


def _centre_crop(shape: tuple[int, int], size: int) -> tuple[slice, slice]:
    h, w = shape
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return slice(top, top + min(size, h)), slice(left, left + min(size, w))
