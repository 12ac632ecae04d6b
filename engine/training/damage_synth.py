"""Synthetic damage for training and benchmarking the damage detector.

A clean photo goes through the life of an old print, and every step that harms it is drawn
at random (:func:`synthesize`):

1. **Scene** (not damage): sometimes printed text in the photo's own colours — letters are
   thin dark or bright strokes that must *not* be marked.
2. **Ageing** (nuisance, not damage): gamma, fading towards paper white, a colour cast,
   sepia toning or conversion to grey, and film grain at one or two scales (luminance-weighted,
   mono or colour).
3. **Damage** (labelled): curved hairlines (0.7–2 px) and scratches (2–4.5 px), bright or dark,
   with soft edges, an opacity and a width that vary along their length, sometimes broken;
   cracks (jagged random walks that fork, 0.8–2.5 px); dust and specks (irregular blobs of
   1–6.5 px, some with a soft halo); lint (short curly fibres); flakes of missing emulsion
   (irregular patches 6–36 px across); torn or missing corners and edges of the print
   (paper-coloured or a dark backing, with a ragged boundary). Counts are Poisson per
   100 000 px times a per-photo intensity, so a crop and a full photo see the same density.
4. **Scanning** (nuisance): blur, unsharp masking (halos), sensor noise, JPEG. Blur and
   sharpening are applied alike to the damaged print and to the undamaged one, with the same
   noise, so their difference is the damage alone.

The label is where the damage changes the scanned pixel visibly: the largest channel
difference between the scanned damaged print and the scanned undamaged one (after blur and
sharpening, before noise and JPEG) exceeds ``label_contrast`` (0.05) raised by the noise σ
and half the grain amplitude of this photo (up to 0.12 in all). Damage too faint to see against
its photo's grain and noise is not labelled, and nuisances alone leave the label empty.
``truth`` is the scanned undamaged print (same nuisances, same noise), the image a perfect
repair would give.

The damage is drawn by :mod:`engine.training.damage_kinds` (shapes from
:mod:`engine.training.damage_shapes`), the nuisances by :mod:`engine.training.damage_nuisance`.
Everything takes a ``numpy.random.Generator`` and is deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.training.damage_kinds import DAMAGE_KINDS, Print, draw_damage
from engine.training.damage_nuisance import NUISANCE_KINDS, age, draw_scan

__all__ = [
    "ALL_EDGES",
    "DAMAGE_KINDS",
    "NUISANCE_KINDS",
    "DamageSample",
    "DamageSpec",
    "WHOLE_PHOTO_SPEC",
    "synthesize",
]

ALL_EDGES = (True, True, True, True)
"""Top, bottom, left and right are all the print's edges: a whole photo."""


@dataclass(frozen=True)
class DamageSpec:
    """How damage and nuisances are drawn.

    Attributes
    ----------
    clean_probability : float
        Chance that a photo gets no damage at all (nuisances only): the negatives that teach
        the detector to leave eyes, lips, hair and text alone.
    rates : tuple of float
        Expected count per 100 000 px of each kind in :data:`DAMAGE_KINDS` but ``tear``.
    tear_probability : float
        Chance of one torn corner or edge.
    intensity : tuple of float
        Range of the per-photo multiplier of ``rates`` (drawn log-uniformly).
    label_contrast : float
        Smallest visible change (0–1 scale, largest channel) that is labelled damage on a
        clean scan.
    label_noise : float
        How much the noise and the grain raise that: the threshold is ``label_contrast +
        label_noise × (noise σ + grain amplitude / 2)``, so damage drowned in grain is not
        asked for.
    nuisance : tuple of float
        Probability of each kind in :data:`NUISANCE_KINDS`.
    """

    clean_probability: float = 0.3
    rates: tuple[float, ...] = (6.0, 2.0, 1.0, 40.0, 2.0, 1.5)
    tear_probability: float = 0.12
    intensity: tuple[float, float] = (0.3, 3.0)
    label_contrast: float = 0.05
    label_noise: float = 1.0
    nuisance: tuple[float, ...] = (0.1, 0.3, 0.35, 0.3, 0.15, 0.15, 0.5, 0.35, 0.25, 0.5, 0.4,
                                   0.0, 0.0)

    def __post_init__(self) -> None:
        if len(self.rates) != len(DAMAGE_KINDS) - 1:
            raise ValueError(f"rates needs {len(DAMAGE_KINDS) - 1} values")
        if len(self.nuisance) != len(NUISANCE_KINDS):
            raise ValueError(f"nuisance needs {len(NUISANCE_KINDS)} values")


