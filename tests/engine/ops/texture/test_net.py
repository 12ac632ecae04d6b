"""The texture GAN networks: sizes, circular equivariance, exact tiles, periodic channels."""

from __future__ import annotations

import math

import pytest
import torch

from engine.ops.texture.net import (
    MultiScaleDiscriminator,
    TextureGenerator,
    WaveMLP,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def generator() -> TextureGenerator:
    torch.manual_seed(0)
    return TextureGenerator(3, n_local=4, n_global=2, n_periodic=2, widths=(16, 12, 8)).eval()


def _field(net: TextureGenerator, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, net.noise_channels, h, w, generator=g)


@pytest.mark.parametrize(("h", "w"), [(5, 7), (3, 3), (9, 4)])
def test_output_is_scale_times_odd_noise_sizes(generator, h, w):
    with torch.no_grad():
        out = generator(_field(generator, h, w))
    assert generator.scale == 4
    assert out.shape == (1, 3, 4 * h, 4 * w)
    assert out.abs().max() <= 1.0
    assert out.std() > 1e-3  # not a constant image


def test_circular_shift_of_noise_shifts_the_image_exactly(generator):
    field = _field(generator, 8, 6, seed=1)
    with torch.no_grad():
        out = generator(field)
        shifted = generator(torch.roll(field, shifts=(3, -2), dims=(2, 3)))
    expected = torch.roll(out, shifts=(3 * 4, -2 * 4), dims=(2, 3))
    assert torch.allclose(shifted, expected, atol=1e-5)


def test_window_grown_by_halo_reproduces_the_full_image_exactly(generator):
    field = _field(generator, 26, 30, seed=2)
    halo = generator.halo()
    s = generator.scale
    with torch.no_grad():
        full = generator(field)
        rows, cols = slice(9, 16), slice(8, 19)
        window = field[:, :, rows.start - halo:rows.stop + halo,
                       cols.start - halo:cols.stop + halo]
        tile = generator(window)[..., halo * s:-halo * s, halo * s:-halo * s]
    assert torch.allclose(tile, full[..., rows.start * s:rows.stop * s,
                                     cols.start * s:cols.stop * s], atol=1e-5)
    # Without the halo the tile's border differs: the halo is needed.
    with torch.no_grad():
        bare = generator(field[:, :, rows, cols])
    assert not torch.allclose(bare, full[..., rows.start * s:rows.stop * s,
                                         cols.start * s:cols.stop * s], atol=1e-3)


def test_snapped_periodic_field_repeats_with_the_period(generator):
    z = torch.randn(1, 2)
    phase = torch.rand(1, 2) * 2 * math.pi
    rows = torch.arange(0, 14, dtype=torch.float32)
    cols = torch.arange(0, 10, dtype=torch.float32)
    field = generator.periodic_field(z, phase, rows, cols, period=(7, 5))
    assert torch.allclose(field[..., :7, :], field[..., 7:, :], atol=1e-4)
    assert torch.allclose(field[..., :, :5], field[..., :, 5:], atol=1e-4)


def test_wave_vectors_stay_below_nyquist_and_depend_on_the_code():
    torch.manual_seed(3)
    mlp = WaveMLP(n_global=4, n_periodic=3)
    k = mlp(torch.randn(5, 4) * 10)
    assert k.shape == (5, 3, 2)
    assert k.abs().max() <= math.pi
    assert (k[0] - k[1]).abs().max() > 1e-3


def test_multiscale_discriminator_sees_full_and_half_resolution():
    torch.manual_seed(0)
    net = MultiScaleDiscriminator(3, width=8, depth=3, scales=2)
    scores = net(torch.randn(2, 3, 64, 64))
    assert [tuple(s.shape) for s in scores] == [(2, 1, 8, 8), (2, 1, 4, 4)]
    # Spectral norm keeps every layer's largest singular value near 1 after a few updates.
    for _ in range(10):
        net(torch.randn(2, 3, 64, 64))
    first = net.patch.body[0].weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(first, ord=2) == pytest.approx(1.0, abs=0.1)
