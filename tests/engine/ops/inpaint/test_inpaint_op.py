import time

import cv2
import numpy as np
import pytest

from engine.core.masks import hole_regions
from engine.core.progress import Cancelled, CancelToken
from engine.ops import OpError, get_op, run_op
from engine.ops.inpaint.methods import (
    DEFAULT_METHOD,
    INPAINT_METHODS,
    METHOD_CHOICES,
    auto_plan,
    context_margin,
    inpaint_method,
)


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
    filled = run_op("inpaint", ramp, mask, {"method": "telea", "radius": 3}).image
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
    result = run_op("inpaint", image, mask, {"method": "telea", "radius": 5})
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
    assert method.choices == METHOD_CHOICES == ("auto", "structured", "exemplar", "learned",
                                                "telea", "ns")
    assert tuple(INPAINT_METHODS) == method.choices[1:]
    assert method.default == DEFAULT_METHOD == "auto"     # thin → learned, thick → structured
    assert op.mask_use == "hole" and op.needs_mask and op.category == "Inpaint"
    with pytest.raises(ValueError, match="already registered"):
        inpaint_method("telea")(lambda crop, hole, options: crop)
    with pytest.raises(ValueError, match="already registered"):
        inpaint_method("auto")(lambda crop, hole, options: crop)


def _texture(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([0.5 + 0.4 * np.sin(xx * 2 * np.pi / 10),
                     0.5 + 0.4 * (((yy // 6 + xx // 6) % 2) - 0.5),
                     0.4 + 0.2 * np.cos(yy * 2 * np.pi / 14)], axis=2).astype(np.float32)


@pytest.mark.parametrize(("learned_ok", "thin"), [(False, "telea"), (True, "learned")])
def test_auto_sends_thin_damage_to_the_fast_path_and_large_holes_to_structured(
        monkeypatch, learned_ok, thin):
    import engine.ops.inpaint.inpaint_op as inpaint_op

    calls = []
    monkeypatch.setattr(inpaint_op, "learned_available", lambda: learned_ok)
    for name in ("learned", "telea", "structured"):
        real = INPAINT_METHODS[name]

        def spy(crop, hole, options, real=real, name=name):
            calls.append((name, hole.shape))
            return real(crop, hole, options) if name == "telea" else crop + 0.0
        monkeypatch.setitem(INPAINT_METHODS, name, spy)
    image = _texture(260)
    mask = np.zeros((260, 260), bool)
    mask[20:22, 20:120] = True                          # a 2-px scratch
    mask[170:220, 170:220] = True                       # a 50-px hole, far away
    result = run_op("inpaint", image, mask, {"method": "auto", "sample_margin": 60})
    assert result.info["methods_used"] == {thin: 1, "structured": 1}
    assert sorted(name for name, _ in calls) == sorted([thin, "structured"])
    structured_shape = next(shape for name, shape in calls if name == "structured")
    assert structured_shape == (50 + 60 + 40, 50 + 60 + 40)  # margin 60, clipped at the edge
    assert np.array_equal(result.image[~mask], image[~mask])


def test_auto_rule_for_one_hole():
    thick = np.zeros((120, 120), bool)
    thick[30:90, 30:90] = True
    thin = np.zeros((120, 120), bool)
    thin[60:63, 10:110] = True
    assert auto_plan(thin, True)[0] == "learned"
    assert auto_plan(thin, False)[0] == "telea"
    assert auto_plan(thick, True)[0] == "structured"
    assert auto_plan(thick, False)[0] == "structured"
    stroke = np.zeros((120, 120), bool)
    stroke[52:68, 10:110] = True                       # a 16-px brush stroke over an object
    assert auto_plan(stroke, True)[0] == "structured"


def test_auto_plan_leaves_the_thin_holes_beside_a_thick_one_to_the_layout():
    group = np.zeros((120, 120), bool)
    group[40:70, 40:70] = True                         # a 30-px flake
    group[20:22, 10:110] = True                        # a hairline beside it, not touching
    group[80:82, 60:110] = True                        # and another
    method, smooth = auto_plan(group, True)
    assert method == "structured"
    assert smooth.sum() == 200 + 100 and not smooth[40:70, 40:70].any()
    joined = group.copy()
    joined[22:40, 50:52] = True                        # a line that runs into the flake
    method, smooth = auto_plan(joined, False)
    assert method == "structured" and not smooth[21, 30]   # it goes with the flake
    assert smooth[81, 100]
    assert auto_plan(group[:, :30], True) == ("learned", None)
    assert auto_plan(group[:, :30], False) == ("telea", None)
    assert auto_plan(group[30:80], True)[1] is None    # the flake alone


@pytest.mark.parametrize("learned_ok", [True, False])
def test_auto_gives_scratches_beside_a_flake_the_smooth_layout_not_patches(
        monkeypatch, learned_ok):
    import engine.ops.inpaint.inpaint_op as inpaint_op
    import engine.ops.inpaint.methods as methods

    monkeypatch.setattr(inpaint_op, "learned_available", lambda: learned_ok)
    monkeypatch.setattr(methods, "learned_available", lambda: learned_ok)
    image = _texture(200)
    mask = np.zeros((200, 200), bool)
    mask[80:120, 80:120] = True                        # a flake
    mask[60:62, 40:160] = True                         # a scratch 18 px above it: one group
    result = run_op("inpaint", image, mask, {"method": "auto", "sample_margin": 50})
    assert result.info["methods_used"] == {"structured": 1}
    alone = run_op("inpaint", image, mask & (np.arange(200) < 70)[:, None],
                   {"method": "learned" if learned_ok else "telea"}).image
    scratch = np.s_[60:62, 40:160]
    # The scratch's fill is smooth, as the fast path's is, where patches would copy the
    # checkerboard's hard edges into it.
    detail = np.abs(np.diff(result.image[scratch], axis=1)).mean()
    patches = run_op("inpaint", image, mask, {"method": "structured", "sample_margin": 50})
    assert detail < 0.6 * np.abs(np.diff(patches.image[scratch], axis=1)).mean()
    assert np.abs(result.image[scratch] - alone[scratch]).mean() < 0.08
    assert np.array_equal(result.image[~mask], image[~mask])


def test_damaged_network_weights_make_auto_fall_back_to_telea(tmp_path, monkeypatch):
    import shutil

    from engine.core.resources import resources_dir
    from engine.models.weights import clear_model_cache

    copy = tmp_path / "resources"
    shutil.copytree(resources_dir(), copy, ignore=shutil.ignore_patterns("*.md"))
    weights = copy / "models" / "inpaint_ffc.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    monkeypatch.setenv("PIXELMEND_RESOURCES", str(copy))
    clear_model_cache()
    try:
        image, mask = _gradient(), _holes()
        result = run_op("inpaint", image, mask, {"method": "auto"})
        assert set(result.info["methods_used"]) == {"telea"}
        assert np.abs(result.image - image)[mask].max() < 0.05
    finally:
        clear_model_cache()
