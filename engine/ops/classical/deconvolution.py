"""Non-blind deconvolution: Wiener filtering and Richardson–Lucy
(the kernels are :mod:`~engine.ops.classical.kernels`).

Both methods work in the Fourier domain. The FFT treats an image as periodic, but a photograph's
blurred border pixels also hold light from outside the frame, which no padding reproduces
exactly: reflecting the border, for example, mirrors a diagonal motion blur into the opposite
diagonal. Deconvolving such a padding as if it were data rings across the whole image wherever
the kernel's spectrum is nearly zero (a 30° motion blur loses 8 dB that way). So the image is
embedded in a larger frame and only its own pixels count as observations: the frame around it is
estimated, not trusted.

* **Wiener** minimises ``‖M(k ⊛ x − y)‖² + balance · ‖∇x‖²`` (``M`` = the image's pixels) by
  conjugate gradients, preconditioned by — and started from — the classic one-step Wiener filter
  of the reflect-padded, edge-tapered image. A kernel that is its own mirror image left–right and
  up–down (Gaussian, disk, horizontal or vertical motion) blurs the reflection much as it blurs
  the image, so the one-step filter is already within 0.1 dB of the refined answer and is used
  as is; other kernels (diagonal motion) get :data:`WIENER_REFINE_STEPS` refinement steps.
* **Richardson–Lucy** uses the boundary-aware update of Bertero & Boccacci (2005):
  ``x ← x · kᵀ(M y / (k ⊛ x)) / kᵀM``.

The image's own pixels are never altered before deconvolution, and the frame is cropped away
afterwards.

The transforms run in NumPy for frames below :data:`TORCH_MIN_PIXELS` on the CPU and in torch
otherwise (a GPU, or a large frame, where torch's multi-threaded FFT pays off; on small frames its
thread hand-offs cost more than the transform, many times more on a busy machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.progress import CancelToken, Progress, null_progress

if TYPE_CHECKING:
    import torch

__all__ = [
    "TORCH_MIN_PIXELS",
    "WIENER_REFINE_STEPS",
    "richardson_lucy",
    "wiener",
]

WIENER_REFINE_STEPS = 8
"""Conjugate-gradient steps that correct the one-step Wiener filter's border error for kernels
that are not mirror-symmetric."""

TORCH_MIN_PIXELS = 1 << 22
"""Frames of at least this many pixels (about 4 MP) use torch's FFT on the CPU."""

_EPSILON = 1e-6  # floor of the re-blurred estimate in Richardson–Lucy (no division by zero)


def _fast_length(n: int) -> int:
    """The smallest ``m >= n`` whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    best = 2 * n
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < n:
                p5 *= 5
            best = min(best, p5)
            p3 *= 3
        p2 *= 2
    return best


def _check(image: np.ndarray, kernel: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError("image must be an H×W or H×W×C float array")
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 2:
        raise ValueError("kernel must be a 2-D array")
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {kernel.shape}")
    if not np.isclose(float(kernel.sum()), 1.0, atol=1e-3) or (kernel < 0).any():
        raise ValueError("kernel must be non-negative and sum to 1 (see make_kernel)")


class _NumpyArrays:
    """Frame arrays as NumPy arrays (single-threaded pocketfft, float32 throughout)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape

    def asarray(self, array: np.ndarray) -> np.ndarray:
        return np.array(array, dtype=array.dtype)

    def rfft2(self, x: np.ndarray) -> np.ndarray:
        return np.fft.rfft2(x)

    def irfft2(self, spectrum: np.ndarray) -> np.ndarray:
        return np.fft.irfft2(spectrum, s=self.shape)

    def where(self, condition: np.ndarray, a: np.ndarray, b: float) -> np.ndarray:
        return np.where(condition, a, np.float32(b))

    def at_least(self, x: np.ndarray, floor: float) -> np.ndarray:
        return np.maximum(x, np.float32(floor))

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return x


