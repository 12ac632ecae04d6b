"""Network building blocks shared by the model families (denoise, detect, upscale).

The families may not import each other (see the import contracts in ``pyproject.toml``), so a
block two of them use lives here, below them. Importing this module imports torch: only the
networks' own modules import it, when a network is built.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResBlock", "residual_stage"]


class ResBlock(nn.Module):
    """``x + conv3×3(relu(conv3×3(x)))``, no normalisation (EDSR's block without scaling).

    Parameters
    ----------
    channels : int
        Feature channels in and out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


def residual_stage(channels: int, blocks: int) -> nn.Sequential:
    """``blocks`` :class:`ResBlock` of ``channels`` in a row."""
    return nn.Sequential(*(ResBlock(channels) for _ in range(blocks)))
