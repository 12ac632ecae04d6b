"""The detection plumbing, with a stand-in scorer that knows what a 'face' is here: a bright
square on a dark ground. (The shipped model is checked in test_facemodel.py; no test image of
a real face may ship, and drawn faces are not what the model learned.)"""

import cv2
import numpy as np
import pytest

from engine.ops import run_op
from engine.ops.privacy import faces
from engine.ops.privacy.faces import (
    FACE_FRACTION,
    SCALE_STEP,
    STRIDE,
    WINDOW,
    FaceBox,
    detect_faces,
    detection_plane,
    faces_mask,
    iou,
    merge_detections,
    pyramid_scales,
    raw_detections,
    sensitivity_settings,
)


def square_scorer(plane: np.ndarray) -> np.ndarray:
    """Probability that a window's face box is a bright square on a dark surround."""
    inset = round((WINDOW - WINDOW * FACE_FRACTION) / 2)
    rows = (plane.shape[0] - WINDOW) // STRIDE + 1
    cols = (plane.shape[1] - WINDOW) // STRIDE + 1
    integral = cv2.integral(plane.astype(np.float64))

    def box_mean(top, left, size):
        y = top[:, None] + np.zeros_like(left)[None, :]
        x = left[None, :] + np.zeros_like(top)[:, None]
        total = (integral[y + size, x + size] - integral[y, x + size]
                 - integral[y + size, x] + integral[y, x])
        return total / size ** 2

    top, left = np.arange(rows) * STRIDE, np.arange(cols) * STRIDE
    inner = box_mean(top + inset, left + inset, WINDOW - 2 * inset)
    whole = box_mean(top, left, WINDOW)
    ring = (whole * WINDOW ** 2 - inner * (WINDOW - 2 * inset) ** 2) / (
        WINDOW ** 2 - (WINDOW - 2 * inset) ** 2)
    return (1 / (1 + np.exp(-25 * (inner - ring - 0.15)))).astype(np.float32)


def _squares(shape, squares, seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((*shape, 3), 0.1, np.float32)
    for x, y, side in squares:
        image[y:y + side, x:x + side] = 0.9
    return np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32)


def test_constants_match_the_model():
    from engine.ops.privacy import facemodel

    assert (WINDOW, STRIDE) == (facemodel.WINDOW, facemodel.STRIDE)


def test_plane_is_equalised_and_shrunk_for_large_photos():
    rng = np.random.default_rng(0)
    dull = (0.45 + 0.1 * rng.random((300, 400, 1))).astype(np.float32)
    plane, scale = detection_plane(dull, 1024)
    assert scale == 1.0 and plane.shape == (300, 400)
    assert plane.min() < 0.05 and plane.max() > 0.95
    big = np.repeat(np.repeat(dull, 8, axis=0), 8, axis=1)
    plane, scale = detection_plane(big, 1024)
    assert plane.shape == (768, 1024) and scale == pytest.approx(1024 / 3200)


def test_pyramid_runs_from_the_smallest_face_to_the_whole_image():
    scales = pyramid_scales((300, 400), 20.0)
    assert scales[0] == pytest.approx(WINDOW * FACE_FRACTION / 20.0)
    assert np.allclose(np.array(scales[:-1]) / np.array(scales[1:]), SCALE_STEP)
    assert 300 * scales[-1] >= WINDOW > 300 * scales[-1] / SCALE_STEP
    assert pyramid_scales((300, 400), 1.0)[0] == faces.MAX_UPSCALE


def test_merging_keeps_supported_groups_and_one_box_per_face():
    face = [FaceBox(100 + dx, 50 + dy, 140 + dx, 90 + dy, 0.9 - 0.01 * k, 0.9)
            for k, (dx, dy) in enumerate([(0, 0), (3, 0), (0, 3), (-3, -2), (2, 2)])]
    stray = [FaceBox(300, 300, 320, 320, 0.95, 0.95)]
    inside = [FaceBox(110, 60, 125, 75, 0.97, 0.97), FaceBox(111, 61, 126, 76, 0.96, 0.96),
              FaceBox(109, 59, 124, 74, 0.96, 0.96)]
    merged = merge_detections(face + stray + inside, min_support=2.0)
    assert len(merged) == 1
    (box,) = merged
    assert iou(box, (100, 50, 140, 90)) > 0.9
    assert box.support == pytest.approx(sum(h.score for h in face))
    assert len(merge_detections(face + stray, min_support=0.5)) == 2


