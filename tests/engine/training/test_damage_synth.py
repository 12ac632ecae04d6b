"""Synthetic damage: deterministic, labels what it draws where visible, nuisances unlabelled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.training.damage_shapes import render_stroke, smooth_path
from engine.training.damage_synth import (
    DAMAGE_KINDS,
    NUISANCE_KINDS,
    DamageSpec,
    synthesize,
)

NO_NUISANCE = DamageSpec(nuisance=(0.0,) * len(NUISANCE_KINDS))
ALL_NUISANCES = DamageSpec(nuisance=(1.0,) * len(NUISANCE_KINDS))


def _only(kind: str, rate: float = 20.0, **extra: object) -> DamageSpec:
    """Only ``kind`` is drawn (tears: always one), no nuisance."""
    rates = tuple(rate if k == kind else 0.0 for k in DAMAGE_KINDS[:-1])
    return DamageSpec(rates=rates, tear_probability=1.0 if kind == "tear" else 0.0,
                      intensity=(1.0, 1.0), nuisance=(0.0,) * len(NUISANCE_KINDS), **extra)


def _photo(seed: int = 0, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float32)
    base = 0.45 + 0.2 * np.sin(x / 9.0) * np.cos(y / 13.0)
    texture = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), 2.0)
    image = np.stack([base + 0.05 * texture, 0.8 * base + 0.1, 0.6 - 0.3 * base], axis=2)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def test_same_seed_same_sample_and_another_seed_differs() -> None:
    clean = _photo()
    a = synthesize(clean, np.random.default_rng(7), ALL_NUISANCES, damaged=True)
    b = synthesize(clean, np.random.default_rng(7), ALL_NUISANCES, damaged=True)
    c = synthesize(clean, np.random.default_rng(8), ALL_NUISANCES, damaged=True)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert np.array_equal(a.truth, b.truth) and a.nuisances == b.nuisances
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.float32 and a.image.min() >= 0.0 and a.image.max() <= 1.0


def test_the_input_is_not_modified() -> None:
    clean = _photo()
    before = clean.copy()
    synthesize(clean, np.random.default_rng(0), ALL_NUISANCES, damaged=True)
    assert np.array_equal(clean, before)


@pytest.mark.parametrize("seed", range(4))
def test_nuisances_alone_change_the_photo_but_leave_the_label_empty(seed: int) -> None:
    clean = _photo(seed)
    sample = synthesize(clean, np.random.default_rng(seed), ALL_NUISANCES, damaged=False)
    assert not sample.label.any()
    assert not sample.kinds
    assert set(sample.nuisances) >= {"grain", "blur", "noise", "jpeg", "fade", "text"}
    assert np.abs(sample.image - clean).mean() > 0.02          # the photo did change
    assert np.array_equal(sample.image, sample.truth)          # and that is the truth


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_each_kind_is_labelled_where_it_was_drawn_and_visible(kind: str) -> None:
    clean = np.full((160, 160, 3), 0.5, np.float32)
    hits = 0
    for seed in range(6):
        sample = synthesize(clean, np.random.default_rng(seed), _only(kind), damaged=True)
        assert set(sample.kinds) <= {kind}
        change = np.abs(sample.image - clean).max(axis=2)
        # Labelled pixels are exactly the visibly changed ones (no nuisance, no noise here).
        assert np.array_equal(sample.label, change > 0.05)
        if kind in sample.kinds:
            assert not (sample.label & ~sample.kinds[kind]).any()  # nothing off the shape
            hits += int(sample.label.any())
    assert hits >= 3


def test_the_label_is_where_the_damage_shows_not_where_it_hides() -> None:
    # A bright scratch on white paper changes nothing visible, a dark one does.
    white = np.full((96, 96, 3), 0.99, np.float32)
    spec = _only("scratch", rate=60.0)
    bright_hidden = 0
    for seed in range(8):
        sample = synthesize(white, np.random.default_rng(seed), spec, damaged=True)
        if "scratch" not in sample.kinds:
            continue
        visible = np.abs(sample.image - white).max(axis=2) > 0.05
        assert np.array_equal(sample.label, visible)
        bright_hidden += int(sample.kinds["scratch"].sum() > sample.label.sum())
    assert bright_hidden >= 1


def test_grey_photos_stay_grey() -> None:
    gray = _photo()[:, :, :1]
    # Sepia toning and fading towards yellowed paper warm a grey print on purpose.
    untoned = DamageSpec(nuisance=tuple(0.0 if k in ("sepia", "fade") else 1.0
                                        for k in NUISANCE_KINDS))
    for seed in range(3):
        sample = synthesize(gray, np.random.default_rng(seed), untoned, damaged=True)
        assert any(footprint.any() for footprint in sample.kinds.values())  # damage was drawn
        spread = sample.image.max(axis=2) - sample.image.min(axis=2)
        assert spread.max() < 0.01


def test_damage_density_follows_the_area() -> None:
    spec = _only("dust", rate=40.0)

    def specks(size: int) -> float:
        counts = []
        for seed in range(6):
            sample = synthesize(np.full((size, size, 3), 0.5, np.float32),
                                np.random.default_rng(seed), spec, damaged=True)
            footprint = sample.kinds.get("dust", np.zeros((size, size), bool))
            counts.append(cv2.connectedComponents(footprint.astype(np.uint8))[0] - 1)
        return float(np.mean(counts))

    assert 10 <= specks(200) <= 22 and 45 <= specks(400) <= 75     # 16 and 64 expected


def test_a_thin_stroke_has_its_width_in_coverage() -> None:
    points = smooth_path(np.random.default_rng(0), (10.0, 50.0), 0.0, 80.0, bend=0.0)
    for width in (0.7, 1.0, 3.0):
        drawn = render_stroke(points, np.full(len(points), width), np.ones(len(points)),
                              (100, 120))
        assert drawn is not None
        alpha, _ = drawn
        assert alpha.sum() / 80.0 == pytest.approx(width, rel=0.2)
        assert alpha.max() <= 1.0


def test_spec_lengths_are_checked() -> None:
    with pytest.raises(ValueError, match="rates"):
        DamageSpec(rates=(1.0,))
    with pytest.raises(ValueError, match="nuisance"):
        DamageSpec(nuisance=(1.0,))


def test_noise_and_grain_raise_what_counts_as_visible() -> None:
    clean = _photo(2)
    quiet = DamageSpec(nuisance=(0.0,) * len(NUISANCE_KINDS))
    noisy = DamageSpec(nuisance=tuple(1.0 if k == "noise" else 0.0 for k in NUISANCE_KINDS))
    shrunk = 0
    for seed in range(4):
        # The damage is drawn before the scanner noise, so the same seed draws the same damage.
        a = synthesize(clean, np.random.default_rng(seed), quiet, damaged=True)
        b = synthesize(clean, np.random.default_rng(seed), noisy, damaged=True)
        assert a.kinds.keys() == b.kinds.keys()
        assert not (b.label & ~cv2.dilate(a.label.astype(np.uint8), np.ones((3, 3))).astype(
            bool)).any()
        shrunk += int(b.label.sum() < a.label.sum())
    assert shrunk >= 3
    grainy = DamageSpec(nuisance=tuple(1.0 if k in ("noise", "grain") else 0.0
                                       for k in NUISANCE_KINDS))
    flat = DamageSpec(nuisance=grainy.nuisance, label_noise=0.0)
    b = synthesize(clean, np.random.default_rng(0), grainy, damaged=True)
    c = synthesize(clean, np.random.default_rng(0), flat, damaged=True)
    assert np.array_equal(b.image, c.image) and c.label.sum() > b.label.sum()


def test_only_the_print_edges_tear() -> None:
    clean = np.full((120, 160, 3), 0.4, np.float32)
    spec = _only("tear")
    inside = synthesize(clean, np.random.default_rng(0), spec, damaged=True,
                        edges=(False, False, False, False))
    assert not inside.label.any() and "tear" not in inside.kinds
    for seed in range(6):
        left = synthesize(clean, np.random.default_rng(seed), spec, damaged=True,
                          edges=(False, False, True, False))
        torn = left.kinds["tear"]
        assert torn[:, 0].any() and not torn[:, -1].any()
        assert left.label.sum() > 30


def test_exposure_flattens_highlights_or_shadows_unlabelled_and_costs_no_draw_when_off() -> None:
    only = DamageSpec(nuisance=tuple(1.0 if k == "exposure" else 0.0 for k in NUISANCE_KINDS))
    flattened = []
    for seed in range(6):
        sample = synthesize(_photo(seed), np.random.default_rng(seed), only, damaged=False)
        assert sample.nuisances == ("exposure",) and not sample.label.any()
        flattened.append(max((sample.truth >= 1.0).mean(), (sample.truth <= 0.0).mean()))
    assert min(flattened) > 0.05                        # a real share turns flat white or black
    # Off (the default, and the bench's), it draws nothing: the same photos as without it.
    off = synthesize(_photo(), np.random.default_rng(3), DamageSpec(), damaged=True)
    assert "exposure" not in off.nuisances
    assert DamageSpec().nuisance[NUISANCE_KINDS.index("exposure")] == 0.0


def test_frame_lays_a_straight_unlabelled_band_or_line_along_one_side() -> None:
    only = DamageSpec(nuisance=tuple(1.0 if k == "frame" else 0.0 for k in NUISANCE_KINDS))
    along_a_side = 0
    for seed in range(10):
        clean = _photo(seed)
        sample = synthesize(clean, np.random.default_rng(seed), only, damaged=False)
        assert sample.nuisances == ("frame",) and not sample.label.any()
        changed = np.abs(sample.truth - clean).max(axis=2) > 0.02
        # The change runs along all of one side (unless its colour is the photo's own there).
        sides = [changed[0], changed[-1], changed[:, 0], changed[:, -1]]
        along_a_side += max(side.mean() for side in sides) > 0.9
        assert changed.mean() < 0.5
    assert along_a_side >= 7
    # Off (the default, and the bench's), it draws nothing.
    assert DamageSpec().nuisance[NUISANCE_KINDS.index("frame")] == 0.0
