"""On-the-fly noise synthesis for training the denoiser.

Each clean crop (float32 ``H×W×3`` in [0, 1]) gets one kind of degradation, drawn at random:

``gaussian``
    i.i.d. Gaussian noise, σ uniform in [0, 75]/255 (AWGN, the classic benchmark noise). With
    probability ``varying_probability`` its σ varies smoothly over the crop (a random field
    between about 0.3 and 3 times the base level), and the map follows it pixel by pixel.
``poisson_gaussian``
    Signal-dependent noise ``x + sqrt(a·x + b)·n`` (shot plus read noise, Foi et al. 2008), with
    the gain ``a`` and floor ``b`` drawn so that σ at mid-grey spans about 0–60/255.
``correlated``
    Gaussian noise correlated across the colour channels: ``n = sqrt(ρ)·shared + sqrt(1-ρ)·own``
    times per-channel σ (ρ = 1 is luma-only noise).
``jpeg``
    Optional mild Gaussian noise, then JPEG compression at a random quality in [20, 95] through
    ``cv2.imencode`` (blocking and ringing artefacts; OpenCV subsamples chroma 4:2:0).
``filtered``, ``demosaic``, ``grain``
    Real-camera and film noise, spatially correlated and chroma-heavy: independent luma and
    chroma levels filtered by random kernels (the colour blotches of night shots), noise made
    on a Bayer mosaic and demosaicked, film grain at several scales (see
    :mod:`engine.training.real_noise`).

With probability ``gray_probability`` the crop is first turned into grey (Rec. 601 luma)
replicated to three channels, and the noise is made identical in the three channels: this is how
the single colour model learns the grey images that the op replicates to RGB.

The noise level handed to the network is a two-channel map, the *effective* σ of the noise's
luma and of its chroma in the orthonormal opponent space of :mod:`engine.ops.denoise.opponent`
(σ/255 per pixel): the nominal σ for ``gaussian`` (σ in both channels for colour, √3·σ and 0 for
grey), and the measured standard deviations of ``noisy - clean`` over the crop for every other
kind (they have no single nominal σ). At run time the op gives what its noise estimate measures,
the same quantities. A one-channel (v1) network is given
:func:`engine.ops.denoise.opponent.rgb_sigma` of the two.

With probability ``clip_probability`` the noisy crop is clipped to [0, 1] as a saved image is;
otherwise it is left unclipped, as in the standard benchmark protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.ops.denoise.opponent import luma_chroma_std
from engine.training import real_noise

__all__ = ["NOISE_KINDS", "NOISE_MIXES", "NoiseSpec", "add_gaussian", "synthesize",
           "synthesize_batch"]

NOISE_KINDS = ("gaussian", "poisson_gaussian", "correlated", "jpeg", "filtered", "demosaic",
               "grain")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_ROOT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class NoiseSpec:
    """How training noise is drawn.

    Attributes
    ----------
    max_sigma : float
        Largest Gaussian σ in 8-bit units.
    weights : tuple of float
        Probabilities of the kinds in :data:`NOISE_KINDS` (normalised; missing ones are 0).
    gray_probability, clip_probability : float
        Chance of a grey (replicated) sample and of clipping the noisy sample to [0, 1].
    varying_probability : float
        Chance that a ``gaussian`` sample's σ varies over the crop (a per-pixel map).
    """

    max_sigma: float = 75.0
    weights: tuple[float, ...] = (0.55, 0.15, 0.15, 0.15)
    gray_probability: float = 0.1
    clip_probability: float = 0.5
    varying_probability: float = 0.0


NOISE_MIXES: dict[str, NoiseSpec] = {
    # The first model's mix: Gaussian-like noise only.
    "awgn": NoiseSpec(),
    # Gaussian still the largest share (the benchmarks), plus real-camera and film noise.
    "real": NoiseSpec(weights=(0.42, 0.08, 0.06, 0.08, 0.16, 0.10, 0.10),
                      varying_probability=0.25),
    # The benchmark's noise as the main share: a late cycle of the Gaussian network (its
    # users pick ``real`` for camera noise), the other kinds kept so it does not unlearn them.
    "gauss": NoiseSpec(weights=(0.8, 0.07, 0.07, 0.06)),
}
"""Named mixes a training config picks (``TrainConfig.noise``)."""


def add_gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``clean`` plus i.i.d. Gaussian noise of standard deviation ``sigma`` (in [0, 1] units)."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma)
    return clean + noise


def _noise_field(shape: tuple[int, ...], rng: np.random.Generator, gray: bool) -> np.ndarray:
    """Unit normal noise, the same in every channel when ``gray``."""
    if gray:
        plane = rng.standard_normal((*shape[:2], 1), dtype=np.float32)
        return np.repeat(plane, shape[2], axis=2)
    return rng.standard_normal(shape, dtype=np.float32)


Levels = np.ndarray | None
"""A synthesiser's nominal map: ``(2,)`` or ``H×W×2`` in [0, 1] units, or None to measure."""


