import cv2
import numpy as np

from engine.models.weights import load_model
from engine.ops.privacy import MODEL_NAME
from engine.ops.privacy.facemodel import (
    CELL,
    GROUPS,
    STRIDE,
    WINDOW,
    FaceTemplate,
    hog_groups,
    score_plane,
    window_groups,
)
from engine.ops.privacy.faces import detect_faces


def _plane(shape=(120, 160), seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.5)


def test_a_framed_window_has_the_features_it_has_inside_the_plane():
    plane = _plane()
    groups = hog_groups(plane)
    top, left = 3 * CELL, 5 * CELL
    framed = plane[top - 1:top + WINDOW + 1, left - 1:left + WINDOW + 1]
    assert np.array_equal(window_groups(framed), groups[3:3 + GROUPS, 5:5 + GROUPS])


def test_features_ignore_brightness_and_contrast():
    plane = _plane()
    assert np.allclose(hog_groups(0.4 * plane + 0.3), hog_groups(plane), atol=2e-2)
    assert not np.allclose(hog_groups(plane.T.copy()).transpose(1, 0, 2), hog_groups(plane),
                           atol=2e-2)


def test_score_map_has_one_entry_per_window():
    model = FaceTemplate().eval()
    for height, width in ((WINDOW, WINDOW), (WINDOW + 3, WINDOW + 5), (101, 77)):
        scores = score_plane(model, _plane((height, width)))
        assert scores.shape == ((height - WINDOW) // STRIDE + 1, (width - WINDOW) // STRIDE + 1)
        assert ((scores > 0) & (scores < 1)).all()


def test_the_shipped_detector_loads_and_finds_no_face_in_textures():
    model, entry = load_model(MODEL_NAME)
    assert isinstance(model, FaceTemplate)
    assert entry.meta["training_data"]
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32) / 320
    ramp = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2)
    grain = cv2.GaussianBlur(rng.random((240, 320)).astype(np.float32), (0, 0), 2.0)
    stripes = 0.5 + 0.4 * np.sin(xx * 90)[:, :, None]
    for image in (ramp, np.repeat(grain[:, :, None], 3, axis=2), np.repeat(stripes, 3, axis=2)):
        faces, _ = detect_faces(image.astype(np.float32))
        assert faces == []
