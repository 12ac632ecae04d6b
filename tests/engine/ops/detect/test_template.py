import cv2
import numpy as np
import pytest

from engine.core.progress import Cancelled, CancelToken
from engine.ops.detect.template import find_matches, match_template, stamp_matches


def _textured(size: int, seed: int, amplitude: float = 0.04) -> np.ndarray:
    """A smooth grey ramp with soft blotchy texture and a little noise (float32 H×W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
    gray = 0.35 + 0.3 * xx + (amplitude / texture.std()) * texture
    gray += rng.normal(0, 0.01, gray.shape)
    return np.clip(gray, 0, 1).astype(np.float32)


def test_match_template_scores_one_at_the_source_and_below_elsewhere():
    rng = np.random.default_rng(3)
    image = rng.random((60, 70, 3), dtype=np.float32)
    template = image[10:22, 30:42].copy()
    scores = match_template(image, template, strip_rows=7)   # several strips
    assert scores.shape == (49, 59)
    assert scores[10, 30] == pytest.approx(1.0, abs=1e-5)
    scores[10, 30] = -1
    assert scores.max() < 0.6
    assert match_template(image, template, method="sqdiff_normed")[10, 30] == pytest.approx(
        1.0, abs=1e-5)


def test_match_template_cancels_between_strips():
    cancel = CancelToken()
    cancel.cancel()
    image = np.random.default_rng(0).random((50, 50, 1), dtype=np.float32)
    with pytest.raises(Cancelled):
        match_template(image, image[:5, :5], cancel=cancel)


def test_find_matches_suppresses_neighbours_of_a_peak():
    scores = np.zeros((50, 50), np.float32)
    scores[10, 10] = 0.95
    scores[10, 12] = 0.90     # overlaps the first: suppressed
    scores[11, 9] = 0.93      # overlaps the first: suppressed
    scores[30, 35] = 0.85
    scores[40, 5] = 0.70      # below the threshold
    matches = find_matches(scores, (8, 8), 0.8, 10)
    assert [(x, y) for x, y, _ in matches] == [(10, 10), (35, 30)]
    assert find_matches(scores, (8, 8), 0.8, 1) == [(10, 10, pytest.approx(0.95))]
    # A reserved window (the template's own place) suppresses its neighbours.
    assert [(x, y) for x, y, _ in find_matches(scores, (8, 8), 0.8, 10, reserved=(12, 12))] == [
        (35, 30)]


def test_stamp_matches_places_the_footprint_and_clips_at_the_border():
    footprint = np.array([[1, 0, 1], [0, 1, 0]], bool)
    mask = stamp_matches((6, 6), [(0, 0, 1.0), (4, 4, 1.0)], footprint)
    assert mask[:2, :3].tolist() == footprint.tolist()
    assert mask[4:6, 4:6].tolist() == [[True, False], [False, True]]
    assert mask.sum() == 3 + 2