class _TorchArrays:
    """Frame arrays as torch tensors on ``device`` (multi-threaded on the CPU, or a GPU)."""

    def __init__(self, shape: tuple[int, int], device: torch.device) -> None:
        import torch

        self.torch = torch
        self.shape = shape
        self.device = device

    def asarray(self, array: np.ndarray) -> torch.Tensor:
        return self.torch.from_numpy(np.array(array)).to(self.device)

    def rfft2(self, x: torch.Tensor) -> torch.Tensor:
        return self.torch.fft.rfft2(x)

    def irfft2(self, spectrum: torch.Tensor) -> torch.Tensor:
        return self.torch.fft.irfft2(spectrum, s=self.shape)

    def where(self, condition: torch.Tensor, a: torch.Tensor, b: float) -> torch.Tensor:
        return self.torch.where(condition, a, self.torch.full_like(a, b))

    def at_least(self, x: torch.Tensor, floor: float) -> torch.Tensor:
        return x.clamp(min=floor)

    def to_numpy(self, x: torch.Tensor) -> np.ndarray:
        return x.cpu().numpy()


def _arrays(shape: tuple[int, int], device: torch.device | str | None) -> Any:
    kind = str(device or "cpu").split(":", 1)[0]
    if kind == "cpu" and shape[0] * shape[1] < TORCH_MIN_PIXELS:
        return _NumpyArrays(shape)
    import torch

    return _TorchArrays(shape, torch.device(device or "cpu"))


