"""Deblurring ops: Wiener and Richardson–Lucy deconvolution with a chosen blur kernel.

The algorithms live in :mod:`engine.ops.classical.deconvolution`; these ops add the parameter specs,
the choice of device (the FFTs run on a GPU when there is one, falling back to the CPU when it runs
out of memory) and the restriction to the mask's neighbourhood.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.core.device import Fallback
from engine.core.masks import on_mask_region
from engine.core.params import Choice, Float, Int
from engine.core.progress import CancelToken, Progress
from engine.ops.classical.deconvolution import richardson_lucy, wiener
from engine.ops.classical.kernels import KERNELS, make_kernel
from engine.ops.registry import Op, OpResult, register

__all__ = ["KERNEL_PARAMS", "RichardsonLucyOp", "WienerOp", "kernel_from_params"]

KERNEL_PARAMS = (
    Choice("kernel", "gaussian", title="Blur shape", choices=KERNELS,
           help="The blur to undo: gaussian for soft focus, motion for camera shake along a "
                "line, disk for an out-of-focus lens."),
    Float("sigma", 2.0, title="Gaussian sigma", minimum=0.3, maximum=20.0, step=0.1,
          help="Width of the Gaussian blur in pixels (gaussian shape only)."),
    Float("length", 9.0, title="Motion length", minimum=1.0, maximum=101.0, step=1.0,
          help="Length of the motion streak in pixels (motion shape only)."),
    Float("angle", 0.0, title="Motion angle", minimum=-180.0, maximum=180.0, step=1.0,
          help="Direction of the motion in degrees, counter-clockwise from horizontal "
               "(motion shape only)."),
    Float("radius", 3.0, title="Disk radius", minimum=0.5, maximum=50.0, step=0.5,
          help="Radius of the out-of-focus disk in pixels (disk shape only)."),
)
"""The blur-kernel parameters both deconvolution ops share."""


def kernel_from_params(params: Mapping[str, Any]) -> np.ndarray:
    """Build the blur kernel that the shared :data:`KERNEL_PARAMS` describe."""
    return make_kernel(params["kernel"], sigma=params["sigma"], length=params["length"],
                       angle=params["angle"], radius=params["radius"])


def _deconvolve(image: np.ndarray, mask: np.ndarray | None, kernel: np.ndarray,
                method: Callable[..., np.ndarray], device: str | None) -> OpResult:
    """Run ``method(crop, device=...)`` near the mask; on a GPU out of memory, on the CPU."""
    # Pixels up to a few kernel widths away still shape the restored pixels inside the mask.
    margin = 3 * max(kernel.shape)
    fallback = Fallback(device or "cpu")
    out, _ = fallback.run(lambda where: on_mask_region(
        image, mask, margin, lambda crop: method(crop, device=where.device)))
    return OpResult(image=out, info={**fallback.info(), "kernel_size": int(kernel.shape[0])})


@register
class WienerOp(Op):
    """Wiener deconvolution with a known blur kernel."""

    name = "deblur_wiener"
    title = "Wiener deconvolution"
    category = "Deblur"
    description = ("Undo a known blur directly, with no iterations to tune; raise the balance if "
                   "the result looks noisy or rings around edges.")
    params = (
        *KERNEL_PARAMS,
        Float("balance", 0.002, title="Noise balance", minimum=1e-5, maximum=1.0, step=0.0005,
              help="Noise-to-signal balance: higher suppresses noise and ringing, lower restores "
                   "more detail."),
    )
    mask_use = "feather"
    devices = ("cpu", "cuda")

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        kernel = kernel_from_params(params)

        def method(crop: np.ndarray, device: Any) -> np.ndarray:
            return wiener(crop, kernel, params["balance"], progress=progress, cancel=cancel,
                          device=device)

        return _deconvolve(image, mask, kernel, method, device)


@register
class RichardsonLucyOp(Op):
    """Richardson–Lucy deconvolution with a known blur kernel."""

    name = "deblur_rl"
    title = "Richardson–Lucy deconvolution"
    category = "Deblur"
    description = ("Undo a known blur iteratively; more iterations recover more detail but also "
                   "amplify noise.")
    params = (
        *KERNEL_PARAMS,
        Int("iterations", 30, title="Iterations", minimum=1, maximum=500, step=1,
            help="Number of refinement steps: 10–50 is typical; more sharpens further and "
                 "brings out noise."),
    )
    mask_use = "feather"
    devices = ("cpu", "cuda")

    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        kernel = kernel_from_params(params)

        def method(crop: np.ndarray, device: Any) -> np.ndarray:
            return richardson_lucy(crop, kernel, params["iterations"], progress=progress,
                                   cancel=cancel, device=device)

        return _deconvolve(image, mask, kernel, method, device)
