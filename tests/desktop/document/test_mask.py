"""Tests for desktop.document.mask: brush dabs and lines, stroke patches, whole-mask edits."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.document import TILE, Document, Layer, Mask, MaskPatchEdit


def centre_distance(shape: tuple[int, int], x: float, y: float) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return np.hypot(cols + 0.5 - x, rows + 0.5 - y)


def segment_distance(shape: tuple[int, int], a: tuple[float, float],
                     b: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    px, py = cols + 0.5 - a[0], rows + 0.5 - a[1]
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - t * dx, py - t * dy)


def make_doc(h: int = 96, w: int = 128) -> Document:
    return Document([Layer(np.zeros((h, w, 3), np.uint8), "Original")])


# ----------------------------------------------------------------------------------- dabs

@pytest.mark.parametrize(("x", "y", "radius"), [(40.0, 30.0, 10.0), (50.3, 41.7, 6.5)])
def test_hard_dab_covers_the_disk_within_one_pixel(x, y, radius):
    mask = Mask(80, 100)
    mask.dab(x, y, radius, hardness=1.0)
    d = centre_distance(mask.shape, x, y)
    cov = mask.coverage
    assert (cov[d <= radius - 1] == 255).all()
    assert (cov[d >= radius + 1] == 0).all()
    # the covered area matches the disk's area to within its one-pixel rim
    area = (cov > 127).sum()
    assert abs(area - np.pi * radius**2) < 2 * np.pi * radius


def test_soft_dab_falls_off_from_the_centre():
    mask = Mask(64, 64)
    mask.dab(32.0, 32.0, 20.0, hardness=0.0)
    d = centre_distance(mask.shape, 32.0, 32.0)
    cov = mask.coverage.astype(int)
    assert cov[31:33, 31:33].min() >= 250
    assert (cov[d >= 20.5] == 0).all()
    ring = cov[(d > 9.5) & (d < 10.5)]
    assert ring.min() > 60 and ring.max() < 200  # half way out: half covered
    row = cov[32, 32:]  # going right from the centre
    assert (np.diff(row) <= 0).all() and row[0] > row[15] > row[19]


def test_hardness_between_keeps_a_solid_core():
    mask = Mask(64, 64)
    mask.dab(32.0, 32.0, 20.0, hardness=0.5)
    d = centre_distance(mask.shape, 32.0, 32.0)
    assert (mask.coverage[d <= 10] == 255).all()
    edge = mask.coverage[(d > 15) & (d < 19)]
    assert edge.min() > 0 and edge.max() < 255


def test_painting_keeps_the_maximum_and_erasing_the_minimum():
    mask = Mask(40, 40)
    mask.dab(20.0, 20.0, 12.0, hardness=1.0)
    before = mask.coverage.copy()
    mask.dab(20.0, 20.0, 12.0, hardness=0.0)  # a soft dab on top lowers nothing
    np.testing.assert_array_equal(mask.coverage, before)
    mask.dab(20.0, 20.0, 5.0, hardness=1.0, erase=True)
    d = centre_distance(mask.shape, 20.0, 20.0)
    assert (mask.coverage[d <= 4] == 0).all()
    assert (mask.coverage[(d >= 6) & (d <= 11)] == 255).all()


def test_soft_erase_leaves_partial_coverage():
    mask = Mask(40, 40)
    mask.fill_rect(0, 0, 40, 40)
    mask.dab(20.0, 20.0, 10.0, hardness=0.0, erase=True)
    d = centre_distance(mask.shape, 20.0, 20.0)
    assert mask.coverage[20, 20] <= 5
    middle = mask.coverage[(d > 4.5) & (d < 5.5)]
    assert middle.min() > 40 and middle.max() < 215
    assert (mask.coverage[d >= 10.5] == 255).all()


def test_dab_outside_the_canvas_returns_none_and_clipped_dab_is_clipped():
    mask = Mask(30, 30)
    assert mask.dab(-50.0, -50.0, 5.0, 1.0) is None
    assert mask.dab(float("nan"), 3.0, 5.0, 1.0) is None
    assert mask.line(1.0, 1.0, float("inf"), 3.0, 5.0, 1.0) is None
    assert mask.is_empty()
    rows, cols = mask.dab(0.0, 29.0, 4.0, 1.0)
    assert rows.start >= 0 and rows.stop == 30 and cols.start == 0 and cols.stop <= 5
    assert mask.coverage[29, 0] == 255


def test_dab_rect_is_the_dab_box_not_the_image():
    mask = Mask(4000, 6000)  # a 24-megapixel canvas
    rows, cols = mask.dab(3001.5, 2002.25, 12.0, 0.7)
    assert rows.stop - rows.start <= 2 * 12 + 3 and cols.stop - cols.start <= 2 * 12 + 3
    assert rows.start <= 2002 - 12 and rows.stop >= 2002 + 12
    outside = mask.coverage.copy()
    outside[rows, cols] = 0
    assert not outside.any()  # nothing painted outside the returned rect


# ----------------------------------------------------------------------------------- lines

def test_line_covers_the_swept_capsule_without_beading():
    mask = Mask(80, 120)
    a, b = (10.0, 12.0), (105.0, 66.0)
    rect = mask.line(*a, *b, radius=4.0, hardness=1.0)
    d = segment_distance(mask.shape, a, b)
    assert (mask.coverage[d <= 3] == 255).all()
    assert (mask.coverage[d >= 5] == 0).all()
    rows, cols = rect
    assert rows.start <= 7 and rows.stop >= 71 and cols.start <= 5 and cols.stop >= 110


def test_long_line_is_painted_in_pieces_but_continuously():
    mask = Mask(200, 1500)
    mask.line(5.0, 100.0, 1495.0, 100.0, radius=3.0, hardness=1.0)
    assert (mask.coverage[99:101, 5:1495] == 255).all()
    assert (mask.coverage[:95] == 0).all() and (mask.coverage[105:] == 0).all()


def test_zero_length_line_is_a_dab():
    a, b = Mask(30, 30), Mask(30, 30)
    a.line(15.0, 15.0, 15.0, 15.0, 6.0, 0.3)
    b.dab(15.0, 15.0, 6.0, 0.3)
    np.testing.assert_array_equal(a.coverage, b.coverage)


def test_erasing_line():
    mask = Mask(40, 80)
    mask.fill_rect(0, 0, 80, 40)
    mask.line(10.0, 20.0, 70.0, 20.0, 3.0, 1.0, erase=True)
    assert (mask.coverage[19:21, 10:70] == 0).all()
    assert (mask.coverage[:15] == 255).all() and (mask.coverage[26:] == 255).all()


# ----------------------------------------------------------------------------------- strokes

def touched_tiles(rects, shape):
    tiles = set()
    for rows, cols in rects:
        for ty in range(rows.start // TILE, (rows.stop - 1) // TILE + 1):
            for tx in range(cols.start // TILE, (cols.stop - 1) // TILE + 1):
                tiles.add((ty, tx))
    return tiles


def test_stroke_edit_stores_only_the_touched_tiles():
    mask = Mask(4000, 6000)
    mask.begin_stroke()
    rects = [mask.dab(1000.0 + 7 * i, 1500.0 + 3 * i, 10.0, 1.0) for i in range(30)]
    edit = mask.end_stroke()
    assert isinstance(edit, MaskPatchEdit)
    tiles = touched_tiles(rects, mask.shape)
    assert len(edit.tiles) == len(tiles) <= 12
    # before + after per tile, plus a small constant: nothing proportional to the image
    assert edit.nbytes <= 2 * TILE * TILE * len(tiles) + 1024
    assert edit.nbytes < mask.coverage.nbytes / 100


def test_end_stroke_without_change_is_none():
    mask = Mask(50, 50)
    mask.begin_stroke()
    mask.dab(20.0, 20.0, 5.0, 1.0, erase=True)  # erasing nothing
    assert mask.end_stroke() is None
    assert mask.end_stroke() is None  # no stroke at all


def test_stroke_undo_redo_restores_exact_coverage():
    doc = make_doc(150, 200)
    doc.apply_mask_edit("rect", x0=100, y0=100, x1=180, y1=140)
    doc.mask.begin_stroke()
    doc.mask.line(10.0, 10.0, 150.0, 120.0, 9.0, 0.4)
    doc.mask.line(150.0, 120.0, 190.0, 20.0, 9.0, 0.4, erase=True)
    edit = doc.mask.end_stroke()
    after = doc.mask.snapshot()
    doc.mask_stroke_finished(edit)
    doc.undo()
    before = doc.mask.snapshot()
    expected = np.zeros((150, 200), np.uint8)
    expected[100:140, 100:180] = 255
    np.testing.assert_array_equal(before, expected)
    doc.redo()
    np.testing.assert_array_equal(doc.mask.coverage, after)
    assert doc.history.entries() == ["Rectangle", "Paint mask"]


def test_cancel_stroke_reverts_it_whole():
    mask = Mask(100, 100)
    mask.fill_rect(0, 0, 30, 30)
    before = mask.snapshot()
    mask.begin_stroke()
    mask.line(5.0, 5.0, 95.0, 95.0, 6.0, 0.5)
    mask.cancel_stroke()
    np.testing.assert_array_equal(mask.coverage, before)
    assert not mask.in_stroke


def test_mask_events_report_the_dirty_rect():
    doc = make_doc()
    seen = []
    doc.events.connect("mask", seen.append)
    rect = doc.mask.dab(40.0, 40.0, 5.0, 1.0)
    assert seen == [rect]
    doc.mask_stroke_finished(doc.mask.end_stroke())
    seen.clear()
    doc.undo()
    assert len(seen) == 1 and seen[0] is not None
    rows, cols = seen[0]
    assert rows.start <= 35 and rows.stop >= 45 and cols.start <= 35 and cols.stop >= 45


def test_whole_mask_edit_during_a_stroke():
    doc = make_doc()
    doc.mask.begin_stroke()
    doc.mask.dab(20.0, 20.0, 5.0, 1.0)
    with pytest.raises(RuntimeError, match="stroke"):
        doc.mask.invert()
    # through the document the stroke is finished and pushed first
    doc.apply_mask_edit("invert")
    assert doc.history.entries() == ["Paint mask", "Invert mask"]
    doc.undo()
    assert doc.mask.coverage[20, 20] == 255 and doc.mask.coverage[80, 100] == 0


# ------------------------------------------------------------------------------ whole-mask edits

def check_undoable(doc: Document, kind: str, **kw) -> tuple[np.ndarray, np.ndarray]:
    before = doc.mask.snapshot()
    edit = doc.apply_mask_edit(kind, **kw)
    assert edit is not None
    after = doc.mask.snapshot()
    assert not np.array_equal(before, after)
    doc.undo()
    np.testing.assert_array_equal(doc.mask.coverage, before)
    doc.redo()
    np.testing.assert_array_equal(doc.mask.coverage, after)
    return before, after


def test_rect_fills_pixels_whose_centres_are_inside():
    doc = make_doc()
    _, after = check_undoable(doc, "rect", x0=12, y0=30, x1=4, y1=20)  # corners in any order
    expected = np.zeros_like(after)
    expected[20:30, 4:12] = 255
    np.testing.assert_array_equal(after, expected)


def test_lasso_polygon_fills_and_erases():
    doc = make_doc()
    _, after = check_undoable(doc, "polygon", points=[(10, 10), (60, 10), (60, 40), (10, 40)])
    assert (after[11:39, 11:59] == 255).all()
    outside = after.copy()
    outside[9:41, 9:61] = 0
    assert not outside.any()
    assert abs(int((after > 0).sum()) - 50 * 30) <= 2 * (50 + 30)
    # a triangle: the centroid is in, the far corner of its box is out
    doc.apply_mask_edit("clear")
    doc.apply_mask_edit("lasso", points=[(70.0, 10.0), (120.0, 10.0), (70.0, 80.0)])
    assert doc.mask.coverage[30, 85] == 255 and doc.mask.coverage[75, 115] == 0
    # value 0 erases inside the polygon
    check_undoable(doc, "polygon", points=[(60, 0), (128, 0), (128, 96), (60, 96)], value=0)
    assert not doc.mask.coverage[:, 61:].any()


def test_invert_is_exact_and_stores_no_pixels():
    doc = make_doc()
    doc.mask.dab(30.0, 30.0, 8.0, 0.0)
    doc.mask_stroke_finished(doc.mask.end_stroke())
    before, after = check_undoable(doc, "invert")
    np.testing.assert_array_equal(after, 255 - before)
    assert doc.history.edits()[-1].nbytes < 1024


def test_clear_and_grow_and_shrink_and_feather_are_undoable():
    doc = make_doc()
    doc.apply_mask_edit("rect", x0=40, y0=30, x1=60, y1=50)
    # grow: a Euclidean disk around every covered pixel
    _, grown = check_undoable(doc, "grow", px=3)
    reference = np.zeros((96, 128), bool)
    reference[30:50, 40:60] = True
    rows, cols = np.mgrid[0:96, 0:128]
    dy = np.maximum(np.maximum(30 - rows, rows - 49), 0)
    dx = np.maximum(np.maximum(40 - cols, cols - 59), 0)
    np.testing.assert_array_equal(grown > 0, np.hypot(dx, dy) <= 3)
    doc.undo()
    # shrink: 2 px off each side
    _, shrunk = check_undoable(doc, "shrink", px=2)
    expected = np.zeros((96, 128), np.uint8)
    expected[32:48, 42:58] = 255
    np.testing.assert_array_equal(shrunk, expected)
    doc.undo()
    # feather: the edge softens both ways, the mass stays, far pixels stay 0
    before, feathered = check_undoable(doc, "feather", px=4)
    assert feathered[40, 50] == 255
    assert 0 < feathered[40, 40] < 255 and 0 < feathered[40, 38] < 128
    assert not feathered[:20].any() and not feathered[:, :30].any()
    assert abs(int(feathered.astype(int).sum()) - int(before.astype(int).sum())) < 0.02 * 255 * 400
    # clear
    _, cleared = check_undoable(doc, "clear")
    assert not cleared.any()


def test_shrink_does_not_eat_in_from_the_canvas_edge():
    doc = make_doc(40, 40)
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=20, y1=40)
    doc.apply_mask_edit("shrink", px=3)
    expected = np.zeros((40, 40), np.uint8)
    expected[:, :17] = 255
    np.testing.assert_array_equal(doc.mask.coverage, expected)


def test_grow_of_a_single_pixel_is_a_disk():
    doc = make_doc(40, 40)
    doc.apply_mask_edit("rect", x0=20, y0=20, x1=21, y1=21)
    assert doc.mask.coverage.sum() == 255
    doc.apply_mask_edit("grow", px=3)
    assert (doc.mask.coverage > 0).sum() == 29  # lattice points with x² + y² <= 9


def test_replace_edit_stores_only_the_changed_box():
    doc = make_doc(400, 600)
    doc.apply_mask_edit("rect", x0=100, y0=100, x1=110, y1=105)
    edit = doc.history.edits()[-1]
    assert edit.before.shape == (5, 10) and edit.nbytes < 1024


def test_set_from_bool_and_add():
    doc = make_doc(20, 30)
    first = np.zeros((20, 30), bool)
    first[2:5, 3:9] = True
    second = np.zeros((20, 30), bool)
    second[10:12, 20:25] = True
    check_undoable(doc, "set", mask=first)
    np.testing.assert_array_equal(doc.mask.as_bool(), first)
    check_undoable(doc, "set", mask=second, add=True)
    np.testing.assert_array_equal(doc.mask.as_bool(), first | second)
    check_undoable(doc, "set", mask=second)
    np.testing.assert_array_equal(doc.mask.as_bool(), second)


def test_edits_that_change_nothing_push_nothing():
    doc = make_doc()
    assert doc.apply_mask_edit("clear") is None
    assert doc.apply_mask_edit("grow", px=4) is None
    assert doc.apply_mask_edit("feather", px=4) is None
    assert doc.apply_mask_edit("polygon", points=[(1, 1), (2, 2)]) is None
    assert doc.history.entries() == [] and not doc.dirty
    with pytest.raises(ValueError, match="unknown mask edit"):
        doc.apply_mask_edit("explode")


def test_as_bool_is_coverage_above_zero():
    mask = Mask(10, 10)
    mask.dab(5.0, 5.0, 3.0, 0.0)
    np.testing.assert_array_equal(mask.as_bool(), mask.coverage > 0)
    assert not mask.is_empty() and Mask(3, 3).is_empty()
