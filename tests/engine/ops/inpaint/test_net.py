"""The inpainting network: shapes, a global receptive field, batch independence, size budget."""

from __future__ import annotations

import pytest
import torch

from engine.ops.inpaint.net import InpaintNet, build_inpaint_net, composite  # noqa: E402

SHIPPED = {"width": 32, "blocks": 3}


@pytest.fixture(scope="module")
def net() -> InpaintNet:
    torch.manual_seed(0)
    return build_inpaint_net(SHIPPED).eval()


@pytest.mark.parametrize(("height", "width"), [(32, 48), (8, 8), (84, 36)])
def test_any_multiple_of_four_gives_the_input_size(net: InpaintNet, height: int,
                                                   width: int) -> None:
    image = torch.rand(2, 3, height, width)
    hole = (torch.rand(2, 1, height, width) > 0.7).float()
    with torch.inference_mode():
        out = net(image, hole)
    assert out.shape == image.shape and torch.isfinite(out).all()


def test_hole_content_is_ignored(net: InpaintNet) -> None:
    image = torch.rand(1, 3, 40, 40)
    hole = torch.zeros(1, 1, 40, 40)
    hole[..., 10:30, 10:30] = 1
    other = image.clone()
    other[..., 10:30, 10:30] = torch.rand(1, 3, 20, 20)       # what was in the hole
    with torch.inference_mode():
        assert torch.equal(net(image, hole), net(other, hole))


def test_fourier_blocks_see_the_whole_crop(net: InpaintNet) -> None:
    # The 3×3 convolutions of this depth reach about 50 px; the spectral branch reaches all.
    image = torch.rand(1, 3, 128, 128)
    hole = torch.zeros(1, 1, 128, 128)
    hole[..., :8, :8] = 1
    moved = image.clone()
    moved[..., 120:, 120:] += 0.5                              # change the far corner only
    with torch.inference_mode():
        delta = (net(image, hole) - net(moved, hole))[..., :8, :8].abs().max()
    assert delta > 0
    local = build_inpaint_net(SHIPPED).eval()
    local.load_state_dict(net.state_dict())
    with torch.no_grad():
        for block in local.body:
            for ffc in (block.ffc1, block.ffc2):
                ffc.global_to_global.expand.weight.zero_()
                ffc.global_to_global.expand.bias.zero_()
                ffc.global_to_local.weight.zero_()          # no path through the spectrum
                ffc.local_to_global.weight.zero_()
    with torch.inference_mode():
        assert torch.equal(local(image, hole)[..., :8, :8], local(moved, hole)[..., :8, :8])


def test_batch_independent_and_within_the_size_budget(net: InpaintNet) -> None:
    image = torch.rand(3, 3, 32, 32)
    hole = (torch.rand(3, 1, 32, 32) > 0.5).float()
    with torch.inference_mode():
        together = net(image, hole)
        alone = net(image[1:2], hole[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)
    parameters = sum(p.numel() for p in net.parameters())
    assert 300_000 <= parameters <= 2_000_000
    assert parameters * 4 <= 50 * 2**20                         # float32 weights ≤ 50 MB


def test_composite_keeps_known_pixels_exactly() -> None:
    image, fill = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 2:5, 3:6] = 1
    out = composite(image, fill, hole)
    assert torch.equal(out[..., hole[0, 0] == 0], image[..., hole[0, 0] == 0])
    assert torch.equal(out[..., hole[0, 0] == 1], fill[..., hole[0, 0] == 1])
