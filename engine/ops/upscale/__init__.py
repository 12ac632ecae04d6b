"""Upscaling (super-resolution): the learned multi-scale network (:mod:`~engine.ops.upscale.net`),
its tiled runtime (:mod:`~engine.ops.upscale.upscaler`) and the ``upscale`` op, which also offers
bicubic and Lanczos resampling for comparison."""

from engine.models.architectures import register_architecture

ARCHITECTURE = "upscale_msr_v1"
"""Name recorded in the weights manifest for the multi-scale residual upscaler."""

register_architecture(ARCHITECTURE, "engine.ops.upscale.net:build_upscaler")
