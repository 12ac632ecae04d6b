"""Blur kernels, Wiener and Richardson–Lucy deconvolution against a known sharp truth."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from engine.core.progress import Cancelled, CancelToken
from engine.ops.classical.deconvolution import richardson_lucy, wiener
from engine.ops.classical.kernels import blur, make_kernel


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / mse)


def sharp_scene(size: int = 128, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Gradients, a fine sinusoid texture and hard-edged shapes: plenty for a blur to destroy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = 0.1 * np.sin(60 * xx + 35 * yy) * np.cos(45 * yy)
    image = np.stack([0.25 + 0.5 * xx + texture, 0.65 - 0.35 * yy + texture,
                      0.4 + 0.2 * np.sin(12 * xx) + texture], axis=2)
    cv2.rectangle(image, (size // 8, size // 5), (size // 2, size // 2), (0.85, 0.2, 0.3), -1)
    cv2.circle(image, (3 * size // 4, 2 * size // 3), size // 6, (0.1, 0.3, 0.8), -1)
    cv2.line(image, (0, size - 10), (size - 1, size // 3), (0.95, 0.9, 0.2), 2)
    image += rng.normal(0.0, 0.003, image.shape)
    image = np.clip(image, 0.02, 0.98).astype(np.float32)
    return np.ascontiguousarray(image[:, :, :channels])


def degrade(truth: np.ndarray, kernel: np.ndarray, noise: float = 0.0) -> np.ndarray:
    blurred = blur(truth, kernel)
    if noise:
        blurred = blurred + np.random.default_rng(9).normal(0.0, noise, blurred.shape)
    return np.clip(blurred, 0.0, 1.0).astype(np.float32)


GAUSSIAN = make_kernel("gaussian", sigma=2.0)
MOTION = make_kernel("motion", length=9, angle=30)


# --- kernels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "params"), [
    ("gaussian", {"sigma": 0.5}), ("gaussian", {"sigma": 2.0}), ("gaussian", {"sigma": 7.3}),
    ("motion", {"length": 1, "angle": 0}), ("motion", {"length": 9, "angle": 30}),
    ("motion", {"length": 24.5, "angle": -110}), ("disk", {"radius": 0.7}),
    ("disk", {"radius": 4.0}),
])
def test_kernels_are_normalised_odd_and_centred(kind: str, params: dict) -> None:
    kernel = make_kernel(kind, **params)
    assert kernel.dtype == np.float32 and kernel.ndim == 2
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert (kernel >= 0).all()
    size = kernel.shape[0]
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    assert abs((kernel * yy).sum()) < 1e-4 and abs((kernel * xx).sum()) < 1e-4


def test_gaussian_kernel_has_the_requested_sigma() -> None:
    kernel = make_kernel("gaussian", sigma=2.0).astype(np.float64)
    assert kernel.shape == (13, 13)
    xx = np.arange(13) - 6
    assert (kernel.sum(axis=0) * xx**2).sum() == pytest.approx(4.0, rel=0.03)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)


def test_motion_kernel_at_angle_zero_is_a_horizontal_line() -> None:
    kernel = make_kernel("motion", length=9, angle=0)
    assert kernel.shape == (9, 9)
    np.testing.assert_allclose(kernel[4], np.full(9, 1 / 9), atol=1e-7)
    assert np.delete(kernel, 4, axis=0).max() == 0.0
    vertical = make_kernel("motion", length=9, angle=90)
    np.testing.assert_allclose(vertical, kernel.T, atol=1e-7)


@pytest.mark.parametrize("angle", [30.0, 75.0, -45.0, 150.0])
def test_motion_kernel_points_along_its_angle(angle: float) -> None:
    kernel = make_kernel("motion", length=15, angle=angle).astype(np.float64)
    size = kernel.shape[0]
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    up = -yy  # rows grow downwards; angles are counter-clockwise
    cxx, cyy, cxy = (kernel * xx * xx).sum(), (kernel * up * up).sum(), (kernel * xx * up).sum()
    found = math.degrees(0.5 * math.atan2(2 * cxy, cxx - cyy))
    difference = (found - angle + 90) % 180 - 90  # a line at a and a + 180 is the same line
    assert abs(difference) < 1.5
    # Its spread along the line is that of a 15-pixel uniform bar: 15**2 / 12.
    assert 0.5 * (cxx + cyy + math.hypot(cxx - cyy, 2 * cxy)) == pytest.approx(15**2 / 12,
                                                                               rel=0.06)


def test_disk_kernel_is_round_and_has_the_requested_area() -> None:
    kernel = make_kernel("disk", radius=4.0)
    assert kernel.shape == (9, 9)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)
    # Inside, every pixel has the same weight 1 / (pi r^2).
    assert kernel[4, 4] == pytest.approx(1 / (math.pi * 16), rel=0.02)
    assert kernel[0, 0] == 0.0


def test_unknown_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="gaussian, motion, disk"):
        make_kernel("box")


# --- Wiener -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel", "margin"), [(GAUSSIAN, 3.0), (MOTION, 4.0)])
def test_wiener_restores_a_known_blur(kernel: np.ndarray, margin: float) -> None:
    truth = sharp_scene()
    blurred = degrade(truth, kernel, noise=0.002)
    restored = wiener(blurred, kernel, 0.002)
    gain = psnr(restored, truth) - psnr(blurred, truth)
    assert gain >= margin, f"gained only {gain:.2f} dB"


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy"])
@pytest.mark.parametrize("kernel", [GAUSSIAN, MOTION], ids=["gaussian", "motion30"])
def test_deconvolution_does_not_ring_at_the_image_border(method: str, kernel: np.ndarray) -> None:
    truth = sharp_scene(128, 1)
    blurred = degrade(truth, kernel, noise=0.001)
    if method == "wiener":
        restored = wiener(blurred, kernel, 0.002)
    else:
        restored = richardson_lucy(blurred, kernel, 30)
    border = np.ones(truth.shape, bool)
    border[10:-10, 10:-10] = False
    gain = psnr(restored[border], truth[border]) - psnr(blurred[border], truth[border])
    assert gain >= 2.0, f"the 10-pixel border gained only {gain:.2f} dB"


def test_wiener_keeps_flat_areas_and_the_input() -> None:
    flat = np.full((64, 80), 0.4, np.float32)
    before = flat.copy()
    restored = wiener(flat, MOTION, 0.01)
    assert restored.shape == (64, 80) and restored.dtype == np.float32
    np.testing.assert_allclose(restored, 0.4, atol=1e-4)
    assert np.array_equal(flat, before)


# --- Richardson–Lucy --------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel", "margin"), [(GAUSSIAN, 2.0), (MOTION, 3.0)])
def test_richardson_lucy_restores_a_known_blur(kernel: np.ndarray, margin: float) -> None:
    truth = sharp_scene()
    blurred = degrade(truth, kernel)
    restored = richardson_lucy(blurred, kernel, 30)
    gain = psnr(restored, truth) - psnr(blurred, truth)
    assert gain >= margin, f"gained only {gain:.2f} dB"


def test_richardson_lucy_improves_with_iterations_and_reports_progress() -> None:
    truth = sharp_scene(96, 1)[:, :, 0]
    blurred = degrade(truth, GAUSSIAN)
    reports: list[float] = []
    few = richardson_lucy(blurred, GAUSSIAN, 5)
    many = richardson_lucy(blurred, GAUSSIAN, 40, progress=lambda f, m="", p=None:
                           reports.append(f))
    assert many.shape == truth.shape
    assert psnr(many, truth) > psnr(few, truth) + 0.5
    assert len(reports) == 40 and reports[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(reports, reports[1:], strict=False))


def test_richardson_lucy_survives_black_pixels() -> None:
    image = np.zeros((48, 48, 1), np.float32)
    image[20:28, 20:28] = 1.0
    restored = richardson_lucy(blur(image, GAUSSIAN), GAUSSIAN, 20)
    assert np.isfinite(restored).all()
    assert restored[:8, :8].max() < 1e-3


def test_richardson_lucy_stops_when_cancelled() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        richardson_lucy(sharp_scene(32), GAUSSIAN, 10, cancel=cancel)


def test_deconvolution_rejects_a_bad_kernel() -> None:
    with pytest.raises(ValueError, match="odd"):
        wiener(sharp_scene(32), np.full((4, 4), 1 / 16, np.float32))
    with pytest.raises(ValueError, match="sum to 1"):
        richardson_lucy(sharp_scene(32), np.ones((3, 3), np.float32))


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy"])
def test_numpy_and_torch_transforms_agree(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.ops.classical.deconvolution as deconvolution

    blurred = degrade(sharp_scene(64, 1), MOTION, noise=0.001)
    run = getattr(deconvolution, method)
    small = run(blurred, MOTION)
    monkeypatch.setattr(deconvolution, "TORCH_MIN_PIXELS", 0)
    large = run(blurred, MOTION)
    assert large.dtype == small.dtype == np.float32
    np.testing.assert_allclose(large, small, atol=2e-4)
