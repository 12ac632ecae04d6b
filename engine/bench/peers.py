"""Other libraries' takes on the classical cases, run on the same degraded inputs when they
are installed (scikit-image, SciPy, OpenCV)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.bench.degrade import Sample

__all__ = ["PEERS", "Peer"]


@dataclass(frozen=True)
class Peer:
    """Another library's take on a case, run on the same degraded input."""

    name: str
    case: str
    module: str
    run: Callable[[np.ndarray, Sample], np.ndarray]


def _skimage_nl_means(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    sigma = float(np.mean(estimate_sigma(image, channel_axis=-1)))
    out = denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                           patch_distance=6, channel_axis=-1)
    return np.asarray(out, np.float32)


def _skimage_bilateral(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import denoise_bilateral

    return np.asarray(denoise_bilateral(image, sigma_color=0.1, sigma_spatial=3,
                                        channel_axis=-1), np.float32)


def _scipy_median(image: np.ndarray, sample: Sample) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(image, size=(3, 3, 1)).astype(np.float32)


def _skimage_rl(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import richardson_lucy

    psf = _gaussian_psf(2.0)
    channels = [richardson_lucy(image[:, :, c], psf, num_iter=30, clip=True)
                for c in range(image.shape[2])]
    return np.stack(channels, axis=2).astype(np.float32)


def _skimage_wiener(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import wiener

    psf = _gaussian_psf(2.0)
    channels = [wiener(image[:, :, c], psf, balance=0.01, clip=True)
                for c in range(image.shape[2])]
    return np.clip(np.stack(channels, axis=2), 0, 1).astype(np.float32)


def _skimage_biharmonic(image: np.ndarray, sample: Sample) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return np.asarray(inpaint_biharmonic(image, sample.mask, channel_axis=-1), np.float32)


def _opencv_fast_nl_means(image: np.ndarray, sample: Sample) -> np.ndarray:
    from engine.core.pixels import from_float, to_float

    u8 = from_float(image, np.uint8)
    if u8.shape[2] == 3:
        out = cv2.fastNlMeansDenoisingColored(u8, None, 10, 10, 7, 21)
    else:
        out = cv2.fastNlMeansDenoising(u8[:, :, 0], None, 10, 7, 21)
    return to_float(out)


def _gaussian_psf(sigma: float) -> np.ndarray:
    size = 2 * math.ceil(3 * sigma) + 1
    kernel = cv2.getGaussianKernel(size, sigma)
    return (kernel @ kernel.T).astype(np.float64)


PEERS: tuple[Peer, ...] = (
    Peer("opencv fastNlMeans h=10", "nl_means", "cv2", _opencv_fast_nl_means),
    Peer("skimage nl_means", "nl_means", "skimage", _skimage_nl_means),
    Peer("skimage bilateral", "bilateral", "skimage", _skimage_bilateral),
    Peer("scipy median 3×3", "median[s&p]", "scipy", _scipy_median),
    Peer("skimage wiener", "deblur_wiener", "skimage", _skimage_wiener),
    Peer("skimage richardson_lucy", "deblur_rl", "skimage", _skimage_rl),
    Peer("skimage inpaint_biharmonic", "inpaint[telea]", "skimage", _skimage_biharmonic),
)


