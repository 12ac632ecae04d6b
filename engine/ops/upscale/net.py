"""A compact multi-scale residual super-resolution network (EDSR / MDSR spirit, ESPCN's upsampler).

All the convolutions run at the low (input) resolution: a 3×3 head, a body of residual blocks
with a long skip, and one sub-pixel tail per scale (a 3×3 convolution to ``3·s²`` channels and a
pixel shuffle, Shi et al. 2016) that turns features into an ``s×`` larger image. The body is
shared by ×2, ×3 and ×4 (Lim et al. 2017's multi-scale model), so one file serves every factor
and each factor's training also trains the others' features. The network predicts the detail
that bicubic interpolation misses: its output is added to the bicubic enlargement of the input,
which makes a fresh network start from bicubic quality and lets a small one learn fast. There is
no batch normalisation, so a tile gives the same result alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from engine.models.blocks import residual_stage
from engine.ops.upscale import ARCHITECTURE

__all__ = ["ARCHITECTURE", "UpscaleNet", "build_upscaler"]


class UpscaleNet(nn.Module):
    """Multi-scale residual upscaler.

    Parameters
    ----------
    width : int
        Feature channels of the body.
    blocks : int
        Residual blocks in the body.
    scales : sequence of int
        The enlargement factors it has a tail for.
    """

    def __init__(self, width: int = 32, blocks: int = 8,
                 scales: Sequence[int] = (2, 3, 4)) -> None:
        super().__init__()
        self.scales = tuple(sorted(int(s) for s in scales))
        if not self.scales or min(self.scales) < 2:
            raise ValueError("scales must be integers of at least 2")
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.body = residual_stage(width, blocks)
        self.body_end = nn.Conv2d(width, width, 3, padding=1)
        self.tails = nn.ModuleDict({
            str(s): nn.Sequential(nn.Conv2d(width, 3 * s * s, 3, padding=1),
                                  nn.PixelShuffle(s))
            for s in self.scales})
        for tail in self.tails.values():  # start as bicubic: the residual begins at zero
            nn.init.zeros_(tail[0].weight)
            nn.init.zeros_(tail[0].bias)

    def forward(self, image: torch.Tensor, scale: int) -> torch.Tensor:
        """Enlarge ``image`` (N×3×h×w in [0, 1]) ``scale`` times: N×3×(s·h)×(s·w), not clipped.

        Raises
        ------
        ValueError
            ``scale`` is not one of :attr:`scales`.
        """
        if int(scale) not in self.scales:
            raise ValueError(f"this network enlarges {self.scales} times, not {scale}")
        base = nn.functional.interpolate(image, scale_factor=int(scale), mode="bicubic",
                                         align_corners=False)
        x = self.head(image - 0.5)
        x = x + self.body_end(self.body(x))
        return base + self.tails[str(int(scale))](x)


def build_upscaler(config: Mapping[str, Any]) -> UpscaleNet:
    """Build the network from a manifest/training ``config`` dict (``width``, ``blocks``,
    ``scales``; the constructor's defaults otherwise)."""
    return UpscaleNet(width=int(config.get("width", 32)), blocks=int(config.get("blocks", 8)),
                      scales=tuple(config.get("scales", (2, 3, 4))))
