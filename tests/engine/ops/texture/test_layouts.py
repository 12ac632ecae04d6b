"""Choosing a texture's layout: candidate seeds, scales, the layout score, the choice itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from engine.core.progress import Cancelled, CancelToken
from engine.core.swd import seam_error, swd

torch.set_num_threads(1)


def cells(h: int, w: int, seed: int) -> np.ndarray:
    """Sharp-edged cells of a few distinct colours on a dark ground."""
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), (0.1, 0.1, 0.15), np.float32)
    colours = np.array([(0.9, 0.3, 0.2), (0.2, 0.8, 0.3), (0.95, 0.9, 0.3)], np.float32)
    for _ in range(h * w // 60):
        y, x = int(rng.integers(h)), int(rng.integers(w))
        cv2.circle(image, (x, y), int(rng.integers(2, 5)), colours[rng.integers(3)].tolist(), -1)
    return image



def test_synthesis_from_scratch_matches_the_sample_better_than_noise():
    from engine.ops.texture.layouts import synthesise_texture

    sample = cells(96, 96, 8)
    out = synthesise_texture(sample, 72, 88, layouts=4, seed=4)
    assert out.shape == (72, 88, 3) and out.dtype == np.float32
    rng = np.random.default_rng(0)
    shuffled = sample.reshape(-1, 3)[rng.permutation(96 * 96)].reshape(96, 96, 3)[:72, :88]
    assert swd(sample, out) < 0.5 * swd(sample, shuffled)
    assert np.array_equal(out, synthesise_texture(sample, 72, 88, layouts=4, seed=4))


def test_periodic_synthesis_tiles_without_a_seam_and_respects_forbidden():
    from engine.ops.texture.layouts import synthesise_texture

    sample = cells(96, 96, 9)
    sample[:, 70:] = (0.0, 1.0, 0.0)
    forbidden = np.zeros(sample.shape[:2], bool)
    forbidden[:, 70:] = True
    out = synthesise_texture(sample, 64, 64, periodic=True, forbidden=forbidden, layouts=4,
                             seed=1)
    assert abs(seam_error(out).z) < 3.0
    assert (np.abs(out - (0.0, 1.0, 0.0)).max(axis=2) < 0.05).sum() == 0


def test_layout_factor_is_the_largest_scale_that_keeps_two_patches_across():
    from engine.ops.texture.layouts import layout_factor

    assert layout_factor((256, 256), (256, 341)) == 8
    assert layout_factor((96, 96), (128, 128)) == 4          # 96 / 8 = 12 < 14
    assert layout_factor((256, 256), (40, 40)) == 2          # the sample limits it
    assert layout_factor((20, 20), (40, 40)) == 1
    assert layout_factor((1024, 1024), (1024, 1024), scale=4) == 4


def test_candidate_seeds_are_reproducible_and_unrelated_for_neighbouring_seeds():
    from engine.ops.texture.layouts import candidate_seed

    first = {candidate_seed(0, k) for k in range(8)}
    second = {candidate_seed(1, k) for k in range(8)}
    assert len(first) == 8 and not first & second
    assert candidate_seed(5, 3) == candidate_seed(5, 3)


def test_layout_distance_is_zero_for_the_sample_and_grows_with_disorder():
    from engine.ops.texture.layouts import layout_distance

    sample = cells(48, 48, 10)
    flat = np.full_like(sample, sample.mean(axis=(0, 1)))
    rng = np.random.default_rng(0)
    shuffled = sample.reshape(-1, 3)[rng.permutation(48 * 48)].reshape(48, 48, 3)
    assert layout_distance(sample, sample) < 1e-4
    assert layout_distance(np.roll(sample, 9, axis=1), sample) < layout_distance(shuffled, sample)
    assert layout_distance(shuffled, sample) < layout_distance(flat, sample)
    forbidden = np.zeros((48, 48), bool)
    forbidden[:, 24:] = True                       # only the left half counts
    assert layout_distance(sample[:, :24], sample, forbidden) < 1e-4


def test_the_layout_closest_to_the_sample_is_the_one_rebuilt(monkeypatch):
    import engine.ops.texture.layouts as refine

    scores = iter([3.0, 1.0, 2.0])                 # the second candidate is the closest
    layouts: list[np.ndarray] = []
    finals: list[np.ndarray] = []
    real_refine = refine.refine_texture

    def spy(texture, sample, **kwargs):
        out = real_refine(texture, sample, **kwargs)
        (layouts if kwargs["levels"] == 2 else finals).append(out if kwargs["levels"] == 2
                                                               else texture)
        return out

    monkeypatch.setattr(refine, "refine_texture", spy)
    monkeypatch.setattr(refine, "layout_distance", lambda *args: next(scores))
    sample = cells(128, 128, 10)
    starts = [cv2.GaussianBlur(cells(128, 128, k), (0, 0), 2.0) for k in (11, 12, 13)]
    refine.rebuild_best_layout(starts, sample, seed=0)
    assert len(layouts) == 3 and len(finals) == 1
    assert layouts[0].shape == (16, 16, 3)                   # compared at 1/8 scale
    grown = cv2.resize(finals[0], (16, 16), interpolation=cv2.INTER_AREA)
    errors = [np.abs(grown - layout).mean() for layout in layouts]
    assert int(np.argmin(errors)) == 1 and errors[1] < 0.03


def test_choosing_among_layouts_keeps_tiling_and_forbidden_pixels():
    from engine.ops.texture.layouts import candidate_seed, rebuild_best_layout, smooth_noise

    sample = cells(128, 128, 11)
    sample[:, 100:] = (0.0, 1.0, 0.0)
    forbidden = np.zeros(sample.shape[:2], bool)
    forbidden[:, 100:] = True
    starts = [smooth_noise(sample, 128, 128, seed=candidate_seed(2, k), forbidden=forbidden)
              for k in range(3)]
    assert all(abs(seam_error(start).z) < 3.0 for start in starts)   # periodic noise
    out = rebuild_best_layout(starts, sample, periodic=True, forbidden=forbidden, seed=2)
    assert abs(seam_error(out).z) < 3.0
    assert (np.abs(out - (0.0, 1.0, 0.0)).max(axis=2) < 0.05).sum() == 0


def test_layout_choice_refuses_bad_arguments():
    from engine.ops.texture.layouts import rebuild_best_layout, synthesise_texture

    sample = cells(64, 64, 0)
    with pytest.raises(ValueError, match="at least one start"):
        rebuild_best_layout([], sample)
    with pytest.raises(ValueError, match="same size"):
        rebuild_best_layout([sample, sample[:32]], sample)
    with pytest.raises(ValueError, match="same channels"):
        rebuild_best_layout([sample[:, :, :1]], sample)
    with pytest.raises(ValueError, match="layouts"):
        synthesise_texture(sample, 32, 32, layouts=0)


def test_layout_choice_reports_progress_and_cancels():
    from engine.ops.texture.layouts import synthesise_texture

    seen: list[float] = []
    synthesise_texture(cells(64, 64, 1), 64, 64, layouts=3, seed=0,
                       progress=lambda f, *_: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        synthesise_texture(cells(64, 64, 1), 64, 64, seed=0, cancel=token)
