"""The denoising U-Net: shapes, the noise-level map's effect, size budget, no batch norm, the
two-channel (luma, chroma) map of v2 and the v1 → v2 widening."""

from __future__ import annotations

import pytest
import torch

from engine.ops.denoise.net import (  # noqa: E402
    DenoiseUNet,
    build_denoiser,
    build_denoiser_v2,
    widen_noise_map,
)

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


# ------------------------------------------------------------------------------- v2: two maps


def test_v2_takes_a_luma_and_a_chroma_map(net: DenoiseUNet) -> None:
    torch.manual_seed(1)
    v2 = build_denoiser_v2(SHIPPED).eval()
    assert v2.map_channels == 2 and v2.head.in_channels == 14
    with torch.no_grad():
        v2.tail.weight.mul_(20.0)
    x = torch.rand(2, 3, 40, 56)
    with torch.inference_mode():
        out = v2(x, torch.full((2, 2, 1, 1), 25 / 255))
        per_pixel = v2(x, torch.full((2, 2, 40, 56), 25 / 255))
        chroma_only = v2(x, torch.tensor([5 / 255, 50 / 255]).view(1, 2, 1, 1).expand(2, -1, -1,
                                                                                       -1))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.allclose(out, per_pixel, atol=1e-5)
    assert (chroma_only - out).abs().mean() > 1e-4  # the second channel is read
    with pytest.raises(ValueError, match="map_channels"):
        DenoiseUNet(map_channels=3)


def test_widened_v1_weights_give_the_v1_output_when_chroma_equals_luma(net: DenoiseUNet
                                                                      ) -> None:
    v2 = build_denoiser_v2(SHIPPED).eval()
    v2.load_state_dict(widen_noise_map(net.state_dict()))
    x = torch.rand(1, 3, 48, 64)
    varying = torch.linspace(5, 60, 64).view(1, 1, 1, 64).expand(1, 1, 48, 64) / 255
    with torch.inference_mode():
        for level in (torch.full((1, 1, 1, 1), 0.1), varying):
            reference = net(x, level)
            widened = v2(x, level.expand(-1, 2, -1, -1))
            assert (reference - widened).abs().max() < 1e-5
        # Unequal channels act as v1 given their mean (the halves of the old weights).
        mean = net(x, torch.full((1, 1, 1, 1), 0.1))
        split = v2(x, torch.tensor([0.05, 0.15]).view(1, 2, 1, 1))
        assert (mean - split).abs().max() < 1e-5
    # Widening is idempotent on v2 weights and refuses other shapes.
    state = widen_noise_map(net.state_dict())
    assert widen_noise_map(state)["head.weight"] is state["head.weight"]
    bad = dict(state, **{"head.weight": torch.zeros(24, 16, 3, 3)})
    with pytest.raises(ValueError, match="noise map"):
        widen_noise_map(bad)
