"""Per-sample texture GAN networks in the PSGAN / SGAN family (definitions only, no I/O).

The generator is fully convolutional (Jetchev et al. 2016, "Texture synthesis with spatial
GANs"; Bergmann et al. 2017, "Learning texture manifolds with the periodic spatial GAN"). Its
input is a spatial noise tensor at ``1 / scale`` of the output resolution with three groups of
channels:

* **local** channels, i.i.d. normal at every position: the variety of the texture;
* **global** channels, one normal vector per sample repeated over space: the sample's "style";
* **periodic** channels ``sin(k · p + φ)`` whose wave vectors ``k`` a small MLP computes from
  the global code (PSGAN), so repeating structure (bricks, tiles, weaves) has a learned period.

Each scale doubles the size by nearest-neighbour upsampling followed by 3×3 convolutions (no
transposed convolutions, so no checkerboard), batch normalisation and ReLU, as in PSGAN. Every
convolution pads circularly: a noise field that is periodic gives an output that is exactly
periodic (seamless tiles), and a window of the noise field grown by
:meth:`TextureGenerator.halo` noise pixels on each side gives the matching window of the full
output exactly, which is how large images are generated in tiles. Batch normalisation uses
batch statistics while training and fixed running statistics in eval mode, where it is a
per-channel affine map, so any size and any tile give the same pixels. (A per-pixel
normalisation instead let the generator collapse to a flat colour within a few hundred steps.)

The discriminator is a small patch discriminator with spectral normalisation; it is applied to
the image and to its 2× downsampled version (:class:`MultiScaleDiscriminator`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "ARCHITECTURE",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "TextureGenerator",
    "WaveMLP",
]

ARCHITECTURE = "texture_psgan_v1"
"""Name recorded with saved texture models for this architecture."""


class WaveMLP(nn.Module):
    """Global code → wave vectors ``(k_y, k_x)`` of the periodic channels, in radians per noise px.

    The output is bounded by π (the Nyquist limit of the noise grid). The last layer's bias
    starts spread out, so the periodic channels start with varied frequencies.
    """

    def __init__(self, n_global: int, n_periodic: int, hidden: int = 64) -> None:
        super().__init__()
        self.n_periodic = n_periodic
        self.hidden = nn.Linear(max(n_global, 1), hidden)
        self.out = nn.Linear(hidden, 2 * n_periodic)
        with torch.no_grad():
            self.out.weight.mul_(0.1)
            self.out.bias.uniform_(-1.0, 1.0)

    def forward(self, z_global: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.hidden(z_global))
        return math.pi * torch.tanh(self.out(h)).view(-1, self.n_periodic, 2)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="circular")


class TextureGenerator(nn.Module):
    """Fully convolutional texture generator driven by a local + global + periodic noise field.

    Parameters
    ----------
    out_channels : int
        Image channels (3 for RGB, 1 for gray).
    n_local, n_global, n_periodic : int
        Noise channels of each kind.
    widths : sequence of int
        Feature channels at the noise resolution, then after each 2× upsampling; the output is
        ``2 ** (len(widths) - 1)`` times larger than the noise field.
    """

    def __init__(self, out_channels: int = 3, n_local: int = 16, n_global: int = 8,
                 n_periodic: int = 4, widths: Sequence[int] = (128, 96, 64, 32, 16)) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("the generator needs at least two widths (one upsampling)")
        self.out_channels = out_channels
        self.n_local = n_local
        self.n_global = n_global
        self.n_periodic = n_periodic
        self.widths = tuple(int(w) for w in widths)
        self.wave = WaveMLP(n_global, n_periodic) if n_periodic else None
        stages: list[nn.Module] = []
        cin = self.noise_channels
        for index, width in enumerate(self.widths):
            if index:
                stages.append(nn.Upsample(scale_factor=2, mode="nearest"))
            stages += [_conv(cin, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       _conv(width, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            cin = width
        stages += [_conv(cin, out_channels), nn.Tanh()]
        self.body = nn.Sequential(*stages)

    @property
    def noise_channels(self) -> int:
        """Channels of the noise field the generator takes."""
        return self.n_local + self.n_global + self.n_periodic

    @property
    def scale(self) -> int:
        """Output pixels per noise pixel along each axis."""
        return 2 ** (len(self.widths) - 1)

    def halo(self) -> int:
        """Noise pixels of context needed on each side for a tile to match the full image.

        Each 3×3 convolution at the resolution ``2**l`` times the noise grid reaches one pixel of
        that resolution; nearest upsampling can shift the reach by one more pixel per scale.
        """
        reach = 0.0
        for level in range(len(self.widths)):
            reach += 2.0 / 2**level + (1.0 / 2**level if level else 0.0)
        reach += 1.0 / self.scale  # the output convolution
        return int(math.ceil(reach)) + 1

    def set_training_padding(self, enabled: bool) -> None:
        """Zero padding at the two finest scales while training (``True``), circular everywhere
        otherwise.

        Circular padding copies every feature map, which doubles the cost of the large
        fine-scale layers on the CPU. Zero padding there only changes a band of a few pixels
        at the border of each training crop; generation always pads circularly (and never
        uses border pixels: see :meth:`halo`).
        """
        convs = [m for m in self.body if isinstance(m, nn.Conv2d)]
        fine = convs[-5:] if len(self.widths) > 2 else convs[-3:]
        for conv in convs:
            conv.padding_mode = "zeros" if enabled and conv in fine else "circular"

    def wave_vectors(self, z_global: torch.Tensor) -> torch.Tensor:
        """``B×P×2`` wave vectors ``(k_y, k_x)`` in radians per noise pixel."""
        if self.wave is None:
            return z_global.new_zeros(z_global.shape[0], 0, 2)
        return self.wave(z_global)

    def periodic_field(self, z_global: torch.Tensor, phase: torch.Tensor, rows: torch.Tensor,
                       cols: torch.Tensor, period: tuple[int, int] | None = None
                       ) -> torch.Tensor:
        """The periodic channels ``sin(k_y·row + k_x·col + φ)`` on a grid of noise positions.

        Parameters
        ----------
        z_global : Tensor, B×G
            Global codes.
        phase : Tensor, B×P
            Phases φ in radians.
        rows, cols : Tensor
            Absolute noise-grid coordinates (1-D, float).
        period : (int, int), optional
            Snap every wave vector to a whole number of cycles over this many noise rows and
            columns, so the field (and the image) repeats exactly with that period.

        Returns
        -------
        Tensor, B×P×len(rows)×len(cols)
        """
        k = self.wave_vectors(z_global)
        if period is not None:
            steps = torch.tensor([2 * math.pi / period[0], 2 * math.pi / period[1]],
                                 dtype=k.dtype, device=k.device)
            k = torch.round(k / steps) * steps
        ky = k[..., 0, None, None]
        kx = k[..., 1, None, None]
        return torch.sin(ky * rows[:, None] + kx * cols[None, :] + phase[..., None, None])

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise ``B×noise_channels×h×w`` → image ``B×C×(h·scale)×(w·scale)`` in [-1, 1]."""
        return self.body(noise)


class PatchDiscriminator(nn.Module):
    """Spectrally normalised patch discriminator: one realness score per patch.

    Parameters
    ----------
    in_channels : int
        Image channels.
    width : int
        Channels of the first layer; doubled by each of the following stride-2 layers.
    depth : int
        Stride-2 layers (the receptive field is about ``2 ** (depth + 1) + 2`` pixels).
    """

    def __init__(self, in_channels: int = 3, width: int = 32, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for index in range(depth):
            cout = width * 2**index
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MultiScaleDiscriminator(nn.Module):
    """The same patch discriminator at full resolution and at each 2× downsampled scale.

    Sharing the weights across scales keeps the model small; the coarser input lets the same
    patch see twice the area, so large structures and fine grain are both judged.
    """

    def __init__(self, in_channels: int = 3, width: int = 32, depth: int = 3,
                 scales: int = 2) -> None:
        super().__init__()
        self.scales = scales
        self.patch = PatchDiscriminator(in_channels, width, depth)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Scores per scale, finest first."""
        outputs = []
        for index in range(self.scales):
            if index:
                x = F.avg_pool2d(x, 2)
            outputs.append(self.patch(x))
        return outputs
