"""The denoising U-Net: shapes, the noise-level map's effect, size budget, no batch norm."""

from __future__ import annotations

import pytest
import torch

from engine.ops.denoise.net import DenoiseUNet, build_denoiser  # noqa: E402

SHIPPED = {"widths": (24, 48, 96, 192), "blocks": (1, 1, 1, 2), "unshuffle": 2}


@pytest.fixture(scope="module")
def net() -> DenoiseUNet:
    torch.manual_seed(0)
    model = build_denoiser(SHIPPED).eval()
    # A random tail is near zero at init; make the residual branch clearly active.
    with torch.no_grad():
        model.tail.weight.mul_(20.0)
    return model


@pytest.mark.parametrize(("height", "width"), [(37, 53), (8, 8), (65, 31), (64, 96)])
def test_any_size_gives_the_input_size(net: DenoiseUNet, height: int, width: int) -> None:
    x = torch.rand(2, 3, height, width)
    with torch.inference_mode():
        out = net(x, torch.full((2, 1, 1, 1), 25 / 255))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


def test_padding_matches_an_explicitly_padded_run(net: DenoiseUNet) -> None:
    x = torch.rand(1, 3, 48, 48)
    sigma = torch.full((1, 1, 1, 1), 0.1)
    with torch.inference_mode():
        inner = net(x[..., :37, :35], sigma)
        padded = torch.nn.functional.pad(x[..., :37, :35], (0, 13, 0, 11), mode="replicate")
        outer = net(padded, sigma)[..., :37, :35]
    assert torch.equal(inner, outer)


def test_noise_map_changes_the_output(net: DenoiseUNet) -> None:
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        low = net(x, torch.full((1, 1, 1, 1), 5 / 255))
        high = net(x, torch.full((1, 1, 1, 1), 50 / 255))
        varying = torch.full((1, 1, 32, 32), 5 / 255)
        varying[..., 16:, :] = 50 / 255
        mixed = net(x, varying)
    assert (low - high).abs().mean() > 1e-3
    # A per-pixel map is honoured: rows far from the step follow their own σ.
    assert (mixed[..., :4, :] - low[..., :4, :]).abs().max() < (
        mixed[..., :4, :] - high[..., :4, :]).abs().max()
    assert (mixed[..., -4:, :] - high[..., -4:, :]).abs().max() < (
        mixed[..., -4:, :] - low[..., -4:, :]).abs().max()


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_residual_output_is_the_input_when_the_tail_is_zero(unshuffle: int) -> None:
    model = DenoiseUNet(widths=(8, 16), blocks=(1, 1), unshuffle=unshuffle).eval()
    with torch.no_grad():
        model.tail.weight.zero_()
        model.tail.bias.zero_()
    x = torch.rand(1, 3, 24, 24)
    with torch.inference_mode():
        assert torch.equal(model(x, torch.zeros(1, 1, 1, 1)), x)


def test_shipped_shape_fits_the_weight_budget_without_batch_norm(net: DenoiseUNet) -> None:
    parameters = sum(p.numel() for p in net.parameters())
    assert parameters * 4 <= 20 * 1024 * 1024
    assert net.multiple == 16
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        DenoiseUNet(widths=(8, 16, 32), blocks=(1, 1))
    with pytest.raises(ValueError, match="unshuffle"):
        DenoiseUNet(unshuffle=0)
