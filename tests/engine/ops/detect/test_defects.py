import cv2
import numpy as np

from engine.ops.detect.defects import (
    detect_scratches,
    detect_spots,
    hysteresis,
    line_kernel,
    local_threshold,
    thin_residue,
)


def _textured(size: int, seed: int, amplitude: float = 0.04) -> np.ndarray:
    """A smooth grey ramp with soft blotchy texture and a little noise (float32 H×W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
    gray = 0.35 + 0.3 * xx + (amplitude / texture.std()) * texture
    gray += rng.normal(0, 0.01, gray.shape)
    return np.clip(gray, 0, 1).astype(np.float32)


def test_hysteresis_keeps_weak_parts_connected_to_strong_ones():
    weak = np.zeros((10, 10), bool)
    weak[1, 1:6] = True
    weak[7, 1:6] = True
    strong = np.zeros_like(weak)
    strong[1, 3] = True
    out = hysteresis(strong, weak)
    assert out[1, 1:6].all() and not out[7].any()


def test_line_kernel_is_a_thin_line_through_the_centre():
    for angle in (0, 30, 45, 90, 135):
        kernel = line_kernel(11, angle)
        assert kernel.shape == (11, 11) and kernel[5, 5] == 1
        assert 11 <= kernel.sum() <= 13


def test_thin_residue_answers_thin_things_not_broad_edges():
    gray = np.full((60, 60), 0.5, np.float32)
    gray[:, 40:] = 0.9                       # a broad step edge
    gray[10, 5:30] = 0.8                     # a thin bright line
    gray[30:33, 10:13] = 0.2                 # a small dark spot
    residue = thin_residue(gray, 7)
    assert residue.dtype == np.uint8
    assert residue[10, 10] >= 75 and residue[31, 11] >= 75       # 0.3 × 255 ≈ 77
    assert residue[:, 36:].max() == 0


def test_local_threshold_rises_with_noise_and_texture():
    gray = np.tile(np.linspace(0.3, 0.6, 128, dtype=np.float32), (128, 1))   # clean ramp
    gray[:, 64:] = _textured(128, 1, amplitude=0.08)[:, 64:]
    limit = local_threshold(thin_residue(gray, 7), 0.05, 4.0)
    assert limit[:, :40].max() == round(0.05 * 255)          # flat and clean: the base
    assert limit[:, 90:].mean() > 1.5 * round(0.05 * 255)


def test_scratches_found_at_many_angles_and_texture_left_alone():
    base = _textured(160, 2)
    assert not detect_scratches(base, 0.12).any()
    for angle in (0, 13, 37, 64, 90, 117, 152):
        damaged = base.copy()
        line = np.zeros(base.shape, np.uint8)
        a = np.radians(angle)
        p, q = 60 * np.cos(a), 60 * np.sin(a)
        cv2.line(line, (int(80 - p), int(80 - q)), (int(80 + p), int(80 + q)), 1, 1)
        damaged[line > 0] = 0.9
        found = detect_scratches(damaged, 0.12)
        truth = line > 0
        ring = cv2.dilate(line, np.ones((5, 5), np.uint8)) > 0
        assert (found & truth).sum() >= 0.9 * truth.sum(), angle
        assert (found & ~ring).sum() <= 10, angle


def test_short_lines_and_blobs_are_not_scratches():
    gray = np.full((100, 100), 0.5, np.float32)
    gray[20, 10:25] = 0.95                   # 15 px long
    cv2.circle(gray, (60, 60), 3, 0.05, -1)
    assert not detect_scratches(gray, 0.1, min_length=30).any()
    assert detect_scratches(gray, 0.1, min_length=12).sum() >= 15


def test_spots_found_by_size_and_roundness():
    gray = _textured(128, 4)
    truth = np.zeros(gray.shape, np.uint8)
    for centre, radius in (((30, 30), 2), ((90, 40), 3), ((50, 100), 4)):
        cv2.circle(truth, centre, radius, 1, -1)
    big = np.zeros(gray.shape, np.uint8)
    cv2.circle(big, (100, 100), 9, 1, -1)                   # too large to be dust
    streak = np.zeros(gray.shape, np.uint8)
    streak[10, 60:75] = 1                                   # too elongated
    damaged = gray.copy()
    damaged[(truth | big | streak) > 0] = 0.05
    found = detect_spots(damaged, 0.12, max_size=9)
    assert (found & (truth > 0)).sum() >= 0.9 * truth.sum()
    ring = cv2.dilate(truth, np.ones((5, 5), np.uint8)) > 0
    assert (found & ~ring).sum() == 0
    # A spot touching an excluded (scratch) pixel is left to the scratch.
    exclude = np.zeros(gray.shape, bool)
    exclude[30, 27] = True
    assert not detect_spots(damaged, 0.12, max_size=9, exclude=exclude)[30, 30]
