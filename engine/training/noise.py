"""On-the-fly noise synthesis for training the denoiser.

Each clean crop (float32 ``H×W×3`` in [0, 1]) gets one kind of degradation, drawn at random:

``gaussian``
    i.i.d. Gaussian noise, σ uniform in [0, 75]/255 (AWGN, the classic benchmark noise).
``poisson_gaussian``
    Signal-dependent noise ``x + sqrt(a·x + b)·n`` (shot plus read noise, Foi et al. 2008), with
    the gain ``a`` and floor ``b`` drawn so that σ at mid-grey spans about 0–60/255.
``correlated``
    Gaussian noise correlated across the colour channels: ``n = sqrt(ρ)·shared + sqrt(1-ρ)·own``
    times per-channel σ (demosaicked camera noise looks like this; ρ = 1 is luma-only noise).
``jpeg``
    Optional mild Gaussian noise, then JPEG compression at a random quality in [20, 95] through
    ``cv2.imencode`` (blocking and ringing artefacts).

With probability ``gray_probability`` the crop is first turned into grey (Rec. 601 luma)
replicated to three channels, and the noise is made identical in the three channels: this is how
the single colour model learns the grey images that the op replicates to RGB.

The noise level handed to the network (the σ map, σ/255 per pixel, constant over a sample) is the
*effective* σ: the nominal σ for ``gaussian``, and the measured standard deviation of
``noisy - clean`` over the crop for the other kinds (signal-dependent, correlated and JPEG
noise have no single nominal σ). At run time the op gives the σ that the noise estimator
measures, which is the same quantity.

With probability ``clip_probability`` the noisy crop is clipped to [0, 1] as a saved image is;
otherwise it is left unclipped, as in the standard benchmark protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["NOISE_KINDS", "NoiseSpec", "add_gaussian", "synthesize", "synthesize_batch"]

NOISE_KINDS = ("gaussian", "poisson_gaussian", "correlated", "jpeg")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class NoiseSpec:
    """How training noise is drawn.

    Attributes
    ----------
    max_sigma : float
        Largest Gaussian σ in 8-bit units.
    weights : tuple of float
        Probabilities of the kinds in :data:`NOISE_KINDS` (normalised).
    gray_probability, clip_probability : float
        Chance of a grey (replicated) sample and of clipping the noisy sample to [0, 1].
    """

    max_sigma: float = 75.0
    weights: tuple[float, ...] = (0.55, 0.15, 0.15, 0.15)
    gray_probability: float = 0.1
    clip_probability: float = 0.5


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


def _gaussian(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
              ) -> tuple[np.ndarray, float]:
    sigma = float(rng.uniform(0.0, spec.max_sigma)) / 255.0
    return clean + _noise_field(clean.shape, rng, gray) * np.float32(sigma), sigma


def _poisson_gaussian(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
                      ) -> tuple[np.ndarray, None]:
    # sigma^2(x) = a*x + b; at x = 0.5 the shot part alone reaches up to ~60/255.
    a = float(rng.uniform(0.0, 2.0 * (60.0 / 255.0) ** 2))
    b = float(rng.uniform(0.0, (20.0 / 255.0) ** 2))
    std = np.sqrt(a * np.clip(clean, 0.0, 1.0) + b).astype(np.float32)
    return clean + _noise_field(clean.shape, rng, gray) * std, None


def _correlated(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec, gray: bool
                ) -> tuple[np.ndarray, None]:
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
          ) -> tuple[np.ndarray, None]:
    sigma = float(rng.uniform(0.0, 25.0)) / 255.0 if rng.random() < 0.5 else 0.0
    noisy = clean + _noise_field(clean.shape, rng, gray) * np.float32(sigma)
    quality = int(rng.integers(20, 96))
    pixels = np.rint(np.clip(noisy, 0.0, 1.0) * 255.0).astype(np.uint8)
    if gray:
        ok, data = cv2.imencode(".jpg", pixels[:, :, 0], [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)[:, :, None].repeat(3, axis=2)
    else:
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 array
        raise RuntimeError("JPEG encoding failed")
    return decoded.astype(np.float32) / np.float32(255.0), None


_SYNTHS = {"gaussian": _gaussian, "poisson_gaussian": _poisson_gaussian,
           "correlated": _correlated, "jpeg": _jpeg}


def synthesize(clean: np.ndarray, rng: np.random.Generator, spec: NoiseSpec | None = None,
               kind: str | None = None) -> tuple[np.ndarray, np.ndarray, float, str]:
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
    sigma : float
        The effective σ in [0, 1] units given to the network's noise map.
    kind : str
        The kind drawn.
    """
    spec = spec or NoiseSpec()
    if kind is None:
        weights = np.asarray(spec.weights, dtype=np.float64)
        kind = NOISE_KINDS[int(rng.choice(len(NOISE_KINDS), p=weights / weights.sum()))]
    if kind not in _SYNTHS:
        raise ValueError(f"unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}")
    gray = bool(rng.random() < spec.gray_probability)
    if gray:
        clean = np.repeat((clean @ _LUMA)[:, :, None], 3, axis=2).astype(np.float32)
    noisy, sigma = _SYNTHS[kind](clean, rng, spec, gray)
    if rng.random() < spec.clip_probability:
        noisy = np.clip(noisy, 0.0, 1.0)
    if sigma is None:
        sigma = float(np.std(noisy - clean))
    return clean.astype(np.float32, copy=False), noisy.astype(np.float32), float(sigma), kind


def synthesize_batch(crops: list[np.ndarray], rng: np.random.Generator,
                     spec: NoiseSpec | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Degrade a list of crops; return stacked ``clean``, ``noisy`` (N×H×W×3) and ``sigma`` (N,)."""
    cleans, noisies, sigmas = [], [], []
    for crop in crops:
        clean, noisy, sigma, _ = synthesize(crop, rng, spec)
        cleans.append(clean)
        noisies.append(noisy)
        sigmas.append(sigma)
    return (np.stack(cleans), np.stack(noisies), np.asarray(sigmas, dtype=np.float32))
