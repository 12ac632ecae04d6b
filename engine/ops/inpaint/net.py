"""A compact Fourier-convolution inpainting network (LaMa in miniature).

Input: the RGB image with the hole set to zero, plus the hole mask as a fourth channel (1 =
hole). Output: an RGB image whose pixels inside the hole are the fill; the caller keeps the
original outside the hole (:func:`composite`).

Shape: a full-resolution stem, two stride-2 convolutions down to 1/4 resolution, a stack of
residual *fast Fourier convolution* blocks there (Chi et al., NeurIPS 2020; Suvorov et al.,
"LaMa", WACV 2022), and a decoder (1×1 reduction, bilinear upsampling, additive skip, 3×3
convolution) back to full resolution. Each FFC splits its channels into a local half (3×3
convolutions) and a global half whose spectral transform multiplies in the 2-D Fourier domain,
so one layer sees the whole crop:
a hole is filled from context far beyond a 3×3 neighbourhood at a cost a CPU can pay. There is
no normalisation layer, so a crop gives the same fill whatever it is batched with.

The input's height and width must be multiples of :attr:`InpaintNet.multiple` (4); the caller
pads (reflect) and crops back.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from engine.ops.inpaint import ARCHITECTURE

__all__ = ["ARCHITECTURE", "FFC", "InpaintNet", "SpectralTransform", "build_inpaint_net",
           "composite"]



class SpectralTransform(nn.Module):
    """Global branch of an FFC: 1×1 conv, a 1×1 conv on the real FFT's (re, im), inverse FFT."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        hidden = max(out_channels // 2, 1)
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.GELU())
        self.spectral = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.expand = nn.Conv2d(hidden, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        h, w = x.shape[-2:]
        # FFT in float32 even under autocast: half-precision FFTs need power-of-two sizes.
        freq = torch.fft.rfft2(x.float(), norm="ortho")
        stacked = torch.cat([freq.real, freq.imag], dim=1).to(x.dtype)
        stacked = F.gelu(self.spectral(stacked)).float()
        real, imag = stacked.chunk(2, dim=1)
        y = torch.fft.irfft2(torch.complex(real, imag), s=(h, w), norm="ortho").to(x.dtype)
        return self.expand(x + y)


class FFC(nn.Module):
    """Fast Fourier convolution on a (local, global) channel split of equal halves."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.half = half
        self.local_to_local = nn.Conv2d(half, half, 3, padding=1, padding_mode="reflect")
        self.global_to_local = nn.Conv2d(channels - half, half, 3, padding=1,
                                         padding_mode="reflect")
        self.local_to_global = nn.Conv2d(half, channels - half, 3, padding=1,
                                         padding_mode="reflect")
        self.global_to_global = SpectralTransform(channels - half, channels - half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local, glob = x[:, :self.half], x[:, self.half:]
        out_local = self.local_to_local(local) + self.global_to_local(glob)
        out_global = self.local_to_global(local) + self.global_to_global(glob)
        return torch.cat([out_local, out_global], dim=1)


class FFCBlock(nn.Module):
    """``x + FFC(gelu(FFC(x)))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ffc1 = FFC(channels)
        self.ffc2 = FFC(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffc2(F.gelu(self.ffc1(x)))


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, padding_mode="reflect"),
        nn.GELU())


class InpaintNet(nn.Module):
    """Image + hole mask → filled image.

    Parameters
    ----------
    width : int
        Channels at full resolution; 2× at 1/2 and 4× at 1/4 resolution.
    blocks : int
        FFC residual blocks at 1/4 resolution.
    """

    multiple = 4
    """Height and width of the input must be multiples of this."""

    def __init__(self, width: int = 32, blocks: int = 3) -> None:
        super().__init__()
        w1, w2, w4 = width, 2 * width, 4 * width
        self.stem = _conv(4, w1, 5)
        self.down1 = _conv(w1, w2, 3, stride=2)
        self.down2 = _conv(w2, w4, 3, stride=2)
        self.body = nn.Sequential(*(FFCBlock(w4) for _ in range(blocks)))
        self.reduce2 = nn.Conv2d(w4, w2, 1)
        self.up2 = _conv(w2, w2)
        self.reduce1 = nn.Conv2d(w2, w1, 1)
        self.up1 = _conv(w1, w1)
        self.head = nn.Conv2d(w1, 3, 3, padding=1, padding_mode="reflect")

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``hole`` (``N×1×H×W``, 1 = hole) of ``image`` (``N×3×H×W``, any values there).

        Returns the network's ``N×3×H×W`` image (unclipped); use :func:`composite` to keep the
        known pixels.
        """
        hole = hole.to(image.dtype)
        known = image * (1.0 - hole)
        x0 = self.stem(torch.cat([known, hole], dim=1))
        x1 = self.down1(x0)
        x2 = self.body(self.down2(x1))
        y1 = F.interpolate(self.reduce2(x2), size=x1.shape[-2:], mode="bilinear",
                           align_corners=False)
        y1 = self.up2(y1 + x1)
        y0 = F.interpolate(self.reduce1(y1), size=x0.shape[-2:], mode="bilinear",
                           align_corners=False)
        y0 = self.up1(y0 + x0)
        return self.head(y0) + 0.5


def composite(image: torch.Tensor, fill: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The known pixels of ``image`` outside ``hole`` and ``fill`` inside it."""
    hole = hole.to(image.dtype)
    return image * (1.0 - hole) + fill * hole


def build_inpaint_net(config: dict[str, Any]) -> InpaintNet:
    """Build the network from a manifest/training ``config`` dict (``width``, ``blocks``)."""
    return InpaintNet(width=int(config.get("width", 32)), blocks=int(config.get("blocks", 3)))
