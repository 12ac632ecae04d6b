import json

import numpy as np
import pytest

from engine.ops.privacy.facemodel import GROUPS, WINDOW, FaceTemplate, score_plane
from engine.training import faces


def _plane(seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((120, 160)).astype(np.float32)


def test_window_is_centred_on_the_face_and_framed_for_gradients():
    plane = np.zeros((100, 100), np.float32)
    plane[40:60, 40:60] = 1.0
    window = faces._window(plane, 50.0, 50.0, 20.0 / faces.FACE_FRACTION, 0.0, False)
    assert window.shape == (WINDOW + 2, WINDOW + 2)
    inner = window[1:-1, 1:-1]
    rows, cols = np.indices(inner.shape)
    # The square's centre (50, 50 in box coordinates, pixel 49.5) lands on the window's centre.
    assert (inner * rows).sum() / inner.sum() == pytest.approx((WINDOW - 1) / 2, abs=0.3)
    assert (inner * cols).sum() / inner.sum() == pytest.approx((WINDOW - 1) / 2, abs=0.3)
    assert (inner > 0.5).sum() == pytest.approx((WINDOW * faces.FACE_FRACTION) ** 2, rel=0.1)


def test_negatives_keep_away_from_the_marked_faces():
    rng = np.random.default_rng(0)
    box = [50.0, 30.0, 90.0, 70.0]
    windows = faces._negatives(_plane(), [box], 40, rng)
    assert len(windows) == 40
    assert all(w.shape == (GROUPS, GROUPS, 36) for w in windows)


def test_a_few_steps_separate_positives_from_negatives():
    rng = np.random.default_rng(1)
    plane = np.full((120, 160), 0.2, np.float32)
    plane[40:70, 60:90] = 0.9
    pos = np.stack(faces._positives(plane, [[60, 40, 90, 70]], rng)[:200])
    neg = np.stack(faces._negatives(_plane(2), [], 600, rng))
    model = FaceTemplate()
    faces._fit(model, pos, neg, 300, 1e-2, 0, [], float("inf"))
    level = plane.copy()
    scores = score_plane(model, level)
    best = np.unravel_index(scores.argmax(), scores.shape)
    assert abs(best[0] * 4 + WINDOW / 2 - 55) <= 8 and abs(best[1] * 4 + WINDOW / 2 - 75) <= 8
    assert score_plane(model, _plane(3)).max() < scores.max()


def test_training_annotations_are_names_and_boxes_only():
    data = json.loads(faces.ANNOTATIONS.read_text())
    assert data["negatives"] and data["faces"]
    evaluation = json.loads((faces.ANNOTATIONS.parents[2] / "bench" / "data" /
                             "faces_eval.json").read_text())
    assert not set(data["faces"]) & set(evaluation["faces"])
    assert not set(data["negatives"]) & set(evaluation["faces"])
    assert not set(data["faces"]) & set(data["negatives"])
    # Photos stored on their side are marked upright: a quarter-turn count for marked photos.
    assert set(data["turns"]) <= set(data["faces"])
    assert all(turn in (1, 2, 3) for turn in data["turns"].values())


def test_a_photo_on_its_side_is_turned_upright_before_its_boxes_are_read(tmp_path):
    import cv2

    pixels = np.zeros((30, 50, 3), np.uint8)
    pixels[:, :10] = 255  # a white band along the left edge
    cv2.imwrite(str(tmp_path / "side.png"), pixels)
    upright = faces._photo(tmp_path, "side.png", {"side.png": 1})
    assert upright.shape == (50, 30, 3)
    assert upright[-10:].min() == 1.0 and upright[:-10].max() == 0.0  # left edge → bottom
    assert faces._photo(tmp_path, "side.png", {}).shape == (30, 50, 3)
