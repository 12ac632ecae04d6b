"""The sliced patch loss: zero for the same patches, blind to where they sit, and trainable."""

from __future__ import annotations

import pytest
import torch

from engine.ops.texture.patch_loss import sliced_patch_loss


def _texture(seed: int, size: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    stripes = torch.sin(torch.arange(size, dtype=torch.float32) / 2.0).expand(size, size)
    noise = 0.3 * torch.rand(2, 3, size, size, generator=generator)
    return stripes + noise


def test_the_same_patches_in_any_order_score_zero_other_patches_do_not() -> None:
    real = _texture(0)
    g = torch.Generator().manual_seed(1)
    assert float(sliced_patch_loss(real.clone(), real, generator=g)) == 0.0
    swapped = real.flip(0)                                            # crops in another order
    assert float(sliced_patch_loss(swapped, real, generator=g)) == pytest.approx(0.0, abs=1e-9)
    big = _texture(0, 96)
    shifted = torch.roll(big, shifts=(0, 13), dims=(2, 3))           # moved; a seam is new
    darker = big - 0.3
    moved = float(sliced_patch_loss(shifted, big, scales=1,
                                    generator=torch.Generator().manual_seed(2)))
    off = float(sliced_patch_loss(darker, big, scales=1,
                                  generator=torch.Generator().manual_seed(2)))
    assert moved < 0.2 * off


def test_every_scale_counts() -> None:
    real = _texture(0)
    blurred = torch.nn.functional.avg_pool2d(real, 3, stride=1, padding=1)
    g = torch.Generator().manual_seed(5)
    one = float(sliced_patch_loss(blurred, real, scales=1, generator=g))
    assert one > 0.0
    with pytest.raises(ValueError, match="smaller than"):
        sliced_patch_loss(real[..., :3, :3], real[..., :3, :3])


def test_gradient_steps_bring_a_batch_towards_the_real_patches() -> None:
    real = _texture(0)
    fake = torch.full_like(real, 0.2, requires_grad=True)
    optimiser = torch.optim.Adam([fake], lr=0.05)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        first = float(sliced_patch_loss(fake, real, generator=g))
    for _ in range(60):
        loss = sliced_patch_loss(fake, real, generator=g)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        assert float(sliced_patch_loss(fake, real, generator=g)) < 0.2 * first
