"""A compact noise-level-conditioned U-Net for image denoising (DRUNet / NAFNet spirit).

The network sees the noisy RGB image and the noise-level map (σ/255 per pixel), so one set of
weights serves every noise strength and can take a spatially varying map (FFDNet, Zhang et al.
2018; DRUNet, Zhang et al. 2021). It predicts the noise residual, which is subtracted from the
input. ``denoise_unet_v1`` takes one map channel (the σ of every colour channel);
``denoise_unet_v2`` takes two, the σ of the noise's luma and of its chroma in the orthonormal
opponent space of :mod:`engine.ops.denoise.noise_level` (white noise of σ per RGB channel has σ
in both), so chroma blotches and luma grain can be told apart and scaled separately.
:func:`widen_noise_map` turns v1 weights into v2 weights that give the same output whenever the
two channels are equal. There is no batch normalisation, so any batch size and any tile give
the same result.

For CPU speed the image first goes through a 2×2 pixel-unshuffle (FFDNet's trick: 3 channels at
full resolution become 12 at half resolution) and the residual comes back through a
pixel-shuffle, so no convolution runs at full resolution with few, memory-bound channels.
Encoder and decoder exchange features through additive skips (cheaper than concatenation);
downsampling is a 2×2 stride-2 convolution and upsampling its transpose. Inputs whose height and
width are not multiples of :attr:`DenoiseUNet.multiple` are padded and cropped back (tiled
callers pass multiples: :func:`engine.core.tiling.run_tiled_torch` pads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from engine.models.blocks import ResBlock, residual_stage
from engine.ops.denoise import ARCHITECTURE, ARCHITECTURE_V2

__all__ = ["ARCHITECTURE", "ARCHITECTURE_V2", "DenoiseUNet", "ResBlock", "build_denoiser",
           "build_denoiser_v2", "widen_noise_map"]


class DenoiseUNet(nn.Module):
    """Residual U-Net denoiser conditioned on a noise-level map.

    Parameters
    ----------
    channels : int
        Image channels (3 for RGB; gray images are replicated to 3 by the caller).
    widths : sequence of int
        Feature channels per scale, finest first; ``len(widths)`` scales in all.
    blocks : sequence of int
        Residual blocks per scale on each of the encoder and decoder side; the coarsest entry
        is the bottleneck's count.
    unshuffle : int
        Pixel-unshuffle factor of the stem (1 = none, 2 = work at half resolution).
    map_channels : int
        Channels of the noise-level map: 1 (v1: one σ) or 2 (v2: luma σ, chroma σ).
    """

    def __init__(self, channels: int = 3, widths: Sequence[int] = (24, 48, 96, 192),
                 blocks: Sequence[int] = (1, 1, 1, 2), unshuffle: int = 2,
                 map_channels: int = 1) -> None:
        super().__init__()
        widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
        if len(widths) < 2 or len(widths) != len(blocks):
            raise ValueError("widths and blocks need the same length, at least 2 scales")
        if unshuffle < 1:
            raise ValueError("unshuffle must be at least 1")
        if map_channels not in (1, 2):
            raise ValueError("map_channels must be 1 (one σ) or 2 (luma σ, chroma σ)")
        self.channels = channels
        self.map_channels = int(map_channels)
        self.scales = len(widths)
        self.unshuffle = int(unshuffle)
        packed = channels * self.unshuffle**2
        self.head = nn.Conv2d(packed + self.map_channels, widths[0], 3, padding=1)
        pairs = list(zip(widths[:-1], widths[1:], strict=True))
        stages = list(zip(widths[:-1], blocks[:-1], strict=True))
        self.encoders = nn.ModuleList(residual_stage(w, b) for w, b in stages)
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in pairs)
        self.bottleneck = residual_stage(widths[-1], blocks[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in pairs)
        self.decoders = nn.ModuleList(residual_stage(w, b) for w, b in stages)
        self.tail = nn.Conv2d(widths[0], packed, 3, padding=1)

    @property
    def multiple(self) -> int:
        """Height and width of the input must be multiples of this."""
        return self.unshuffle * 2 ** (self.scales - 1)

    def forward(self, image: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
        """Denoise ``image`` (N×C×H×W) given ``sigma_map`` (N×M×H×W or N×M×1×1, σ/255, with
        M = :attr:`map_channels`).

        Sizes that are not multiples of :attr:`multiple` are padded (replicated edge) and
        cropped back; tiled callers pass multiples and pay nothing for it.

        Returns the denoised image (not clipped), same shape as ``image``.
        """
        h, w = image.shape[-2:]
        sigma_map = sigma_map.to(image.dtype)
        uniform = sigma_map.shape[-2:] == (1, 1)
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            image = nn.functional.pad(image, (0, pad_w, 0, pad_h), mode="replicate")
            if not uniform:
                sigma_map = nn.functional.pad(sigma_map, (0, pad_w, 0, pad_h), mode="replicate")
            return self.forward(image, sigma_map)[..., :h, :w]
        packed = nn.functional.pixel_unshuffle(image, self.unshuffle)
        if uniform:
            level = sigma_map.expand(-1, -1, *packed.shape[-2:])
        else:
            level = nn.functional.avg_pool2d(sigma_map, self.unshuffle)
        x = self.head(torch.cat([packed, level], dim=1))
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders),
                                     reversed(skips), strict=True):
            x = decoder(up(x) + skip)
        return image - nn.functional.pixel_shuffle(self.tail(x), self.unshuffle)


def build_denoiser(config: dict[str, Any]) -> DenoiseUNet:
    """Build the network from a manifest/training ``config`` dict.

    Keys: ``channels``, ``widths``, ``blocks``, ``unshuffle``, ``map_channels`` (the
    constructor's defaults otherwise; ``denoise_unet_v1`` has one map channel).
    """
    return DenoiseUNet(channels=int(config.get("channels", 3)),
                       widths=config.get("widths", (24, 48, 96, 192)),
                       blocks=config.get("blocks", (1, 1, 1, 2)),
                       unshuffle=int(config.get("unshuffle", 2)),
                       map_channels=int(config.get("map_channels", 1)))


def build_denoiser_v2(config: dict[str, Any]) -> DenoiseUNet:
    """Build the two-map-channel network (``denoise_unet_v2``: luma σ, chroma σ)."""
    return build_denoiser({**config, "map_channels": 2})


def widen_noise_map(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """v1 weights (one map channel) as v2 weights (luma, chroma) with the same behaviour.

    The head's weights on the old σ channel are split in halves over the luma and the chroma
    channel. The head is linear in its input, so with luma σ = chroma σ = σ the first layer's
    output, and so the whole network's, is the v1 output for σ (to float rounding). Halves
    rather than (old, zero): a v2 map with unequal channels then starts out as v1 given their
    mean, a fair first answer for either kind of noise, and both new weights get gradients
    from the start; with a zero chroma weight the network would at first ignore the chroma
    level entirely and under-smooth chroma-heavy noise. Weights that already have two map
    channels are returned as they are.
    """
    weight = state["head.weight"]
    map_channels = weight.shape[1] - state["tail.weight"].shape[0]  # head in = packed + map
    if map_channels == 2:
        return dict(state)
    if map_channels != 1:
        raise ValueError(f"expected denoiser weights with a 1- or 2-channel noise map, "
                         f"not {map_channels}")
    level = weight[:, -1:]
    widened = torch.cat([weight[:, :-1], level / 2, level / 2], dim=1)
    return {**state, "head.weight": widened}
