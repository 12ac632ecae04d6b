"""Classical filters: Gaussian, median, salt-and-pepper repair, bilateral, non-local means, unsharp.

Each op filters the whole image, or only the mask's bounding box grown by the filter's reach when a
mask is given (the pixels further out cannot change the result inside the mask), and
:func:`engine.ops.registry.run_op` confines the change to the mask afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from engine.core.masks import on_mask_region
from engine.core.params import Bool, Float, Int
from engine.core.pixels import to_float, to_uint8
from engine.core.progress import CancelToken, Progress
from engine.ops.classical.impulse import repair_impulses
from engine.ops.registry import Op, OpResult, register

__all__ = [
    "AdaptiveMedianOp",
    "BilateralOp",
    "GaussianOp",
    "MedianOp",
    "NonLocalMeansOp",
    "UnsharpMaskOp",
]


def _keep_layout(filtered: np.ndarray, like: np.ndarray) -> np.ndarray:
    """OpenCV drops a single channel axis; put it back and make sure of float32."""
    return filtered.reshape(like.shape).astype(np.float32, copy=False)


def _gaussian_reach(sigma: float) -> int:
    # OpenCV's float kernels reach 4 sigma (ksize = 8 sigma + 1).
    return int(math.ceil(4.0 * sigma)) + 1


@register
class GaussianOp(Op):
    """Gaussian blur."""

    name = "gaussian"
    title = "Gaussian blur"
    category = "Filters"
    description = "Soften the image with a Gaussian blur: smooths noise and fine detail alike."
    params = (
        Float("sigma", 1.5, title="Radius (sigma)", minimum=0.1, maximum=50.0, step=0.1,
              help="Standard deviation of the blur in pixels; the blur reaches about 3× this."),
    )
    mask_use = "feather"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        sigma = params["sigma"]

        def compute(crop: np.ndarray) -> np.ndarray:
            blurred = cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
            return _keep_layout(blurred, crop)

        out, _ = on_mask_region(image, mask, _gaussian_reach(sigma), compute)
        return OpResult(image=out)


@register
class MedianOp(Op):
    """Median filter.

    Windows of 3 and 5 are filtered at full float precision (OpenCV supports float32 there).
    Larger windows use OpenCV's constant-time 8-bit median, so their result has 8-bit precision:
    exact for 8-bit sources (which round-trip through 8 bits unchanged), quantised to 1/255 for
    16-bit sources. ``info["precision"]`` says which path ran.
    """

    name = "median"
    title = "Median filter"
    category = "Filters"
    description = ("Replace each pixel by the median of its window: removes specks and noise "
                   "while keeping edges sharper than a blur does.")
    params = (
        Int("size", 5, title="Window size", minimum=3, maximum=31, step=2, odd=True,
            help="Side of the square window in pixels (odd). Sizes above 5 work at 8-bit "
                 "precision."),
    )
    mask_use = "blend"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        size = params["size"]
        exact = size <= 5

        def compute(crop: np.ndarray) -> np.ndarray:
            if exact:
                return _keep_layout(cv2.medianBlur(crop, size), crop)
            filtered = cv2.medianBlur(to_uint8(crop), size)
            return _keep_layout(to_float(filtered.reshape(crop.shape)), crop)

        out, _ = on_mask_region(image, mask, size // 2, compute)
        return OpResult(image=out, info={"precision": "float" if exact else "8-bit"})


@register
class AdaptiveMedianOp(Op):
    """Adaptive median filter that repairs impulse (salt-and-pepper) pixels and nothing else."""

    name = "adaptive_median"
    title = "Salt & pepper repair"
    category = "Filters"
    description = ("Find isolated black and white specks (impulse noise) and replace only those "
                   "by the median of a window that grows until it sees real image content; "
                   "every other pixel stays exactly as it was.")
    params = (
        Int("max_size", 7, title="Largest window", minimum=3, maximum=21, step=2, odd=True,
            help="The window grows from 3×3 up to this size; raise it for dense noise."),
        Float("threshold", 0.1, title="Threshold", minimum=0.0, maximum=1.0, step=0.01,
              help="A speck must differ from its neighbourhood's median by more than this "
                   "(0–1) to count as noise; raise it to leave fine detail alone."),
        Bool("extremes_only", True, title="Only black and white specks",
             help="Treat only near-black and near-white pixels as noise, as salt and pepper is."),
        Float("tolerance", 0.02, title="Black/white tolerance", minimum=0.0, maximum=0.5,
              step=0.01,
              help="How close to pure black or white (0–1) a speck must be when 'Only black "
                   "and white specks' is on; raise it for compressed (JPEG) images."),
    )
    mask_use = "blend"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        found: list[np.ndarray] = []

        def compute(crop: np.ndarray) -> np.ndarray:
            repaired, impulses = repair_impulses(
                crop, max_size=params["max_size"], threshold=params["threshold"],
                extremes_only=params["extremes_only"], tolerance=params["tolerance"],
                progress=progress, cancel=cancel)
            found.append(impulses.any(axis=2))
            return repaired

        out, box = on_mask_region(image, mask, params["max_size"] // 2, compute)
        impulses = found[0]
        if mask is not None:
            impulses = impulses & mask[box]
        return OpResult(image=out, info={"impulses": int(impulses.sum())})


@register
class BilateralOp(Op):
    """Edge-preserving bilateral filter."""

    name = "bilateral"
    title = "Bilateral filter"
    category = "Filters"
    description = ("Smooth noise while keeping edges: each pixel averages neighbours that are "
                   "both close by and similar in colour.")
    params = (
        Int("diameter", 9, title="Diameter", minimum=3, maximum=31, step=2, odd=True,
            help="Width of the neighbourhood in pixels; larger is slower and smoother."),
        Float("sigma_color", 0.1, title="Colour similarity", minimum=0.005, maximum=1.0,
              step=0.005,
              help="How different (0–1) two colours may be and still be averaged; small values "
                   "keep more edges."),
        Float("sigma_space", 3.0, title="Spatial sigma", minimum=0.5, maximum=50.0, step=0.5,
              help="How quickly a neighbour's weight falls with distance, in pixels."),
    )
    mask_use = "feather"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        diameter = params["diameter"]

        def compute(crop: np.ndarray) -> np.ndarray:
            filtered = cv2.bilateralFilter(crop, diameter, params["sigma_color"],
                                           params["sigma_space"],
                                           borderType=cv2.BORDER_REFLECT_101)
            return _keep_layout(filtered, crop)

        out, _ = on_mask_region(image, mask, diameter // 2, compute)
        return OpResult(image=out)


def _in_bands(image: np.ndarray, margin: int, compute: Callable[[np.ndarray], np.ndarray],
              progress: Progress, cancel: CancelToken, message: str) -> np.ndarray:
    """Filter ``image`` in horizontal bands that overlap by ``margin`` rows.

    A pixel's result depends only on pixels within ``margin`` of it, so the bands join without
    seams, and a cancel lands between two bands (about a megapixel each).
    """
    height, width = image.shape[:2]
    band = max(64, (1 << 20) // max(width, 1))
    out = np.empty_like(image)
    for top in range(0, height, band):
        cancel.raise_if_cancelled()
        progress(top / height, message)
        bottom = min(top + band, height)
        lo, hi = max(top - margin, 0), min(bottom + margin, height)
        filtered = compute(np.ascontiguousarray(image[lo:hi]))
        out[top:bottom] = filtered[top - lo:top - lo + bottom - top]
    return out


@register
class NonLocalMeansOp(Op):
    """Non-local means denoising (OpenCV).

    OpenCV runs it on 8-bit pixels, so the result has 8-bit precision even for a 16-bit source;
    where a mask is given only the masked pixels take that result. Colour images are denoised in
    CIELAB, with separate strengths for lightness (``h``) and colour (``h_color``).
    """

    name = "nl_means"
    title = "Non-local means"
    category = "Filters"
    description = ("Remove noise by averaging patches that look alike anywhere nearby; keeps "
                   "texture and edges better than a blur.")
    params = (
        Float("h", 10.0, title="Strength", minimum=1.0, maximum=50.0, step=0.5,
              help="Filter strength in 8-bit levels (0–255); about the noise's standard "
                   "deviation (10 suits noise of σ 10–15). Higher removes more noise and detail."),
        Float("h_color", 10.0, title="Colour strength", minimum=0.0, maximum=50.0, step=0.5,
              help="Strength for colour noise (colour images only); 0 leaves colour alone."),
        Int("template_size", 7, title="Patch size", minimum=3, maximum=15, step=2, odd=True,
            help="Side of the patches that are compared, in pixels."),
        Int("search_size", 21, title="Search window", minimum=7, maximum=41, step=2, odd=True,
            help="Side of the area searched for similar patches; larger is slower."),
    )
    mask_use = "feather"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        h, h_color = params["h"], params["h_color"]
        template, search = params["template_size"], params["search_size"]
        margin = search // 2 + template // 2

        def denoise(band: np.ndarray) -> np.ndarray:
            pixels = to_uint8(band)
            if band.shape[2] == 3:
                bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
                clean = cv2.fastNlMeansDenoisingColored(bgr, None, h, h_color, template, search)
                clean = cv2.cvtColor(clean, cv2.COLOR_BGR2RGB)
            else:
                clean = cv2.fastNlMeansDenoising(pixels[:, :, 0], None, h, template, search)
            return to_float(clean).reshape(band.shape)

        def compute(crop: np.ndarray) -> np.ndarray:
            return _in_bands(crop, margin, denoise, progress, cancel, "non-local means")

        out, _ = on_mask_region(image, mask, margin, compute)
        return OpResult(image=out, info={"precision": "8-bit"})


@register
class UnsharpMaskOp(Op):
    """Unsharp masking: add back the detail a Gaussian blur removes."""

    name = "unsharp_mask"
    title = "Unsharp mask"
    category = "Filters"
    description = ("Sharpen by boosting the difference between the image and a blurred copy; "
                   "the threshold leaves smooth areas and fine noise alone.")
    params = (
        Float("radius", 1.5, title="Radius (sigma)", minimum=0.3, maximum=20.0, step=0.1,
              help="Size of the detail to sharpen, in pixels: small for fine detail, large for "
                   "local contrast."),
        Float("amount", 1.0, title="Amount", minimum=0.0, maximum=5.0, step=0.05,
              help="How strongly to boost the detail (1 doubles it)."),
        Float("threshold", 0.0, title="Threshold", minimum=0.0, maximum=0.5, step=0.005,
              help="Leave pixels whose detail is below this (0–1) untouched, so smooth areas "
                   "and faint noise are not sharpened."),
    )
    mask_use = "feather"

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        radius, amount, threshold = params["radius"], params["amount"], params["threshold"]

        def compute(crop: np.ndarray) -> np.ndarray:
            blurred = cv2.GaussianBlur(crop, (0, 0), radius, borderType=cv2.BORDER_REFLECT_101)
            detail = crop - _keep_layout(blurred, crop)
            sharpened = np.clip(crop + np.float32(amount) * detail, 0.0, 1.0)
            return np.where(np.abs(detail) > threshold, sharpened, crop).astype(np.float32)

        out, _ = on_mask_region(image, mask, _gaussian_reach(radius), compute)
        return OpResult(image=out)