WHOLE_PHOTO_SPEC = DamageSpec(clean_probability=0.0, intensity=(0.5, 1.5))
"""The training distribution of damage and nuisances, always damaged, at ordinary intensity:
how ``pixelmend bench restore`` damages its photos, and the training recipe its whole held-out
photos."""


@dataclass
class DamageSample:
    """A damaged photo, the photo a perfect repair gives, and where the damage is.

    Attributes
    ----------
    image : ndarray of float32, shape (H, W, 3)
        The damaged scan.
    truth : ndarray of float32, shape (H, W, 3)
        The same scan without the damage (same nuisances and noise).
    label : ndarray of bool, shape (H, W)
        Where the damage is visible.
    kinds : dict of str to ndarray of bool
        Each drawn damage kind's footprint (opacity above 0.05), visible or not.
    nuisances : tuple of str
        The nuisances applied.
    """

    image: np.ndarray
    truth: np.ndarray
    label: np.ndarray
    kinds: dict[str, np.ndarray] = field(default_factory=dict)
    nuisances: tuple[str, ...] = ()


def synthesize(clean: np.ndarray, rng: np.random.Generator, spec: DamageSpec | None = None, *,
               damaged: bool | None = None,
               edges: tuple[bool, bool, bool, bool] = ALL_EDGES) -> DamageSample:
    """Age, damage and scan a clean photo.

    Parameters
    ----------
    clean : ndarray of float32, shape (H, W, C)
        The clean photo in [0, 1], C = 1 or 3 (grey is replicated; it stays neutral).
    rng : numpy.random.Generator
        Source of every random choice.
    spec : DamageSpec, optional
        What to draw (the defaults are the training distribution).
    damaged : bool, optional
        Force damage on or off; None draws it (``spec.clean_probability`` of no damage).
    edges : tuple of bool
        Which sides (top, bottom, left, right) of ``clean`` are the edges of the print, where
        it can be torn; a crop from inside a photo has none.

    Returns
    -------
    DamageSample
    """
    spec = spec or DamageSpec()
    if clean.ndim != 3 or clean.shape[2] not in (1, 3):
        raise ValueError(f"expected an H×W×1 or H×W×3 image, got shape {clean.shape}")
    image = np.array(np.broadcast_to(clean, (*clean.shape[:2], 3)), dtype=np.float32)
    gray_source = clean.shape[2] == 1 or bool(
        np.array_equal(image[:, :, 0], image[:, :, 1])
        and np.array_equal(image[:, :, 1], image[:, :, 2]))
    applied: list[str] = []
    chance = dict(zip(NUISANCE_KINDS, spec.nuisance, strict=True))
    base, tone, grain = age(rng, image, chance, applied, gray_source)
    if damaged is None:
        damaged = rng.random() >= spec.clean_probability
    neutral = gray_source or "gray" in applied
    paper = Print(base.copy(), tone, tinted=not neutral and "sepia" not in applied)
    if damaged:
        draw_damage(rng, paper, spec.rates, spec.tear_probability, spec.intensity, edges)
    scan = draw_scan(rng, base.shape, chance, applied, neutral or "sepia" in applied)
    seen_base, seen_damaged = scan.optics(base), scan.optics(paper.pixels)
    visible = spec.label_contrast + spec.label_noise * (scan.noise_sigma + 0.5 * grain)
    label = np.abs(seen_damaged - seen_base).max(axis=2) > visible
    return DamageSample(image=scan.sensor(seen_damaged), truth=scan.sensor(seen_base),
                        label=label, kinds=paper.kinds, nuisances=tuple(applied))