def test_squares_are_found_at_their_size_and_place():
    squares = [(40, 60, 30), (200, 80, 90), (120, 230, 50)]
    image = _squares((320, 360), squares)
    found, scale = detect_faces(image, scorer=square_scorer, min_face=20)
    assert scale == 1.0
    assert len(found) == 3
    for x, y, side in squares:
        assert max(iou(f, (x, y, x + side, y + side)) for f in found) > 0.6


def test_a_large_photo_is_searched_small_and_its_boxes_scaled_back():
    squares = [(500, 400, 300), (2000, 1200, 500)]
    image = _squares((2000, 3000), squares)
    found, scale = detect_faces(image, scorer=square_scorer, min_face=100, max_side=1024)
    assert scale == pytest.approx(1024 / 3000)
    assert len(found) == 2
    for x, y, side in squares:
        assert max(iou(f, (x, y, x + side, y + side)) for f in found) > 0.6


def test_the_mirror_image_is_scored_too():
    calls = []

    def left_half(plane):
        calls.append(plane.copy())
        return square_scorer(plane)

    plane = detection_plane(_squares((100, 150), [(20, 30, 30)]), 1024)[0]
    hits = raw_detections(plane, left_half, [WINDOW * FACE_FRACTION / 30], 0.5)
    assert len(calls) == 2 and np.array_equal(calls[1], calls[0][:, ::-1])
    assert hits and max(iou(h, (20, 30, 50, 60)) for h in hits) > 0.6


def test_higher_sensitivity_lowers_threshold_and_support():
    settings = [sensitivity_settings(s) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    thresholds, supports = zip(*settings, strict=True)
    assert list(thresholds) == sorted(thresholds, reverse=True)
    assert list(supports) == sorted(supports, reverse=True)
    assert 0 < thresholds[-1] < thresholds[0] < 1


def test_mask_shapes_and_margin():
    box = FaceBox(100, 100, 140, 150)
    rect = faces_mask((300, 300), [box], margin=0.0, ellipse=False)
    assert rect.sum() == 40 * 50 and rect[100:150, 100:140].all()
    oval = faces_mask((300, 300), [box], margin=0.0)
    assert oval.sum() == pytest.approx(np.pi * 20 * 25, rel=0.05)
    assert not oval[100, 100] and oval[125, 120]
    grown = faces_mask((300, 300), [box], margin=0.5, ellipse=False)
    rows = np.flatnonzero(grown.any(axis=1))
    cols = np.flatnonzero(grown.any(axis=0))
    assert (cols[0], cols[-1] + 1) == (80, 160)
    assert (rows[0], rows[-1] + 1) == (62, 175)  # 1.5 × 25 px above, 25 px below


def test_op_proposes_the_mask_of_the_faces_it_finds(monkeypatch):
    monkeypatch.setattr(faces, "shipped_scorer", lambda device="cpu": square_scorer)
    squares = [(40, 60, 40), (200, 80, 70)]
    image = _squares((240, 320), squares)
    result = run_op("detect_faces", image, params={"shape": "box", "margin": 0.0})
    assert result.image is None
    assert result.info["count"] == 2
    truth = np.zeros(image.shape[:2], bool)
    for x, y, side in squares:
        truth[y:y + side, x:x + side] = True
    overlap = (result.mask & truth).sum() / (result.mask | truth).sum()
    assert overlap > 0.6
    x, y, w, h, score = result.info["faces"][0]
    assert w > 0 and h > 0 and 0.5 <= score <= 1.0
    grey = run_op("detect_faces", image[:, :, :1], params={"shape": "box", "margin": 0.0})
    assert grey.info["count"] == 2


def test_no_squares_no_faces(monkeypatch):
    monkeypatch.setattr(faces, "shipped_scorer", lambda device="cpu": square_scorer)
    result = run_op("detect_faces", _squares((200, 200), []))
    assert result.info["count"] == 0 and not result.mask.any()
