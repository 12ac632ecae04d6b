"""Self-ensembles: each copy is turned back before averaging, per-pixel inputs travel along."""

from __future__ import annotations

import pytest
import torch

from engine.core.ensemble import DIHEDRAL, FLIPS, self_ensemble


def _image(height: int = 5, width: int = 7) -> torch.Tensor:
    return torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width)


def test_the_transforms_are_the_eight_symmetries_and_the_four_flips_among_them() -> None:
    image = _image()
    copies = {tuple(torch.rot90(image, t, dims=(2, 3)).flip(3).flatten().tolist()) if m
              else tuple(torch.rot90(image, t, dims=(2, 3)).flatten().tolist())
              for t, m in DIHEDRAL}
    assert len(DIHEDRAL) == len(copies) == 8
    assert set(FLIPS) <= set(DIHEDRAL) and len(set(FLIPS)) == 4
    assert all(turns % 2 == 0 for turns, _ in FLIPS)          # no copy swaps height and width


@pytest.mark.parametrize("transforms", [DIHEDRAL, FLIPS])
def test_a_pointwise_network_is_unchanged_by_its_ensemble(transforms) -> None:
    image = _image()
    out = self_ensemble(lambda x: x * 2 + 1, image, transforms=transforms)
    assert torch.equal(out, image * 2 + 1)


def test_a_position_dependent_network_is_averaged_over_the_copies() -> None:
    # The network adds its input's column index: each mirrored copy's output, turned back,
    # carries the mirrored ramp, so the four flips average it to its mean, (width - 1) / 2.
    def add_columns(x: torch.Tensor) -> torch.Tensor:
        return x + torch.arange(x.shape[-1], dtype=x.dtype)

    image = torch.zeros(1, 1, 4, 6)
    out = self_ensemble(add_columns, image, transforms=FLIPS)
    assert torch.allclose(out, torch.full_like(image, 2.5))
    assert torch.equal(self_ensemble(add_columns, image, transforms=[(0, False)]),
                       add_columns(image))


def test_per_pixel_inputs_turn_with_the_image_and_per_image_values_do_not() -> None:
    seen = []

    def forward(x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        seen.append(level.shape)
        return x * level

    image, level_map, level = _image(4, 6), _image(4, 6) / 10, torch.full((1, 1, 1, 1), 3.0)
    assert torch.allclose(self_ensemble(forward, image, level_map), image * level_map)
    assert torch.equal(self_ensemble(forward, image, level), image * 3.0)
    assert (6, 4) in [tuple(shape[-2:]) for shape in seen[:8]]    # quarter turns swap axes
    assert all(tuple(shape) == (1, 1, 1, 1) for shape in seen[8:])


def test_no_transform_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        self_ensemble(lambda x: x, _image(), transforms=())
