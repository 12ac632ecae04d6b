"""The multi-scale upscaling network: shapes, the bicubic start, unknown factors."""

from __future__ import annotations

import pytest
import torch

from engine.models.architectures import build_network
from engine.ops.upscale import ARCHITECTURE
from engine.ops.upscale.net import UpscaleNet


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_each_factor_enlarges_by_itself(scale: int):
    net = build_network(ARCHITECTURE, {"width": 8, "blocks": 1})
    out = net(torch.rand(2, 3, 13, 17), scale)
    assert out.shape == (2, 3, 13 * scale, 17 * scale)


def test_an_untrained_network_is_bicubic_enlargement():
    net = UpscaleNet(width=8, blocks=2)
    image = torch.rand(1, 3, 16, 16)
    expected = torch.nn.functional.interpolate(image, scale_factor=3, mode="bicubic",
                                               align_corners=False)
    assert torch.allclose(net(image, 3), expected, atol=1e-6)


def test_a_factor_without_a_tail_is_refused():
    net = UpscaleNet(width=8, blocks=1, scales=(2, 4))
    with pytest.raises(ValueError, match="not 3"):
        net(torch.rand(1, 3, 8, 8), 3)
    with pytest.raises(ValueError):
        UpscaleNet(scales=(1,))
