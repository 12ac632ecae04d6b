"""The layers and history panels: every edit goes through the document and is undoable."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.document.document import Document
from desktop.document.layer import Layer


@pytest.fixture
def doc():
    base = np.zeros((24, 32, 3), np.uint8)
    base[:, :, 0] = 200
    top = np.zeros((24, 32, 3), np.uint8)
    top[:, :, 2] = 100
    return Document([Layer(base, name="Original"), Layer(top, name="Top")])


@pytest.fixture
def panels(window, doc):
    window.set_document(doc)
    return window.layers_panel, window.history_panel


def rows(panel):
    items = [panel.list.item(i) for i in range(panel.list.count())]
    return [(item.text(), item.checkState() == Qt.CheckState.Checked) for item in items]


def test_shows_top_first_and_selects_the_active_layer(panels, doc):
    layers, _history = panels
    assert rows(layers) == [("Top", True), ("Original", True)]
    assert layers.list.currentRow() == 0
    layers.list.setCurrentRow(1)
    assert doc.active_index == 0
    assert doc.history.entries() == []  # selecting is not an edit


def test_visibility_checkbox_is_undoable(window, panels, doc):
    layers, _history = panels
    layers.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert doc.layers[1].visible is False
    assert window.scene.layers.item(doc.layers[1].id) is None  # hidden: no canvas item
    assert doc.history.entries() == ["Hide layer “Top”"]
    doc.undo()
    assert doc.layers[1].visible is True and rows(layers)[0] == ("Top", True)
    assert window.scene.layers.item(doc.layers[1].id) is not None


def test_opacity_slider_merges_into_one_undo_step(window, panels, doc):
    layers, _history = panels
    for value in (90, 70, 40):
        layers.opacity.setValue(value)
    assert doc.layers[1].opacity == pytest.approx(0.4)
    assert window.scene.layers.item(doc.layers[1].id).opacity() == pytest.approx(0.4)
    assert len(doc.history.entries()) == 1
    doc.undo()
    assert doc.layers[1].opacity == 1.0 and layers.opacity.value() == 100


def test_rename_by_editing_the_row(panels, doc):
    layers, _history = panels
    layers.list.item(0).setText("Repaired sky")
    assert doc.layers[1].name == "Repaired sky"
    doc.undo()
    assert doc.layers[1].name == "Top" and rows(layers)[0][0] == "Top"


def test_merge_down_duplicate_delete_and_move(window, panels, doc):
    layers, _history = panels
    top_pixels = doc.layers[1].pixels.copy()
    layers.opacity.setValue(50)
    layers.merge.click()
    assert [layer.name for layer in doc.layers] == ["Original"]
    merged = doc.layers[0].pixels
    # 50 % blue over red: red and blue at half strength each.
    assert tuple(merged[0, 0]) == (100, 0, 50)
    doc.undo()
    assert [layer.name for layer in doc.layers] == ["Original", "Top"]
    assert np.array_equal(doc.layers[1].pixels, top_pixels)

    layers.duplicate.click()
    assert [layer.name for layer in doc.layers] == ["Original", "Top", "Top copy"]
    layers.list.setCurrentRow(0)  # "Top copy"
    layers.down.click()
    assert [layer.name for layer in doc.layers] == ["Original", "Top copy", "Top"]
    layers.delete.click()
    assert [layer.name for layer in doc.layers] == ["Original", "Top"]
    for _ in range(3):
        doc.undo()
    assert [layer.name for layer in doc.layers] == ["Original", "Top"]
    assert len(window.scene.layers.items()) == 2


def test_history_panel_rows_and_goto(window, panels, doc):
    layers, history = panels
    layers.duplicate.click()
    layers.list.item(0).setText("Copy")
    assert [history.list.item(i).text() for i in range(history.list.count())] == [
        "Opened", "Duplicate layer “Top”", "Rename layer “Top copy” to “Copy”"]
    assert history.list.currentRow() == 2
    history.list.setCurrentRow(0)
    assert [layer.name for layer in doc.layers] == ["Original", "Top"]
    history.list.setCurrentRow(2)
    assert [layer.name for layer in doc.layers] == ["Original", "Top", "Copy"]
    assert window.act["undo"].isEnabled() and not window.act["redo"].isEnabled()


def test_run_again_loads_recipe_and_selects_the_source(window, panels, doc, qtbot):
    layers, _history = panels
    recipe = {"op": "median", "params": {"size": 7}, "engine": "0"}
    doc.add_result_layer(1, doc.layers[1].colour_float(), recipe, name="Median filter")
    assert doc.active_index == 2 and layers.rerun.isEnabled()
    layers.rerun.click()
    assert window.ops_panel.current_op().name == "median"
    assert window.ops_panel.form.values() == {"size": 7}
    assert doc.active_index == 1  # the source of the result
    qtbot.mouseClick(window.ops_panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == 4, timeout=10_000)
    assert doc.layers[2].recipe["params"] == {"size": 7} and doc.layers[2].name == "Median filter"
