import time

import cv2
import numpy as np
import pytest

from engine.ops import OpError, get_op, run_op
from engine.ops.inpaint_op import INPAINT_METHODS, context_margin, hole_regions, inpaint_method
from engine.progress import Cancelled, CancelToken


def _gradient(size: int = 128) -> np.ndarray:
    """A smooth RGB gradient (about half a grey level per pixel)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    return np.stack([0.2 + 0.3 * xx + 0.15 * yy, 0.5 + 0.2 * yy, 0.7 - 0.3 * xx], axis=2
                    ).astype(np.float32)


def _holes(size: int = 128) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[60:69, 30:39] = True                              # a 9×9 square
    line = np.zeros((size, size), np.uint8)
    cv2.line(line, (70, 20), (120, 110), 1, 1)             # a thin diagonal line
    return mask | (line > 0)


@pytest.mark.parametrize(("method", "bound"), [("telea", 2.0), ("ns", 2.0)])
def test_inpaint_fills_holes_in_a_gradient(method, bound):
    image, mask = _gradient(), _holes()
    damaged = image.copy()
    damaged[mask] = (1.0, 0.0, 1.0)                        # what was there must not leak in
    result = run_op("inpaint", damaged, mask, {"method": method})
    error = np.abs(result.image - image)[mask]
    assert error.max() * 255 <= bound, error.max() * 255
    assert np.array_equal(result.image[~mask], damaged[~mask])     # outside: bit-identical
    assert result.info["regions"] == 1


def test_inpaint_keeps_sixteen_bit_precision():
    # A gentle ramp that an 8-bit round trip would quantise: the fill must beat 1/255 steps.
    ramp = np.tile(np.linspace(0.3, 0.45, 96, dtype=np.float32), (96, 1))[:, :, None]
    mask = np.zeros((96, 96), bool)
    mask[:, 48] = True
    filled = run_op("inpaint", ramp, mask, {"radius": 3}).image
    assert np.abs(filled - ramp)[mask].max() < 0.25 / 255
    assert not np.allclose(filled[mask] * 255, np.round(filled[mask] * 255), atol=1e-3)


def test_inpaint_on_a_large_image_only_touches_a_crop(monkeypatch):
    image = np.random.default_rng(0).random((3000, 3000, 1), dtype=np.float32)
    mask = np.zeros((3000, 3000), bool)
    mask[1500:1504, 2000:2012] = True
    seen = []
    original = cv2.inpaint

    def recording(src, *args, **kwargs):
        seen.append(src.shape)
        return original(src, *args, **kwargs)

    monkeypatch.setattr(cv2, "inpaint", recording)
    started = time.perf_counter()
    result = run_op("inpaint", image, mask, {"radius": 5})
    elapsed = time.perf_counter() - started
    margin = context_margin(5)
    assert seen == [(4 + 2 * margin, 12 + 2 * margin)]
    assert result.info["crop_pixels"] == (4 + 2 * margin) * (12 + 2 * margin)
    assert np.array_equal(result.image[~mask], image[~mask])
    assert elapsed < 5.0                       # whole-image work would be far slower


def test_hole_regions_merge_near_holes_and_split_far_ones():
    mask = np.zeros((400, 400), bool)
    mask[10:12, 10:12] = True                  # near the corner: the crop is clipped
    mask[10:12, 40:42] = True                  # 28 px away: merged with the first
    mask[300:305, 300:310] = True              # far away: its own crop
    regions = list(hole_regions(mask, 32))
    assert len(regions) == 2
    boxes = sorted((rows.start, rows.stop, cols.start, cols.stop) for (rows, cols), _ in regions)
    assert boxes == [(0, 44, 0, 74), (268, 337, 268, 342)]
    for (rows, cols), own in regions:
        assert own.shape == (rows.stop - rows.start, cols.stop - cols.start)
    assert sum(int(own.sum()) for _, own in regions) == int(mask.sum())


def test_inpaint_two_far_holes_fill_each_from_its_own_surroundings():
    image = np.zeros((200, 200, 3), np.float32)
    image[:, :100] = (0.2, 0.3, 0.4)
    image[:, 100:] = (0.8, 0.7, 0.6)
    mask = np.zeros((200, 200), bool)
    mask[50:55, 20:25] = True
    mask[150:155, 170:175] = True
    result = run_op("inpaint", image, mask, {"method": "ns"})
    assert result.info["regions"] == 2
    assert np.abs(result.image - image)[mask].max() < 1e-3


def test_inpaint_needs_a_mask_and_honours_cancel():
    image = _gradient(64)
    with pytest.raises(OpError, match="needs a mask"):
        run_op("inpaint", image)
    with pytest.raises(OpError, match="whole image"):
        run_op("inpaint", image, np.ones((64, 64), bool))
    cancel = CancelToken()
    cancel.cancel()
    mask = np.zeros((64, 64), bool)
    mask[30:33, 30:33] = True
    with pytest.raises(Cancelled):
        run_op("inpaint", image, mask, cancel=cancel)


def test_inpaint_methods_are_a_registry_the_op_offers():
    op = get_op("inpaint")
    method = next(spec for spec in op.params if spec.name == "method")
    assert method.choices == tuple(INPAINT_METHODS) == ("telea", "ns")
    assert op.mask_use == "hole" and op.needs_mask and op.category == "Inpaint"
    with pytest.raises(ValueError, match="already registered"):
        inpaint_method("telea")(lambda crop, hole, radius: crop)
