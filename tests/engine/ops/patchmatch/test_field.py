"""The shared PatchMatch core: search finds exact copies, votes copy them, only writable
pixels change, histograms are matched, coarse fields seed fine ones."""

import numpy as np
import pytest
import torch

from engine.ops.patchmatch import PatchField, match_histogram


def _texture(size: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.random((3, size, size), dtype=np.float32))


def _all(shape: tuple[int, int], patch: int) -> np.ndarray:
    return np.ones((shape[0] - patch + 1, shape[1] - patch + 1), bool)


def test_search_finds_the_exact_copy_and_the_vote_reproduces_it():
    source = _texture(40)
    target = source[:, 5:29, 7:31].clone()           # an exact window of the source
    field = PatchField(source, _all((40, 40), 5), torch.rand_like(target), 5)
    generator = torch.Generator().manual_seed(0)
    field.random_init(generator)
    field.image = target                             # search against the real window
    field.rescore()
    for _ in range(6):
        field.search((8, 4, 2, 1), 40.0, generator)
    assert float(field.dist.max()) < 1e-10          # every patch found its copy
    rows, cols = field.nnf // field.uw, field.nnf % field.uw
    assert torch.equal(rows - field.ty, torch.full_like(rows, 5))
    assert torch.equal(cols - field.tx, torch.full_like(cols, 7))
    field.image = torch.zeros_like(target)
    field.vote()
    assert torch.allclose(field.image, target, atol=1e-6)


def test_sparse_targets_write_only_the_writable_pixels_and_skip_unusable_sources():
    image = _texture(32, 1)
    hole = np.zeros((32, 32), bool)
    hole[12:20, 12:20] = True
    usable = _all((32, 32), 5)
    usable[:, :10] = False                            # no patch from the left third
    from engine.ops.inpaint.exemplar import _corners_overlapping

    field = PatchField(image.clone(), usable, image.clone(), 5,
                       targets=_corners_overlapping(hole, 5),
                       weights=torch.ones(32, 32), writable=torch.from_numpy(hole))
    generator = torch.Generator().manual_seed(3)
    field.random_init(generator)
    for _ in range(3):
        field.search((2, 1), 16.0, generator)
    assert bool(usable.reshape(-1)[field.nnf.numpy()].all())
    before = field.image.clone()
    field.vote()
    changed = (field.image != before).any(dim=0).numpy()
    assert changed.any() and not (changed & ~hole).any()


def test_periodic_fields_wrap_and_refuse_target_masks():
    source = _texture(24, 2)
    field = PatchField(source, _all((24, 24), 3), _texture(16, 4), 3, periodic=True)
    assert field.count == 16 * 16                      # every pixel is a corner
    with pytest.raises(ValueError, match="periodic"):
        PatchField(source, _all((24, 24), 3), _texture(16, 4), 3, periodic=True,
                   targets=np.ones((16, 16), bool))
    with pytest.raises(ValueError, match="no source patch"):
        PatchField(source, np.zeros((22, 22), bool), _texture(16, 4), 3)


def test_upsampling_doubles_the_coarse_matches():
    source = _texture(40, 5)
    coarse = PatchField(torch.nn.functional.avg_pool2d(source[None], 2)[0],
                        _all((20, 20), 3), torch.rand(3, 10, 10), 3)
    coarse.nnf = torch.full((coarse.count,), 2 * coarse.uw + 3)   # every match at (2, 3)
    fine = PatchField(source, _all((40, 40), 3), torch.rand(3, 20, 20), 3)
    fine.upsample_from(coarse, torch.Generator().manual_seed(0))
    rows, cols = fine.nnf // fine.uw, fine.nnf % fine.uw
    assert torch.equal(rows, 4 + fine.ty % 2) and torch.equal(cols, 6 + fine.tx % 2)
    assert torch.isfinite(fine.dist).all()


def test_histogram_matching_takes_the_reference_values_rank_for_rank():
    image = torch.linspace(0, 1, 16).reshape(1, 4, 4)
    reference = torch.sort(torch.linspace(0.2, 0.4, 16)[None], dim=1).values
    matched = match_histogram(image, reference)
    assert torch.allclose(matched.reshape(-1), reference.reshape(-1))
    where = torch.zeros(1, 4, 4, dtype=torch.bool)
    where[0, :2] = True
    partial = match_histogram(image, reference, where[0])
    assert torch.equal(partial[0, 2:], image[0, 2:])
    assert float(partial[0, :2].min()) >= 0.2 - 1e-6 and float(partial[0, :2].max()) <= 0.4 + 1e-6
