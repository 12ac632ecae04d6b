"""Classical filters through the registry: quality bounds, mask confinement, channel layouts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.core.params import ParamError
from engine.core.pixels import from_float, to_float
from engine.core.progress import Cancelled, CancelToken
from engine.ops import get_op, run_op
from engine.ops.classical.impulse import detect_impulses, repair_impulses

FILTER_OPS = ["gaussian", "median", "adaptive_median", "bilateral", "nl_means", "unsharp_mask"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / mse)


def scene(size: int = 256, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A natural-looking test image: gradients, a sinusoid texture, shapes, mild noise.

    It includes a near-black shadow and a clipped white highlight, where salt-and-pepper
    detection is most tempted to fire on real pixels.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = 0.08 * np.sin(40 * xx + 25 * yy) * np.cos(30 * yy)
    image = np.stack([0.2 + 0.6 * xx + texture, 0.7 - 0.4 * yy + texture,
                      0.45 + 0.25 * np.sin(9 * xx) + 0.5 * texture], axis=2)
    s = size / 256
    cv2.rectangle(image, (int(30 * s), int(40 * s)), (int(100 * s), int(110 * s)),
                  (0.85, 0.25, 0.3), -1)
    cv2.circle(image, (int(170 * s), int(160 * s)), int(45 * s), (0.02, 0.02, 0.03), -1)
    cv2.rectangle(image, (int(150 * s), int(20 * s)), (int(230 * s), int(70 * s)),
                  (1.0, 1.0, 1.0), -1)
    image += rng.normal(0.0, 0.01, image.shape)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(image[:, :, :channels])


def salt_and_pepper(image: np.ndarray, amount: float, seed: int = 1,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``amount`` of the values (half black, half white); return it and where."""
    draw = np.random.default_rng(seed).random(image.shape)
    noisy = image.copy()
    noisy[draw < amount / 2] = 0.0
    noisy[draw > 1.0 - amount / 2] = 1.0
    return noisy, (draw < amount / 2) | (draw > 1.0 - amount / 2)


