"""Tests for desktop.document.document: layer edits, result layers, merge, dirty flag, events."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from desktop.document import Document, Layer, open_document
from engine import io
from engine.core.pixels import from_float, to_float
from engine.core.recipe import Recipe

RNG = np.random.default_rng(7)


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w, c), endpoint=True, dtype=dtype)


def make_doc(*layers: np.ndarray, **kw) -> Document:
    if not layers:
        layers = (noise(48, 64, 3),)
    return Document([Layer(px, f"L{i}") for i, px in enumerate(layers)], **kw)


class Recorder:
    def __init__(self, doc: Document) -> None:
        self.events: list[tuple] = []
        for name in ("layers", "layer_pixels", "mask", "dirty", "history", "active"):
            doc.events.connect(name, lambda *args, _name=name: self.events.append((_name, *args)))

    def names(self) -> list[str]:
        return [event[0] for event in self.events]

    def clear(self) -> None:
        self.events.clear()


# ------------------------------------------------------------------------------ construction

def test_document_checks_its_layers():
    with pytest.raises(ValueError, match="at least one layer"):
        Document([])
    with pytest.raises(ValueError, match="64×48"):
        Document([Layer(noise(48, 64, 3), "a"), Layer(noise(40, 64, 3), "b")])
    doc = make_doc()
    assert (doc.width, doc.height, doc.active_index, doc.title) == (64, 48, 0, "Untitled")
    assert not doc.dirty and doc.mask.shape == (48, 64)


def test_open_document_reads_an_image_file(tmp_path):
    px = noise(20, 30, 4, np.uint16)
    path = io.save(tmp_path / "photo.png", px)
    doc = open_document(path)
    assert doc.layers[0].name == "Original" and doc.bit_depth == 16
    np.testing.assert_array_equal(doc.layers[0].pixels, px)
    assert doc.source_path == path and doc.title == "photo.png" and doc.save_path is None


# ------------------------------------------------------------------------------ dirty flag

def test_dirty_flag_follows_edits_save_and_undo():
    doc = make_doc()
    seen = []
    doc.events.connect("dirty", seen.append)
    doc.mask.dab(10.0, 10.0, 4.0, 1.0)
    doc.mask_stroke_finished(doc.mask.end_stroke())
    assert doc.dirty and seen == [True]
    doc.mark_saved("/tmp/x.ora")
    assert not doc.dirty and seen == [True, False]
    assert doc.title == "x.ora" and str(doc.save_path) == "/tmp/x.ora"
    doc.undo()
    assert doc.dirty and seen[-1] is True
    doc.redo()
    assert not doc.dirty and seen[-1] is False
    doc.set_layer_props(0, visible=False)
    assert doc.dirty
    doc.mark_unsaved()
    doc.undo()
    assert doc.dirty  # the saved state was forgotten


def test_undo_during_a_stroke_finishes_and_undoes_it():
    doc = make_doc()
    doc.mask.begin_stroke()
    doc.mask.dab(10.0, 10.0, 4.0, 1.0)
    assert doc.undo()
    assert doc.mask.is_empty() and doc.history.can_redo and not doc.mask.in_stroke


# ------------------------------------------------------------------------------ layer edits

def test_add_remove_move_props_duplicate_are_undoable_with_one_event_each():
    doc = make_doc(noise(16, 16, 3), noise(16, 16, 3))
    rec = Recorder(doc)
    bottom, top = doc.layers
    extra = Layer(noise(16, 16, 1), "extra")
    doc.active_index = 0
    rec.clear()
    doc.add_layer(extra)  # above the active layer
    assert doc.layers == [bottom, extra, top] and doc.active_index == 1
    assert rec.names() == ["layers", "active", "history", "dirty"]
    rec.clear()
    doc.move_layer(1, 2)
    assert doc.layers == [bottom, top, extra] and doc.active_index == 2
    doc.set_layer_props(2, name="moved", visible=False, opacity=0.25)
    assert (extra.name, extra.visible, extra.opacity) == ("moved", False, 0.25)
    copy = doc.duplicate_layer(0)
    assert doc.layers == [bottom, copy, top, extra] and copy.pixels is bottom.pixels
    assert copy.id != bottom.id and copy.name == "L0 copy"
    doc.remove_layer(0)
    assert doc.layers == [copy, top, extra]
    assert rec.names().count("layers") == 4 and rec.names().count("history") == 4
    for _ in range(5):
        doc.undo()
    assert doc.layers == [bottom, top] and not doc.dirty
    assert (extra.name, extra.visible, extra.opacity) == ("extra", True, 1.0)
    for _ in range(5):
        doc.redo()
    assert doc.layers == [copy, top, extra]
    assert (extra.name, extra.visible, extra.opacity) == ("moved", False, 0.25)


def test_an_edit_group_is_one_undo_step_with_one_history_event():
    doc = make_doc(noise(16, 16, 3))
    rec = Recorder(doc)
    base = doc.layers[0]
    with doc.edit_group("Restore"):
        doc.apply_mask_edit("rect", x0=2, y0=2, x1=8, y1=8)
        with doc.edit_group("inner joins the outer group"):
            first = doc.add_layer(Layer(noise(16, 16, 3), "first"))
        second = doc.add_layer(Layer(noise(16, 16, 3), "second"))
    assert doc.history.entries() == ["Restore"] and rec.names().count("history") == 1
    assert doc.layers == [base, first, second] and doc.dirty
    doc.undo()
    assert doc.layers == [base] and doc.mask.is_empty() and not doc.dirty
    doc.redo()
    assert doc.layers == [base, first, second] and doc.mask.coverage[2:8, 2:8].all()


def test_an_edit_group_that_raises_is_undone_and_not_recorded():
    doc = make_doc(noise(16, 16, 3))
    base = doc.layers[0]
    with pytest.raises(ValueError, match="no layer below"), doc.edit_group("Broken"):
        doc.add_layer(Layer(noise(16, 16, 3), "kept?"))
        doc.apply_mask_edit("rect", x0=0, y0=0, x1=4, y1=4)
        doc.merge_down(0)
    assert doc.layers == [base] and doc.mask.is_empty() and doc.history.entries() == []
    with doc.edit_group("Nothing"):
        pass
    assert doc.history.entries() == []


def test_layer_edit_errors():
    doc = make_doc()
    with pytest.raises(ValueError, match="at least one layer"):
        doc.remove_layer(0)
    with pytest.raises(IndexError):
        doc.move_layer(0, 3)
    with pytest.raises(ValueError, match="document is 64×48"):
        doc.add_layer(Layer(noise(10, 10, 3), "small"))
    with pytest.raises(ValueError, match="no layer below"):
        doc.merge_down(0)
    assert doc.set_layer_props(0, name="L0", opacity=1.0) is None
    assert doc.move_layer(0, 0) is None and doc.history.entries() == []


def test_set_layer_pixels_emits_and_undoes():
    doc = make_doc()
    rec = Recorder(doc)
    old = doc.layers[0].pixels
    new = noise(48, 64, 3)
    doc.set_layer_pixels(0, new)
    np.testing.assert_array_equal(doc.layers[0].pixels, new)
    assert ("layer_pixels", doc.layers[0].id, None) in rec.events
    doc.undo()
    assert doc.layers[0].pixels is old


# ------------------------------------------------------------------------------ result layers

def recipe() -> dict:
    return Recipe("gaussian_blur", {"sigma": 2.0}).to_dict()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_result_layer_with_a_hard_mask(dtype):
    source = noise(40, 50, 3, dtype)
    doc = make_doc(source, noise(40, 50, 3, dtype))
    result = RNG.random((40, 50, 3), dtype=np.float32)
    mask = np.zeros((40, 50), bool)
    mask[10:20, 5:25] = True
    layer = doc.add_result_layer(0, result, recipe(), mask, name="Blur")
    assert doc.layers[1] is layer and doc.active_index == 1 and len(doc.layers) == 3
    assert layer.pixels.dtype == dtype and layer.name == "Blur"
    np.testing.assert_array_equal(layer.pixels[~mask], source[~mask])
    np.testing.assert_array_equal(layer.pixels[mask], from_float(result, dtype)[mask])
    assert layer.recipe["mask_bbox"] == [5, 10, 25, 20]
    assert layer.recipe["op"] == "gaussian_blur" and layer.recipe["params"] == {"sigma": 2.0}
    assert doc.history.entries() == ["Add result “Blur”"]
    doc.undo()
    assert len(doc.layers) == 2 and layer not in doc.layers


def test_result_layer_with_a_soft_mask_blends_by_coverage():
    source = noise(40, 50, 3, np.uint16)
    doc = make_doc(source)
    doc.mask.dab(25.0, 20.0, 12.0, hardness=0.0)
    coverage = doc.mask.snapshot()
    result = np.full((40, 50, 3), 0.5, np.float32)
    layer = doc.add_result_layer(0, result, recipe(), coverage, name="Fill")
    outside = coverage == 0
    np.testing.assert_array_equal(layer.pixels[outside], source[outside])  # bit-identical
    weight = coverage.astype(np.float64)[:, :, None] / 255
    expected = to_float(source) + (0.5 - to_float(source)) * weight
    got = to_float(layer.pixels)
    assert np.abs(got - expected)[~outside].max() < 1e-4
    assert layer.pixels.dtype == np.uint16
    centre = coverage == 255
    assert centre.any() and np.abs(got[centre] - 0.5).max() < 1e-4


def test_result_layer_keeps_the_source_alpha():
    source = noise(30, 30, 4, np.uint8)
    doc = make_doc(source)
    mask = np.zeros((30, 30), bool)
    mask[5:15, 5:15] = True
    layer = doc.add_result_layer(0, np.zeros((30, 30, 3), np.float32), recipe(), mask, name="Zero")
    assert layer.has_alpha
    np.testing.assert_array_equal(layer.alpha(), source[:, :, 3:])
    np.testing.assert_array_equal(layer.pixels[~mask], source[~mask])
    assert (layer.pixels[mask][:, :3] == 0).all()


def test_result_layer_without_mask_and_with_gray_source():
    source = noise(20, 24, 1, np.uint8)
    doc = make_doc(source)
    result = RNG.random((20, 24, 3), dtype=np.float32)  # an op that colourises
    layer = doc.add_result_layer(doc.layers[0], result, recipe(), None, name="Colour")
    assert layer.channels == 3 and layer.recipe["mask_bbox"] is None
    np.testing.assert_array_equal(layer.pixels, from_float(result, np.uint8))
    mask = np.zeros((20, 24), bool)
    mask[:5] = True
    gray_result = doc.add_result_layer(0, result, recipe(), mask, name="Colour")
    np.testing.assert_array_equal(gray_result.pixels[5:], np.repeat(source[5:], 3, axis=2))
    assert doc.layers.index(gray_result) == 1  # directly above the source, below the first one


def test_result_layer_errors():
    doc = make_doc()
    with pytest.raises(ValueError, match="open it as a new document"):
        doc.add_result_layer(0, np.zeros((10, 10, 3), np.float32), recipe(), name="R")
    with pytest.raises(ValueError, match="mask is empty"):
        doc.add_result_layer(0, np.zeros((48, 64, 3), np.float32), recipe(),
                             np.zeros((48, 64), bool), name="R")
    with pytest.raises(TypeError, match="float32"):
        doc.add_result_layer(0, np.zeros((48, 64, 3), np.float64), recipe(), name="R")
    gone = doc.layers[0].copy()
    with pytest.raises(ValueError, match="no longer in the document"):
        doc.add_result_layer(gone, np.zeros((48, 64, 3), np.float32), recipe(), name="R")


def test_result_layer_records_its_source_and_takes_the_callers_name():
    doc = make_doc(noise(48, 64, 3), noise(48, 64, 3))
    source = doc.layers[0]
    image = np.zeros((48, 64, 3), np.float32)
    layer = doc.add_result_layer(source, image, Recipe("no_such_op").to_dict(), name="My title")
    assert layer.name == "My title" and layer.source_id == source.id
    assert doc.layers.index(layer) == 1
    doc.move_layer(0, 2)  # the source moves to the top: the record still names it
    assert doc.index_of(layer.source_id) == 2
    copy = doc.duplicate_layer(doc.index_of(layer))
    assert copy.source_id == source.id  # a copy of a result has the same source
    merged = doc.merge_down(doc.index_of(copy))
    assert merged.recipe is None and merged.source_id is None  # no longer one op's result
    assert doc.layers[0].source_id is None  # not a result


def test_the_document_model_does_not_import_the_op_registry():
    """Layer names come from whoever ran the op; the model knows nothing of ops."""
    package = Path(__file__).resolve().parents[3] / "desktop" / "document"
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                imported.update((path.name, alias.name) for alias in node.names)
    assert len(imported) > 20
    assert [(name, module) for name, module in imported
            if module.startswith(("engine.ops", "engine.core.recipe"))] == []


# ------------------------------------------------------------------------------ merge down

def test_merge_down_composites_with_opacity_and_undoes():
    lower = np.full((10, 12, 3), [200, 100, 0], np.uint8)
    upper = np.full((10, 12, 3), [0, 100, 250], np.uint8)
    doc = make_doc(lower, upper)
    doc.set_layer_props(1, opacity=0.4)
    doc.set_layer_props(0, opacity=0.8, name="base")
    bottom, top = doc.layers
    merged = doc.merge_down(1)
    assert doc.layers == [merged] and merged.name == "base" and merged.opacity == 0.8
    expected = np.array([200 * 0.6, 100, 250 * 0.4])
    assert np.abs(merged.pixels.astype(float) - expected).max() <= 0.5
    assert not merged.has_alpha and merged.recipe is None
    doc.undo()
    assert doc.layers == [bottom, top] and doc.active_index == 1


def test_merge_down_of_a_hidden_layer_keeps_the_look_and_promotes_depth():
    lower = noise(8, 8, 1, np.uint8)
    upper = noise(8, 8, 3, np.uint16)
    doc = make_doc(lower, upper)
    doc.set_layer_props(1, visible=False)
    merged = doc.merge_down(1)
    assert merged.pixels.dtype == np.uint16 and merged.channels == 1
    np.testing.assert_array_equal(merged.pixels, lower.astype(np.uint16) * 257)


def test_merge_down_onto_transparent_keeps_alpha():
    lower = np.zeros((6, 6, 4), np.uint8)
    lower[:3, :, :] = [255, 0, 0, 255]  # top half opaque red, bottom half transparent
    upper = np.zeros((6, 6, 4), np.uint8)
    upper[:, :3, :] = [0, 0, 255, 128]  # left half half-transparent blue
    doc = make_doc(lower, upper)
    merged = doc.merge_down(1)
    px = merged.pixels.astype(int)
    assert merged.has_alpha
    assert px[0, 5].tolist() == [255, 0, 0, 255]  # red alone
    assert px[5, 5, 3] == 0  # nothing anywhere
    assert px[5, 0].tolist() == [0, 0, 255, 128]  # blue over nothing
    assert abs(px[0, 0, 0] - 127) <= 1 and abs(px[0, 0, 2] - 128) <= 1 and px[0, 0, 3] == 255


def test_composite_float_of_the_document():
    doc = make_doc(np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8))
    doc.set_layer_props(1, opacity=0.25)
    colour, alpha = doc.composite_float(slice(1, 3), slice(0, 2))
    assert colour.shape == (2, 2, 3) and alpha is None
    np.testing.assert_allclose(colour, 0.75, atol=1e-6)


def test_from_float_document():
    image = RNG.random((9, 7, 1), dtype=np.float32)
    doc = Document.from_float(image, name="Texture", bit_depth=16, recipe=recipe())
    assert doc.layers[0].pixels.dtype == np.uint16 and doc.layers[0].recipe["op"]
    np.testing.assert_allclose(doc.layers[0].colour_float(), image, atol=1e-5)
