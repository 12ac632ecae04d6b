import json

import cv2
import numpy as np
import pytest

from engine.ops import OpError, get_op, run_op


def _photo(size: int = 192, seed: int = 0) -> np.ndarray:
    """A photo-like RGB image: colour ramps, soft-edged shapes, blotchy texture, mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.stack([0.35 + 0.3 * xx, 0.4 + 0.2 * yy, 0.55 - 0.25 * xx * yy], axis=2)
    shapes = np.zeros((3, size, size), np.float32)
    cv2.circle(shapes[0], (50, 50), 25, 1.0, -1)
    shapes[1, 20:70, 110:170] = 1.0
    cv2.circle(shapes[2], (140, 140), 30, 1.0, -1)
    for shape, colour in zip(shapes, [(0.8, 0.3, 0.3), (0.3, 0.6, 0.35), (0.75, 0.7, 0.3)],
                             strict=True):
        weight = cv2.GaussianBlur(shape, (0, 0), 1.0)[:, :, None]
        image = image * (1 - weight) + np.array(colour, np.float32) * weight
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
    image = image + (0.03 / texture.std()) * texture[:, :, None]
    image = image + rng.normal(0, 0.01, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def _damage(image: np.ndarray, seed: int = 1) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Salt and pepper (2 %), a bright diagonal and a dark vertical scratch, three dust spots."""
    rng = np.random.default_rng(seed)
    size = image.shape[0]
    out = image.copy()
    bright = np.zeros((size, size), np.uint8)
    cv2.line(bright, (10, 100), (180, 185), 1, 2)
    dark = np.zeros((size, size), np.uint8)
    dark[10:121, 100] = 1
    spots = np.zeros((size, size), np.uint8)
    for centre, radius in (((30, 150), 2), ((160, 100), 3), ((75, 118), 2)):
        cv2.circle(spots, centre, radius, 1, -1)
    out[bright > 0] = 0.96
    out[dark > 0] = 0.08
    out[spots > 0] = (0.1, 0.08, 0.06)
    impulses = rng.random((size, size)) < 0.02
    salt = rng.random((size, size)) < 0.5
    out[impulses & salt] = 1.0
    out[impulses & ~salt] = 0.0
    truth = {"impulses": impulses, "bright scratch": bright > 0, "dark scratch": dark > 0,
             "spots": spots > 0}
    return out, truth


CLASSICAL = {"method": "classical"}

# ---------------------------------------------------------------------------------- canny


def test_canny_op_edges_on_rectangle_border_as_layer_and_mask():
    image = np.full((90, 120, 3), 0.25, np.float32)
    image[25:65, 30:95] = (0.8, 0.6, 0.4)
    result = run_op("canny", image, params={"low": 0.05, "high": 0.15, "sigma": 1.0})
    border = np.zeros((90, 120), np.uint8)
    cv2.rectangle(border, (30, 25), (94, 64), 1, 1)
    near = cv2.dilate(border, np.ones((3, 3), np.uint8)) > 0
    edges = result.mask
    assert edges.dtype == bool and edges.sum() > 0.9 * border.sum()
    assert not (edges & ~near).any()                    # nothing in the flat areas
    assert result.image.shape == image.shape            # a white-on-black layer
    assert np.array_equal(result.image[:, :, 0], edges.astype(np.float32))
    assert np.array_equal(result.image[:, :, 2], edges.astype(np.float32))
    gray = run_op("canny", image[:, :, :1])
    assert gray.image.shape == (90, 120, 1)


def test_canny_op_ignores_a_mask_and_rejects_crossed_thresholds():
    image = np.zeros((30, 30, 1), np.float32)
    mask = np.ones((30, 30), bool)
    assert not run_op("canny", image, mask).mask.any()
    with pytest.raises(OpError, match="low threshold"):
        run_op("canny", image, params={"low": 0.3, "high": 0.2})


# ------------------------------------------------------------------------- template match

_PATCH_AT = [(20, 30), (100, 25), (40, 110), (130, 130)]   # exact copies, the first is the source
_NOISY_AT = (75, 70)


