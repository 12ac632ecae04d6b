"""Running ops: the controller on its own (no window), and "Run again" after layers moved."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.document.document import Document
from desktop.document.layer import Layer
from desktop.jobs import JobRunner
from desktop.op_controller import OpController
from desktop.session import Session
from desktop.widgets.ops_panel import OpsPanel
from engine.core.pixels import from_float
from engine.ops import run_op

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


@pytest.mark.parametrize("name", ["actions.py", "file_controller.py", "mask_controller.py",
                                  "op_controller.py", "recipe_controller.py", "session.py",
                                  "step_results.py"])
def test_controllers_do_not_import_the_window(name):
    modules = imported_modules(DESKTOP / name)
    assert modules and "desktop.main_window" not in modules and "desktop.app" not in modules


def striped() -> np.ndarray:
    pixels = np.zeros((24, 32, 3), np.uint8)
    pixels[::2, :, 0] = 200  # a median changes every row
    pixels[:, ::3, 1] = 150
    return pixels


def test_the_controller_runs_ops_without_a_window(qtbot):
    session = Session()
    runner = JobRunner()
    panel = OpsPanel()
    qtbot.addWidget(panel)
    controller = OpController(session, runner, panel)
    messages = []
    session.message.connect(lambda text, _ms: messages.append(text))
    doc = Document([Layer(striped(), name="Original")])
    session.set_document(doc)
    try:
        assert controller.run("median", {"size": 3}) is not None
        qtbot.waitUntil(lambda: len(doc.layers) == 2, timeout=10_000)
    finally:
        runner.shutdown()
    result = doc.layers[1]
    assert result.name == "Median filter" and result.source_id == doc.layers[0].id
    assert result.recipe["params"] == {"size": 3}
    assert messages and messages[-1].startswith("Median filter done")


@pytest.fixture
def two_layers(window):
    base = striped()
    top = np.full((24, 32, 3), 90, np.uint8)
    doc = Document([Layer(base, name="Original"), Layer(top, name="Top")])
    window.set_document(doc)
    return doc


def run_median(qtbot, window, doc, size: int) -> Layer:
    panel = window.ops_panel
    panel.select_op("median")
    panel.form.set_values({"size": size})
    count = len(doc.layers)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == count + 1, timeout=10_000)
    return doc.active_layer


def median_of(layer: Layer, size: int) -> np.ndarray:
    result = run_op("median", layer.colour_float(), None, {"size": size}).image
    return from_float(result, np.uint8)


def test_run_again_uses_the_source_the_result_recorded_after_layers_moved(qtbot, window,
                                                                          two_layers):
    doc = two_layers
    original, top = doc.layers
    doc.active_index = 0
    first = run_median(qtbot, window, doc, 3)
    assert doc.layers == [original, first, top] and first.source_id == original.id
    window.layers_panel.up.click()  # the result moves above "Top": the layer below is "Top"
    assert doc.layers == [original, top, first] and doc.active_layer is first

    window.layers_panel.rerun.click()
    assert doc.active_layer is original  # not the layer below the result
    assert window.ops_panel.form.values() == {"size": 3}
    assert "“Original” selected" in window.statusBar().currentMessage()
    second = run_median(qtbot, window, doc, 5)
    assert doc.layers == [original, second, top, first]
    assert second.source_id == original.id
    np.testing.assert_array_equal(second.pixels, median_of(original, 5))
    assert not np.array_equal(second.pixels, median_of(top, 5))


def test_run_again_says_so_when_the_source_layer_was_deleted(qtbot, window, two_layers,
                                                             dialog_log):
    doc = two_layers
    doc.active_index = 0
    result = run_median(qtbot, window, doc, 3)
    doc.remove_layer(0)  # the source goes
    doc.active_index = doc.index_of(result)
    window.ops_panel.select_op("gaussian")
    window.layers_panel.rerun.click()
    title, text = dialog_log.messages[-1][1:]
    assert title == "Run again: the source layer is gone"
    assert "“Median filter” was made from a layer that is no longer in this document" in text
    assert window.ops_panel.current_op().name == "median"  # the recipe is loaded anyway
    assert doc.active_layer is result  # nothing was guessed
    doc.undo()  # the deletion is undone: the very layer is back and Run again finds it
    window.layers_panel.rerun.click()
    assert doc.active_layer.name == "Original"


def test_run_again_of_a_layer_without_a_source_record_picks_the_layer_below(window, two_layers):
    doc = two_layers
    old = Layer(striped(), name="Old result", recipe={"op": "median", "params": {"size": 7},
                                                      "engine": "0"})
    doc.add_layer(old, 2)  # as read from a session saved before layers recorded their source
    window.layers_panel.rerun.click()
    assert doc.active_layer.name == "Top"
    assert "does not record its source" in window.statusBar().currentMessage()


def test_preview_box_is_centred_on_the_mask_and_kept_inside_the_image():
    from desktop.op_controller import preview_box

    assert preview_box((600, 800), None) == (slice(172, 428), slice(272, 528))
    mask = np.zeros((600, 800), bool)
    mask[10:20, 780:790] = True                       # a corner: the crop stays inside
    assert preview_box((600, 800), mask) == (slice(0, 256), slice(544, 800))
    assert preview_box((100, 50), None) == (slice(0, 100), slice(0, 50))


def test_preview_shows_a_crop_before_and_after_and_adds_nothing(qtbot):
    session = Session()
    runner = JobRunner()
    panel = OpsPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 800)
    controller = OpController(session, runner, panel)
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[::2, :, 0] = 200
    doc = Document([Layer(pixels, name="Original")])
    session.set_document(doc)
    doc.apply_mask_edit("rect", x0=300, y0=100, x1=340, y1=140)
    history = doc.history.entries()
    shown = []
    panel_show = panel.show_preview
    panel.show_preview = lambda image: (shown.append(image), panel_show(image))
    try:
        panel.select_op("median")
        assert panel.preview_button.isEnabled()
        job = controller.preview("median", {"size": 3})
        assert job is not None and job.image.shape == (256, 256, 3)
        qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    finally:
        runner.shutdown()
    before_after = shown[-1]
    assert before_after.shape == (256, 2 * 256 + 4, 3)
    before, after = before_after[:, :256], before_after[:, 260:]
    # The crop is centred on the mask (x 320 → columns 144..400, rows 0..256 inside 300).
    assert np.array_equal(before, pixels[0:256, 144:400].astype(np.float32) / 255)
    inside = np.zeros((256, 256), bool)
    inside[100:140, 156:196] = True
    assert not np.allclose(after[inside], before[inside])          # the median ran in the mask
    assert np.array_equal(after[~inside], before[~inside])         # and only there
    assert len(doc.layers) == 1 and not panel.preview.isHidden()
    assert "before | after" in panel.status.text()
    assert doc.history.entries() == history                         # nothing to undo


def test_preview_is_off_for_ops_that_make_a_new_image(qtbot):
    panel = OpsPanel()
    qtbot.addWidget(panel)
    panel.select_op("texture_gan")
    assert not panel.preview_button.isEnabled()
    panel.select_op("denoise")
    assert panel.preview_button.isEnabled()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_upscaled_photo_opens_as_a_new_document_at_its_size_with_its_alpha(qtbot, dtype):
    session = Session()
    runner = JobRunner()
    panel = OpsPanel()
    qtbot.addWidget(panel)
    controller = OpController(session, runner, panel)
    opened = []
    controller.document_generated.connect(opened.append)
    top = np.iinfo(dtype).max
    alpha = np.zeros((24, 32, 1), dtype)
    alpha[6:18, 8:24] = top
    colour = striped().astype(dtype) * (257 if dtype == np.uint16 else 1)
    doc = Document([Layer(np.concatenate([colour, alpha], axis=2), name="Original")],
                   bit_depth=8 * np.dtype(dtype).itemsize)
    session.set_document(doc)
    try:
        assert controller.run("upscale", {"scale": 2}) is not None
        qtbot.waitUntil(lambda: bool(opened), timeout=20_000)
    finally:
        runner.shutdown()
    big = opened[0]
    assert big.shape == (48, 64) and len(doc.layers) == 1  # the original is left as it was
    layer = big.layers[0]
    assert layer.has_alpha and layer.source_id == doc.layers[0].id
    assert layer.pixels.dtype == dtype and big.bit_depth == doc.bit_depth
    assert layer.alpha()[24, 32, 0] == top and layer.alpha()[2, 2, 0] == 0
    assert layer.recipe["op"] == "upscale" and layer.recipe["params"]["scale"] == 2