def blob_mask(size: int = 96) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    cv2.circle(mask.view(np.uint8), (size // 2, size // 2), size // 4, 1, -1)
    return mask


# --- contracts shared by every filter --------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", FILTER_OPS)
def test_filter_changes_only_the_mask_and_never_the_input(name: str, channels: int) -> None:
    clean = scene(96, channels)
    rng = np.random.default_rng(2)
    noisy = np.clip(clean + rng.normal(0, 0.04, clean.shape), 0, 1).astype(np.float32)
    image, _ = salt_and_pepper(noisy, 0.05)
    before = image.copy()
    mask = blob_mask(96)

    whole = run_op(name, image).image
    masked = run_op(name, image, mask).image

    assert np.array_equal(image, before), "the op modified its input"
    assert masked.shape == image.shape and masked.dtype == np.float32
    assert np.array_equal(masked[~mask], image[~mask]), "pixels outside the mask changed"
    inside = np.abs(masked[mask] - image[mask]).mean()
    assert inside > 1e-3, f"{name} did not change the masked area"
    # Working on the mask's bounding box must not change the result in the mask's core.
    core = cv2.erode(mask.view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    np.testing.assert_allclose(masked[core], whole[core], atol=1e-5)


def test_every_filter_declares_usable_params() -> None:
    for name in FILTER_OPS:
        op = get_op(name)
        assert op.category == "Filters"
        assert op.params, f"{name} declares no params"
        for spec in op.params:
            assert spec.help, f"{name}.{spec.name} has no help text"
            spec.validate(spec.default)


# --- gaussian ---------------------------------------------------------------------------------


def test_gaussian_spreads_a_point_with_the_requested_sigma() -> None:
    image = np.zeros((65, 65, 1), np.float32)
    image[32, 32] = 1.0
    out = run_op("gaussian", image, None, {"sigma": 3.0}).image[:, :, 0].astype(np.float64)
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    yy, xx = np.mgrid[0:65, 0:65] - 32
    variance = (out * xx**2).sum() / out.sum()
    assert variance == pytest.approx(9.0, rel=0.05)
    assert np.unravel_index(out.argmax(), out.shape) == (32, 32)


def test_gaussian_reduces_noise_on_a_flat_image() -> None:
    noise = np.random.default_rng(0).normal(0, 0.05, (128, 128, 3))
    image = np.clip(0.5 + noise, 0, 1).astype(np.float32)
    out = run_op("gaussian", image, None, {"sigma": 2.0}).image
    # White noise through a Gaussian of sigma s keeps 1 / (2 s sqrt(pi)) of its deviation.
    assert out.std() < 0.05 / (2 * 2.0 * np.sqrt(np.pi)) * 1.3
    assert out.mean() == pytest.approx(image.mean(), abs=1e-3)


# --- median -----------------------------------------------------------------------------------


def test_median_removes_isolated_specks_and_keeps_an_edge() -> None:
    image = np.full((64, 64, 3), 0.3, np.float32)
    image[:, 32:] = 0.7
    specks = image.copy()
    specks[10, 10], specks[40, 50], specks[20, 31] = 1.0, 0.0, 0.95
    out = run_op("median", specks, None, {"size": 3}).image
    assert np.array_equal(out, image)


def test_median_small_windows_are_exact_in_float() -> None:
    image = scene(64, 1)[:, :, 0]
    out = run_op("median", image[:, :, None], None, {"size": 5})
    padded = np.pad(image, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5)).reshape(64, 64, 25)
    assert out.info["precision"] == "float"
    np.testing.assert_array_equal(out.image[:, :, 0], np.median(windows, axis=2))


def test_median_large_window_is_exact_for_8bit_sources() -> None:
    source = from_float(scene(96, 3), np.uint8)
    out = run_op("median", to_float(source), None, {"size": 9})
    assert out.info["precision"] == "8-bit"
    assert np.array_equal(from_float(out.image, np.uint8), cv2.medianBlur(source, 9))
    assert np.array_equal(out.image, to_float(cv2.medianBlur(source, 9)))


def test_median_rejects_an_even_size() -> None:
    with pytest.raises(ParamError, match="odd"):
        run_op("median", scene(32), None, {"size": 4})


# --- adaptive median (salt and pepper) --------------------------------------------------------


def test_adaptive_median_repairs_salt_and_pepper_and_only_that() -> None:
    clean = scene(256, 3)
    noisy, corrupted = salt_and_pepper(clean, 0.10)
    result = run_op("adaptive_median", noisy)
    repaired = result.image

    gain = psnr(repaired, clean) - psnr(noisy, clean)
    assert gain >= 15.0, f"gained only {gain:.1f} dB"

    detected = repaired != noisy
    untouched = ~corrupted & ~detected
    assert np.array_equal(repaired[untouched], noisy[untouched])
    assert np.array_equal(repaired[~corrupted & ~detected], clean[~corrupted & ~detected])
    false_positive = (detected & ~corrupted).sum() / (~corrupted).sum()
    assert false_positive < 0.005, f"{false_positive:.2%} of clean values were changed"
    # Nearly every corruption that actually changed a value away from the truth is found.
    visible = corrupted & (np.abs(noisy - clean) > 0.15)
    assert (detected & visible).sum() / visible.sum() > 0.99
    assert result.info["impulses"] == int(detected.any(axis=2).sum())


def test_adaptive_median_leaves_a_clean_image_alone() -> None:
    clean = scene(128, 3)
    result = run_op("adaptive_median", clean)
    changed = (result.image != clean).any(axis=2)
    assert changed.mean() < 0.001
    assert result.info["impulses"] == int(changed.sum())


def test_adaptive_median_grows_its_window_for_dense_noise() -> None:
    clean = scene(128, 1)
    noisy, _ = salt_and_pepper(clean, 0.4, seed=5)
    small = run_op("adaptive_median", noisy, None, {"max_size": 3}).image
    grown = run_op("adaptive_median", noisy, None, {"max_size": 9}).image
    assert psnr(grown, clean) > psnr(small, clean) + 3.0
    assert psnr(grown, clean) > 26.0


def test_adaptive_median_extremes_only_spares_mid_grey_specks() -> None:
    image = np.full((48, 48, 1), 0.5, np.float32)
    image[10, 10] = 0.9  # bright but not white
    image[30, 30] = 1.0  # white
    only_extremes = run_op("adaptive_median", image).image
    assert only_extremes[10, 10, 0] == np.float32(0.9)
    assert only_extremes[30, 30, 0] == np.float32(0.5)
    everything = run_op("adaptive_median", image, None, {"extremes_only": False}).image
    assert np.array_equal(everything, np.full_like(image, 0.5))


def test_detect_impulses_marks_the_corrupted_pixels() -> None:
    clean = scene(128, 3)
    noisy, corrupted = salt_and_pepper(clean, 0.05, seed=7)
    found = detect_impulses(noisy)
    visible = (corrupted & (np.abs(noisy - clean) > 0.15)).any(axis=2)
    assert found.dtype == np.bool_ and found.shape == (128, 128)
    assert (found & visible).sum() / visible.sum() > 0.99
    assert (found & ~corrupted.any(axis=2)).mean() < 0.005


def test_repair_impulses_checks_cancel() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        repair_impulses(scene(32), cancel=cancel)


# --- bilateral --------------------------------------------------------------------------------


def test_bilateral_smooths_noise_but_keeps_an_edge() -> None:
    clean = np.full((96, 96, 3), 0.3, np.float32)
    clean[:, 48:] = 0.7
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.03, clean.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    out = run_op("bilateral", noisy, None, {"sigma_color": 0.1, "sigma_space": 3.0}).image
    blurred = run_op("gaussian", noisy, None, {"sigma": 3.0}).image
    assert psnr(out, clean) > psnr(noisy, clean) + 6.0
    # Across the edge the bilateral result stays a step; a Gaussian of the same reach ramps.
    step = out[:, 49].mean() - out[:, 46].mean()
    ramp = blurred[:, 49].mean() - blurred[:, 46].mean()
    assert step > 0.35 and ramp < 0.3


# --- non-local means --------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_nl_means_gains_on_gaussian_noise(channels: int) -> None:
    clean = scene(128, channels)
    rng = np.random.default_rng(4)
    noisy = np.clip(clean + rng.normal(0, 15 / 255, clean.shape), 0, 1).astype(np.float32)
    out = run_op("nl_means", noisy).image
    gain = psnr(out, clean) - psnr(noisy, clean)
    assert gain >= 3.0, f"gained only {gain:.1f} dB"


def test_nl_means_checks_cancel() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_op("nl_means", scene(64), cancel=cancel)


# --- unsharp mask -----------------------------------------------------------------------------


def test_unsharp_mask_sharpens_a_blurred_step_and_leaves_flat_areas() -> None:
    step = np.full((64, 128, 1), 0.3, np.float32)
    step[:, 64:] = 0.7
    soft = run_op("gaussian", step, None, {"sigma": 2.0}).image
    sharp = run_op("unsharp_mask", soft, None, {"radius": 2.0, "amount": 1.5}).image

    def edge_slope(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image[32, :, 0])).max())

    def contrast(image: np.ndarray) -> float:
        return float(image[:, 66].mean() - image[:, 61].mean())

    # amount 1.5 at the blur's own radius: the slope grows by 2.5 - 1.5 / sqrt(2) = 1.44.
    assert edge_slope(sharp) > 1.35 * edge_slope(soft)
    assert contrast(sharp) > 1.2 * contrast(soft)
    # Far from the edge (beyond the blur's reach) nothing moves.
    np.testing.assert_allclose(sharp[:, :40], soft[:, :40], atol=1e-6)
    np.testing.assert_allclose(sharp[:, 90:], soft[:, 90:], atol=1e-6)
    # With a threshold, flat areas are left bit-identical.
    gated = run_op("unsharp_mask", soft, None, {"radius": 2.0, "amount": 1.5,
                                                "threshold": 0.01}).image
    assert np.array_equal(gated[:, :40], soft[:, :40])
    assert edge_slope(gated) > 1.35 * edge_slope(soft)


def test_unsharp_mask_raises_high_frequency_energy() -> None:
    image = run_op("gaussian", scene(96, 3), None, {"sigma": 1.5}).image
    sharp = run_op("unsharp_mask", image, None, {"amount": 1.0}).image

    def laplacian_energy(x: np.ndarray) -> float:
        return float(np.mean(cv2.Laplacian(x, cv2.CV_32F) ** 2))

    assert laplacian_energy(sharp) > 2.0 * laplacian_energy(image)