def _repeats_image() -> np.ndarray:
    rng = np.random.default_rng(7)
    size = 160
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)).astype(np.float32), (0, 0), 2)
    image = 0.5 + 0.12 * texture / texture.std()
    patch = rng.random((12, 12, 3)).astype(np.float32)
    for x, y in _PATCH_AT:
        image[y:y + 12, x:x + 12] = patch
    x, y = _NOISY_AT
    image[y:y + 12, x:x + 12] = patch + rng.normal(0, 0.03, patch.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def test_template_match_finds_every_repeat_at_its_exact_place():
    image = _repeats_image()
    x0, y0 = _PATCH_AT[0]
    result = run_op("template_match", image,
                    params={"x": x0, "y": y0, "width": 12, "height": 12, "grow": 0})
    assert result.image is None
    found = {(x, y) for x, y, _ in result.info["matches"]}
    assert found == {*_PATCH_AT, _NOISY_AT}
    assert result.info["count"] == 5
    scores = {(x, y): s for x, y, s in result.info["matches"]}
    assert all(scores[place] > 0.999 for place in _PATCH_AT)
    assert 0.8 < scores[_NOISY_AT] < 0.999
    expected = np.zeros(image.shape[:2], bool)
    for x, y in found:
        expected[y:y + 12, x:x + 12] = True
    assert np.array_equal(result.mask, expected)
    layer = result.layers["match score"]
    assert layer.shape == image.shape
    assert layer[y0 + 6, x0 + 6, 0] == pytest.approx(1.0, abs=1e-4)   # centred on the patch

    without = run_op("template_match", image,
                     params={"x": x0, "y": y0, "width": 12, "height": 12, "grow": 0,
                             "include_source": False})
    assert {(x, y) for x, y, _ in without.info["matches"]} == {*_PATCH_AT[1:], _NOISY_AT}
    assert not without.mask[y0:y0 + 12, x0:x0 + 12].any()


def test_template_match_with_a_mask_uses_its_box_and_stamps_its_shape():
    image = _repeats_image()
    x0, y0 = _PATCH_AT[0]
    shape = np.zeros((12, 12), np.uint8)
    cv2.circle(shape, (6, 6), 5, 1, -1)
    mask = np.zeros(image.shape[:2], bool)
    mask[y0:y0 + 12, x0:x0 + 12] = shape > 0
    result = run_op("template_match", image, mask, params={"grow": 0, "threshold": 0.8})
    # The template is the disc's bounding box, 1 px in from the patch's corner.
    assert result.info["template"] == (x0 + 1, y0 + 1, 11, 11)
    found = {(x - 1, y - 1) for x, y, _ in result.info["matches"]}
    assert found == {*_PATCH_AT, _NOISY_AT}
    expected = np.zeros(image.shape[:2], bool)
    for x, y in _PATCH_AT + [_NOISY_AT]:
        expected[y:y + 12, x:x + 12] |= shape > 0
    assert np.array_equal(result.mask, expected)
    json.dumps(result.info)                       # the info is plain data (recipes, logs)
    grown = run_op("template_match", image, mask, params={"grow": 2}).mask
    assert grown.sum() > expected.sum() and (grown | ~expected).all()


def test_template_match_threshold_and_max_matches():
    image = _repeats_image()
    x0, y0 = _PATCH_AT[0]
    params = {"x": x0, "y": y0, "width": 12, "height": 12}
    strict = run_op("template_match", image, params={**params, "threshold": 0.999})
    assert {(x, y) for x, y, _ in strict.info["matches"]} == set(_PATCH_AT)
    few = run_op("template_match", image, params={**params, "max_matches": 2})
    assert len(few.info["matches"]) == 2


def test_template_match_explains_what_is_missing():
    image = _repeats_image()
    with pytest.raises(OpError, match="paint a mask"):
        run_op("template_match", image)
    with pytest.raises(OpError, match="outside"):
        run_op("template_match", image, params={"x": 150, "width": 20, "height": 20})
    flat = np.full((50, 50, 3), 0.5, np.float32)
    with pytest.raises(OpError, match="flat"):
        run_op("template_match", flat, params={"width": 10, "height": 10})


# -------------------------------------------------------------------------- find damage


def _flag_stats(proposal: np.ndarray, truth: dict[str, np.ndarray]) -> tuple[dict, float]:
    coverage = {kind: float((proposal & where).sum() / where.sum()) for kind, where in
                truth.items()}
    lines_and_spots = truth["bright scratch"] | truth["dark scratch"] | truth["spots"]
    ring = cv2.dilate(lines_and_spots.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    clean = ~(ring | truth["impulses"])
    return coverage, float((proposal & clean).sum() / proposal.size)


def test_classical_detect_defects_covers_every_kind_and_flags_little_else():
    image, truth = _damage(_photo())
    result = run_op("detect_defects", image, params={"method": "classical", "grow": 0})
    coverage, false_fraction = _flag_stats(result.mask, truth)
    assert all(value >= 0.9 for value in coverage.values()), coverage
    assert false_fraction < 0.005, false_fraction          # the brief asks < 2 %
    assert result.info["scratches"] == 2
    assert result.info["spots"] == 3
    assert result.info["impulse_pixels"] >= 0.9 * truth["impulses"].sum()
    layer = result.layers["damage kinds"]
    assert layer.shape == image.shape
    assert np.allclose(layer[60, 100], (0.2, 1.0, 0.2))       # dark scratch pixel: green
    grown = run_op("detect_defects", image, params=CLASSICAL).mask  # grow 1 default
    assert (grown | ~result.mask).all() and grown.sum() > result.mask.sum()


def test_classical_detect_defects_on_a_clean_photo_proposes_almost_nothing():
    for seed in (0, 3):
        result = run_op("detect_defects", _photo(seed=seed), params=CLASSICAL)
        assert result.mask.mean() < 0.002, (seed, result.info)
        assert result.info["scratches"] == 0


def test_classical_detect_defects_kinds_can_be_switched_off():
    image, truth = _damage(_photo())
    only_lines = run_op("detect_defects", image,
                        params={**CLASSICAL, "impulses": False, "spots": False, "grow": 0})
    assert only_lines.info["impulse_pixels"] == 0 and only_lines.info["spots"] == 0
    assert (only_lines.mask & truth["dark scratch"]).sum() >= 0.9 * truth["dark scratch"].sum()
    assert not (only_lines.mask & truth["spots"]).any()
    with pytest.raises(OpError, match="nothing to look for"):
        run_op("detect_defects", image,
               params={**CLASSICAL, "impulses": False, "scratches": False, "spots": False})


def test_classical_detect_defects_works_on_grey_images():
    image, truth = _damage(_photo())
    gray = image.mean(axis=2, keepdims=True).astype(np.float32)
    result = run_op("detect_defects", gray, params={"method": "classical", "grow": 0})
    coverage, false_fraction = _flag_stats(result.mask, truth)
    assert all(value >= 0.9 for value in coverage.values()), coverage
    assert false_fraction < 0.005
    assert result.layers["damage kinds"].shape == gray.shape


def test_classical_method_is_the_detection_module_unchanged():
    # The op's classical method is engine.ops.detect.defects.detect_defects plus the grow, bit
    # for bit, with every one of its params passed through.
    from engine.core.masks import grow_mask
    from engine.ops.detect.defects import detect_defects

    image, _ = _damage(_photo(seed=2), seed=4)
    params = {"sensitivity": 0.7, "max_spot_size": 6, "min_scratch_length": 20, "grow": 2}
    result = run_op("detect_defects", image, params={**CLASSICAL, **params})
    found = detect_defects(image, sensitivity=0.7, max_spot_size=6, min_scratch_length=20)
    assert np.array_equal(result.mask, grow_mask(found.union(), 2))
    assert result.info["method"] == "classical"
    assert set(result.layers) == {"damage kinds"}
    expected = np.zeros(image.shape, np.float32)
    for where, colour in ((found.impulses, (1.0, 0.2, 0.2)), (found.scratches, (0.2, 1.0, 0.2)),
                          (found.spots, (0.3, 0.5, 1.0))):
        expected[where] = colour
    assert found.scratches.any() and found.spots.any()
    assert np.array_equal(result.layers["damage kinds"], expected)


def test_detect_defects_is_learned_by_default():
    from engine.ops.detect.detect_op import DetectDefectsOp

    spec = {p.name: p for p in DetectDefectsOp.params}
    assert spec["method"].default == "learned"
    assert spec["method"].choices == ("learned", "classical")
    assert spec["sensitivity"].default == 0.5 and spec["grow"].default == 1


def test_detect_ops_are_registered_as_detectors():
    for name, title in (("canny", "Canny edges"), ("template_match", "Find repeats"),
                        ("detect_defects", "Find damage")):
        op = get_op(name)
        assert op.category == "Detect" and op.title == title
    assert get_op("canny").mask_use == "ignore"
    assert get_op("detect_defects").mask_use == "ignore"
    assert get_op("template_match").mask_use == "blend"
    assert not get_op("template_match").needs_mask
