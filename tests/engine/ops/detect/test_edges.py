import cv2
import numpy as np
import pytest

from engine.ops.detect.edges import canny_edges


def test_canny_edges_lie_on_a_rectangle_border_only():
    gray = np.full((80, 100), 0.3, np.float32)
    gray[20:60, 30:80] = 0.7
    edges = canny_edges(gray, 0.05, 0.15, sigma=1.0)
    border = np.zeros(gray.shape, np.uint8)
    cv2.rectangle(border, (30, 20), (79, 59), 1, 1)
    near = cv2.dilate(border, np.ones((3, 3), np.uint8)) > 0   # border ± 1 px
    assert edges.sum() > 0.9 * border.sum()
    assert not (edges & ~near).any()
    # Every border pixel has an edge within 1 px: the outline is closed.
    reach = cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert reach[border > 0].all()


def test_canny_thresholds_are_on_the_unit_brightness_scale():
    gray = np.zeros((40, 40), np.float32)
    gray[:, 20:] = 0.10                        # a step of 0.10
    assert canny_edges(gray, 0.05, 0.08, sigma=0).any()
    assert not canny_edges(gray, 0.05, 0.12, sigma=0).any()
    with pytest.raises(ValueError, match="above the high"):
        canny_edges(gray, 0.2, 0.1)