def _gaussian(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
              ) -> tuple[np.ndarray, Levels]:
    sigma = float(rng.uniform(0.0, spec.max_sigma)) / 255.0
    luma, chroma = (_ROOT3 * sigma, 0.0) if gray else (sigma, sigma)
    noise = _noise_field(clean.shape, rng, gray)
    if spec.varying_probability > 0 and rng.random() < spec.varying_probability:
        field = real_noise.smooth_field(clean.shape[:2], rng)
        field *= min(1.0, spec.max_sigma / 255.0 / max(sigma * float(field.max()), 1e-12))
        levels = np.stack([field * luma, field * chroma], axis=2).astype(np.float32)
        return clean + noise * (field[:, :, None] * np.float32(sigma)), levels
    return clean + noise * np.float32(sigma), np.array([luma, chroma], np.float32)


def _poisson_gaussian(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
                      ) -> tuple[np.ndarray, Levels]:
    # sigma^2(x) = a*x + b; at x = 0.5 the shot part alone reaches up to ~60/255.
    a = float(rng.uniform(0.0, 2.0 * (60.0 / 255.0) ** 2))
    b = float(rng.uniform(0.0, (20.0 / 255.0) ** 2))
    std = np.sqrt(a * np.clip(clean, 0.0, 1.0) + b).astype(np.float32)
    return clean + _noise_field(clean.shape, rng, gray) * std, None


def _correlated(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
                ) -> tuple[np.ndarray, Levels]:
    sigma = float(rng.uniform(0.0, spec.max_sigma)) / 255.0
    if gray:
        return clean + _noise_field(clean.shape, rng, True) * np.float32(sigma), None
    rho = float(rng.uniform(0.0, 1.0))
    per_channel = sigma * rng.uniform(0.6, 1.4, size=3).astype(np.float32)
    shared = rng.standard_normal((*clean.shape[:2], 1), dtype=np.float32)
    own = rng.standard_normal(clean.shape, dtype=np.float32)
    noise = (np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * own) * per_channel
    return clean + noise.astype(np.float32), None


def _jpeg(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
          ) -> tuple[np.ndarray, Levels]:
    sigma = float(rng.uniform(0.0, 25.0)) / 255.0 if rng.random() < 0.5 else 0.0
    noisy = clean + _noise_field(clean.shape, rng, gray) * np.float32(sigma)
    return real_noise.jpeg_roundtrip(noisy, int(rng.integers(20, 96)), gray), None


def _real(kind: str):
    make = getattr(real_noise, kind)

    def synth(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
              ) -> tuple[np.ndarray, Levels]:
        noise = make(clean, rng, spec.max_sigma / 255.0)
        if gray:  # the same noise in every channel, as a grey image's
            noise = np.repeat(noise.mean(axis=2, keepdims=True), 3, axis=2)
        return clean + noise, None

    return synth


_SYNTHS = {"gaussian": _gaussian, "poisson_gaussian": _poisson_gaussian,
           "correlated": _correlated, "jpeg": _jpeg, "filtered": _real("filtered"),
           "demosaic": _real("demosaic"), "grain": _real("grain")}


def synthesize(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec | None = None,
               kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Degrade one clean crop.

    Parameters
    ----------
    clean : ndarray, float32 H×W×3 in [0, 1]
        The clean crop; not modified.
    rng : numpy Generator
        Source of randomness.
    spec : NoiseSpec, optional
        Mixture and ranges; the defaults of :class:`NoiseSpec` otherwise.
    kind : str, optional
        Force one of :data:`NOISE_KINDS`.

    Returns
    -------
    clean : ndarray
        The target (grey-replicated when a grey sample was drawn).
    noisy : ndarray, float32
        The degraded crop.
    levels : ndarray, float32
        The effective (luma σ, chroma σ) in [0, 1] units for the network's map: shape ``(2,)``
        when constant over the crop, ``H×W×2`` when it varies.
    kind : str
        The kind drawn.
    """
    spec = spec or NoiseSpec()
    if kind is None:
        weights = np.zeros(len(NOISE_KINDS))
        weights[:len(spec.weights)] = spec.weights
        kind = NOISE_KINDS[int(rng.choice(len(NOISE_KINDS), p=weights / weights.sum()))]
    if kind not in _SYNTHS:
        raise ValueError(f"unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}")
    gray = bool(rng.random() < spec.gray_probability)
    if gray:
        clean = np.repeat((clean @ _LUMA)[:, :, None], 3, axis=2).astype(np.float32)
    noisy, levels = _SYNTHS[kind](clean, rng, spec, gray)
    if rng.random() < spec.clip_probability:
        noisy = np.clip(noisy, 0.0, 1.0)
    if levels is None:
        levels = np.array(luma_chroma_std(noisy - clean), np.float32)
    return (clean.astype(np.float32, copy=False), noisy.astype(np.float32),
            levels.astype(np.float32), kind)


def synthesize_batch(crops: list[np.ndarray], rng: np.random.Generator,
                     spec: NoiseSpec | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Degrade a list of crops.

    Returns
    -------
    clean, noisy : ndarray, N×H×W×3
    levels : ndarray, N×H×W×2
        The per-pixel (luma σ, chroma σ) maps (constant ones broadcast).
    """
    cleans, noisies, maps = [], [], []
    for crop in crops:
        clean, noisy, levels, _ = synthesize(crop, rng, spec)
        cleans.append(clean)
        noisies.append(noisy)
        maps.append(np.broadcast_to(levels, (*clean.shape[:2], 2)))
    return np.stack(cleans), np.stack(noisies), np.stack(maps).astype(np.float32)