class _Frame:
    """Padding geometry, the kernel's transfer function and the observation mask for one size."""

    def __init__(self, height: int, width: int, kernel: np.ndarray,
                 device: torch.device | str | None) -> None:
        kh, kw = kernel.shape
        # At least two kernel widths, so that circular wrap-around never links the image's
        # opposite borders through the kernel.
        self.margin = max(8, 2 * max(kh, kw))
        self.height, self.width = height, width
        self.shape = (_fast_length(height + 2 * self.margin),
                      _fast_length(width + 2 * self.margin))
        self.xp = _arrays(self.shape, device)
        psf = np.zeros(self.shape, np.float32)
        psf[:kh, :kw] = kernel
        psf = np.roll(psf, (-(kh // 2), -(kw // 2)), axis=(0, 1))
        self.otf = self.xp.rfft2(self.xp.asarray(psf))
        # Edge taper weights: 1 over the image, a raised-cosine fall to 0 at the frame's border.
        self.taper = self.xp.asarray(np.outer(self._ramp(0), self._ramp(1)))
        inside = np.zeros(self.shape, np.float32)
        inside[self.rows, self.cols] = 1.0
        self.inside = self.xp.asarray(inside)

    @property
    def rows(self) -> slice:
        return slice(self.margin, self.margin + self.height)

    @property
    def cols(self) -> slice:
        return slice(self.margin, self.margin + self.width)

    def _ramp(self, axis: int) -> np.ndarray:
        n, inner, m = self.shape[axis], (self.height, self.width)[axis], self.margin
        ramp = np.ones(n, np.float32)
        before = np.arange(m, dtype=np.float32)
        ramp[:m] = np.sin(0.5 * np.pi * before / m) ** 2
        after = n - m - inner
        ramp[m + inner:] = np.sin(0.5 * np.pi * np.arange(after, 0, -1, dtype=np.float32)
                                  / (after + 1)) ** 2
        return ramp

    def laplacian(self) -> Any:
        """The discrete Laplacian's spectrum ``4 − 2cos ωy − 2cos ωx`` on the rfft grid."""
        fy = np.fft.fftfreq(self.shape[0])[:, None]
        fx = np.fft.rfftfreq(self.shape[1])[None, :]
        spectrum = 4.0 - 2.0 * np.cos(2 * np.pi * fy) - 2.0 * np.cos(2 * np.pi * fx)
        return self.xp.asarray(spectrum.astype(np.float32))

    def pad(self, channel: np.ndarray) -> Any:
        """Reflect-pad ``channel`` to the frame and taper the padding towards its blurred self.

        A continuous, roughly blur-consistent starting point; only the image's own pixels are
        treated as data.
        """
        m = self.margin
        bottom = self.shape[0] - self.height - m
        right = self.shape[1] - self.width - m
        padded = np.pad(channel.astype(np.float32), ((m, bottom), (m, right)), mode="reflect")
        frame = self.xp.asarray(padded)
        blurred = self.convolve(frame)
        return blurred + self.taper * (frame - blurred)

    def embed(self, channel: np.ndarray) -> Any:
        """``channel`` placed in the frame, zero outside (the masked observation ``M y``)."""
        frame = np.zeros(self.shape, np.float32)
        frame[self.rows, self.cols] = channel
        return self.xp.asarray(frame)

    def convolve(self, x: Any, adjoint: bool = False) -> Any:
        """Circular convolution with the kernel (``adjoint``: with the flipped kernel)."""
        otf = self.otf.conj() if adjoint else self.otf
        return self.xp.irfft2(self.xp.rfft2(x) * otf)

    def crop(self, x: Any) -> np.ndarray:
        inner = self.xp.to_numpy(x[self.rows, self.cols])
        return np.clip(inner, 0.0, 1.0).astype(np.float32)


def _channels(image: np.ndarray) -> list[np.ndarray]:
    if image.ndim == 2:
        return [image]
    return [image[:, :, c] for c in range(image.shape[2])]


def _stack(channels: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    if like.ndim == 2:
        return channels[0]
    return np.stack(channels, axis=2)


# ---------------------------------------------------------------------------------------------
# Deconvolution


def wiener(image: np.ndarray, kernel: np.ndarray, balance: float = 0.002, *,
           progress: Progress | None = None, cancel: CancelToken | None = None,
           device: torch.device | str | None = None) -> np.ndarray:
    """Deblur with a Wiener filter under a smooth-image prior, with exact border handling.

    The result minimises ``‖M(k ⊛ x − y)‖² + balance · ‖∇x‖²`` where ``M`` keeps the image's
    own pixels: the Wiener filter ``conj(K) Y / (|K|² + balance · |D|²)`` (``|D|²`` the discrete
    Laplacian's spectrum ``4 − 2cos ωx − 2cos ωy``, the noise-to-signal ratio of an image whose
    power falls as 1/frequency², as photographs' roughly does) gives the start, and for a kernel
    that is not mirror-symmetric :data:`WIENER_REFINE_STEPS` preconditioned conjugate-gradient
    steps correct the borders (see the module notes). Flat areas keep their exact brightness.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W) or (H, W, C)
        Blurred pixels in [0, 1]; not modified.
    kernel : ndarray, shape (k, k)
        The blur, as from :func:`make_kernel` (odd sides, sums to 1).
    balance : float
        Noise-to-signal balance: larger values suppress noise and ringing, smaller values
        restore more detail.
    progress : callable, optional
        ``progress(fraction, message)`` after every refinement step.
    cancel : CancelToken, optional
        Checked before every refinement step.
    device : torch.device or str, optional
        Where the FFTs run; the CPU by default (see :data:`TORCH_MIN_PIXELS`).

    Returns
    -------
    ndarray of float32
        The restored image, same shape as ``image``, clipped to [0, 1].

    Raises
    ------
    engine.core.progress.Cancelled
        When ``cancel`` is set.
    """
    _check(image, kernel)
    if balance <= 0:
        raise ValueError(f"balance must be positive, got {balance}")
    progress = progress or null_progress
    frame = _Frame(image.shape[0], image.shape[1], kernel, device)
    fft, ifft = frame.xp.rfft2, frame.xp.irfft2
    prior = frame.laplacian() * float(balance)
    otf, inside = frame.otf, frame.inside
    denominator = abs(otf) ** 2 + prior  # >= 1 at zero frequency, where the kernel sums to 1

    def normal(x: Any) -> Any:  # (kᵀ M k + balance DᵀD) x
        spectrum = fft(x)
        return ifft(otf.conj() * fft(inside * ifft(otf * spectrum)) + prior * spectrum)

    mirrored = np.allclose(kernel, kernel[::-1], atol=1e-7) and np.allclose(
        kernel, kernel[:, ::-1], atol=1e-7)
    steps = 0 if mirrored else WIENER_REFINE_STEPS
    channels = _channels(image)
    out = []
    for c, channel in enumerate(channels):
        if cancel is not None:
            cancel.raise_if_cancelled()
        estimate = ifft(fft(frame.pad(channel)) * otf.conj() / denominator)
        progress((c + 0.5) / len(channels), "Wiener deconvolution")
        if steps == 0:
            out.append(frame.crop(estimate))
            continue
        residual = ifft(otf.conj() * fft(frame.embed(channel))) - normal(estimate)
        direction = ifft(fft(residual) / denominator)
        fit = (residual * direction).sum()
        for step in range(steps):
            if cancel is not None:
                cancel.raise_if_cancelled()
            pushed = normal(direction)
            curvature = (direction * pushed).sum()
            if float(curvature) <= 0.0 or float(fit) <= 0.0:
                break  # converged to float precision
            alpha = fit / curvature
            estimate += alpha * direction
            residual -= alpha * pushed
            preconditioned = ifft(fft(residual) / denominator)
            new_fit = (residual * preconditioned).sum()
            direction = preconditioned + (new_fit / fit) * direction
            fit = new_fit
            progress((c + 0.5 + 0.5 * (step + 1) / steps) / len(channels), "Wiener deconvolution")
        out.append(frame.crop(estimate))
    progress(1.0, "Wiener deconvolution")
    return _stack(out, image)


def richardson_lucy(image: np.ndarray, kernel: np.ndarray, iterations: int = 30, *,
                    progress: Progress | None = None, cancel: CancelToken | None = None,
                    device: torch.device | str | None = None) -> np.ndarray:
    """Deblur with the Richardson–Lucy algorithm (maximum likelihood under Poisson noise).

    Each iteration multiplies the estimate by ``kᵀ(M y / (k ⊛ x)) / kᵀM``, the boundary-aware
    form in which only the image's own pixels count as observations (see the module notes); the
    denominator ``k ⊛ x`` is floored at 1e-6 so a black pixel never divides by zero. More
    iterations restore more detail and also amplify noise.

    Parameters
    ----------
    image : ndarray of float32, shape (H, W) or (H, W, C)
        Blurred pixels in [0, 1]; not modified.
    kernel : ndarray, shape (k, k)
        The blur, as from :func:`make_kernel`.
    iterations : int
        Number of multiplicative updates per channel.
    progress : callable, optional
        ``progress(fraction, message)`` after every iteration.
    cancel : CancelToken, optional
        Checked before every iteration.
    device : torch.device or str, optional
        Where the FFTs run; the CPU by default (see :data:`TORCH_MIN_PIXELS`).

    Returns
    -------
    ndarray of float32
        The restored image, same shape as ``image``, clipped to [0, 1].

    Raises
    ------
    engine.core.progress.Cancelled
        When ``cancel`` is set.
    """
    _check(image, kernel)
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    progress = progress or null_progress
    frame = _Frame(image.shape[0], image.shape[1], kernel, device)
    xp = frame.xp
    weight = frame.convolve(frame.inside, adjoint=True)
    seen = weight > 1e-3  # frame pixels that some image pixel observes
    weight = xp.where(seen, weight, 1.0)
    channels = _channels(image)
    total = len(channels) * iterations
    out = []
    for c, channel in enumerate(channels):
        observed = xp.at_least(frame.embed(channel), 0.0)
        estimate = xp.at_least(frame.pad(channel), _EPSILON)
        for i in range(iterations):
            if cancel is not None:
                cancel.raise_if_cancelled()
            ratio = observed / xp.at_least(frame.convolve(estimate), _EPSILON)
            update = frame.convolve(ratio, adjoint=True) / weight
            estimate *= xp.where(seen, update, 1.0)
            progress((c * iterations + i + 1) / total, f"Richardson–Lucy iteration {i + 1}")
        out.append(frame.crop(estimate))
    return _stack(out, image)
