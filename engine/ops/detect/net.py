"""A compact U-Net that maps a photo to a per-pixel damage logit (scratches, cracks, dust, tears).

The input is an RGB image in [0, 1] (grey images are replicated to three channels by the
caller) and, with ``border``, a fourth channel that says how close each pixel is to the edge of
the photo (:func:`engine.ops.detect.damage.border_map`): a torn corner is a flat patch at the
photo's edge, and a network that sees one tile at a time cannot otherwise tell the photo's edge
from the tile's. A 2×2 pixel-unshuffle packs the input into 16 channels at half resolution, so
no convolution runs at full resolution with few, memory-bound channels; four scales (1/2 …
1/16 resolution) of residual blocks exchange features through additive skips; a pixel-shuffle
brings four logits per 2×2 block back to one logit per pixel. A hairline one pixel wide is
still resolved, since each of the packed channels is one pixel of its block.

The receptive field is about 200 px, so the decision for a thin dark line can use what is
around it: a hair strand continues the texture of the hair, an eyelid crease follows the eye,
a scratch crosses everything. There is no normalisation layer, so a tile gives the same answer
as the whole image where the tile holds the context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from engine.models.blocks import ResBlock, residual_stage
from engine.ops.detect import ARCHITECTURE

__all__ = ["ARCHITECTURE", "DamageUNet", "ResBlock", "build_damage_net"]


class DamageUNet(nn.Module):
    """Residual U-Net with a one-channel logit output.

    Parameters
    ----------
    widths : sequence of int
        Feature channels per scale, finest first; ``len(widths)`` scales in all.
    blocks : sequence of int
        Residual blocks per scale on each of the encoder and decoder side; the coarsest entry
        is the bottleneck's count.
    unshuffle : int
        Pixel-unshuffle factor of the stem (1 = none, 2 = work at half resolution).
    border : bool
        Take a fourth input channel, the border map.
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128),
                 blocks: Sequence[int] = (1, 1, 2, 2), unshuffle: int = 2,
                 border: bool = True) -> None:
        super().__init__()
        widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
        if len(widths) < 2 or len(widths) != len(blocks):
            raise ValueError("widths and blocks need the same length, at least 2 scales")
        if unshuffle < 1:
            raise ValueError("unshuffle must be at least 1")
        self.scales = len(widths)
        self.unshuffle = int(unshuffle)
        self.in_channels = 4 if border else 3
        packed = self.in_channels * self.unshuffle**2
        self.head = nn.Conv2d(packed, widths[0], 3, padding=1)
        pairs = list(zip(widths[:-1], widths[1:], strict=True))
        stages = list(zip(widths[:-1], blocks[:-1], strict=True))
        self.encoders = nn.ModuleList(residual_stage(w, b) for w, b in stages)
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in pairs)
        self.bottleneck = residual_stage(widths[-1], blocks[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in pairs)
        self.decoders = nn.ModuleList(residual_stage(w, b) for w, b in stages)
        self.tail = nn.Conv2d(widths[0], self.unshuffle**2, 3, padding=1)

    @property
    def multiple(self) -> int:
        """Height and width of the input must be multiples of this (others are padded)."""
        return self.unshuffle * 2 ** (self.scales - 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Damage logits ``N×1×H×W`` of ``image`` (``N×C×H×W``: RGB in [0, 1], then the
        border map when the network takes one).

        Sizes that are not multiples of :attr:`multiple` are padded (replicated edge) and
        cropped back; tiled callers pass multiples and pay nothing for it.
        """
        if image.shape[1] != self.in_channels:
            raise ValueError(f"the damage network takes {self.in_channels} channels, not "
                             f"{image.shape[1]}")
        h, w = image.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            padded = nn.functional.pad(image, (0, pad_w, 0, pad_h), mode="replicate")
            return self.forward(padded)[..., :h, :w]
        centred = torch.cat([image[:, :3] - 0.5, image[:, 3:]], dim=1)
        x = self.head(nn.functional.pixel_unshuffle(centred, self.unshuffle))
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders),
                                     reversed(skips), strict=True):
            x = decoder(up(x) + skip)
        return nn.functional.pixel_shuffle(self.tail(x), self.unshuffle)


def build_damage_net(config: Mapping[str, Any]) -> DamageUNet:
    """Build the network from a manifest/training ``config`` mapping.

    Keys: ``widths``, ``blocks``, ``unshuffle``, ``border`` (the constructor's defaults
    otherwise).
    """
    return DamageUNet(widths=config.get("widths", (16, 32, 64, 128)),
                      blocks=config.get("blocks", (1, 1, 2, 2)),
                      unshuffle=int(config.get("unshuffle", 2)),
                      border=bool(config.get("border", True)))
