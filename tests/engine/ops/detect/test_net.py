"""The damage network: one logit per pixel, any size, tile-consistent, the size it claims."""

from __future__ import annotations

import pytest
import torch

from engine.models.architectures import architecture_names, build_network
from engine.ops.detect.net import ARCHITECTURE, DamageUNet, build_damage_net


def _net(seed: int = 0, **kwargs: object) -> DamageUNet:
    torch.manual_seed(seed)
    return DamageUNet(**kwargs).eval()


def test_default_size_is_compact() -> None:
    count = sum(p.numel() for p in _net().parameters())
    assert 300_000 <= count <= 2_000_000
    assert ARCHITECTURE == "damage_unet_v1"


@pytest.mark.parametrize("size", [(16, 16), (37, 53), (64, 48)])
def test_one_logit_per_pixel_at_any_size(size: tuple[int, int]) -> None:
    net = _net()
    with torch.no_grad():
        out = net(torch.rand(2, 4, *size))
    assert out.shape == (2, 1, *size)
    assert torch.isfinite(out).all()


def test_padding_odd_sizes_answers_like_the_padded_input() -> None:
    net = _net()
    image = torch.rand(1, 4, 40, 56)
    padded = torch.nn.functional.pad(image, (0, 8, 0, 8), mode="replicate")
    with torch.no_grad():
        assert torch.allclose(net(image), net(padded)[..., :40, :56], atol=1e-5)


def test_shifting_the_image_shifts_the_answer() -> None:
    # No normalisation and no global pooling: away from the borders a tile answers like the
    # whole image, which is what tiled inference relies on.
    net = _net(widths=(8, 16, 32, 64), blocks=(1, 1, 1, 1), border=False)
    image = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        whole = net(image)
        shifted = net(image[..., 16:, 16:])
    assert torch.allclose(whole[..., 64:112, 64:112], shifted[..., 48:96, 48:96], atol=1e-4)


def test_a_single_pixel_reaches_its_neighbours_but_not_far_pixels() -> None:
    net = _net(widths=(8, 16), blocks=(1, 1))
    image = torch.full((1, 4, 64, 64), 0.5, requires_grad=True)
    net(image)[0, 0, 32, 32].backward()
    reach = image.grad.abs().sum(dim=1)[0] > 0
    assert reach[32, 32] and reach[28:37, 28:37].all()
    assert not reach[:8].any() and not reach[:, :8].any()


def test_builder_reads_the_manifest_config() -> None:
    net = build_damage_net({"widths": [8, 16, 32], "blocks": [1, 1, 2], "unshuffle": 2})
    assert net.multiple == 8 and net.in_channels == 4
    assert net.head.out_channels == 8 and len(net.bottleneck) == 2
    plain = build_damage_net({"widths": [8, 16], "blocks": [1, 1], "border": False})
    assert plain.in_channels == 3 and plain.head.in_channels == 12


def test_the_border_channel_changes_the_answer_only_where_it_is_set() -> None:
    net = _net(widths=(8, 16), blocks=(1, 1))
    image = torch.rand(1, 4, 64, 64)
    image[:, 3] = 0.0
    marked = image.clone()
    marked[:, 3, :, :4] = 1.0                      # the left edge is the photo's edge
    with torch.no_grad():
        a, b = net(image), net(marked)
    assert not torch.allclose(a[..., :8], b[..., :8])
    assert torch.equal(a[..., 40:], b[..., 40:])


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        DamageUNet(widths=(8, 16), blocks=(1,))
    with pytest.raises(ValueError, match="4 channels"):
        _net()(torch.rand(1, 3, 16, 16))


def test_the_architecture_is_registered_for_the_manifest() -> None:
    assert ARCHITECTURE in architecture_names()
    net = build_network(ARCHITECTURE, {"widths": [8, 16], "blocks": [1, 1]})
    assert isinstance(net, DamageUNet) and net.in_channels == 4
