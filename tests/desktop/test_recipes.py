"""Multi-step recipes in the real window: each step lands editable, in one undo step, off the
GUI thread, with progress, Cancel and the skipped steps reported."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine import io
from engine.core.pixels import to_float
from engine.ops import Op, OpError, OpResult, register, run_op

RESTORE = {"name": "Restore (test)", "steps": [
    {"op": "detect_defects", "params": {}},
    {"op": "inpaint", "params": {"method": "telea"}, "mask": "proposal"},
    {"op": "median", "params": {"size": 3}, "mask": "none"}]}


@register
class SlowStepOp(Op):
    """Test-only: loops until cancelled (at most 20 s); records if it ran on the GUI thread."""

    name = "slow_step_test"
    title = "Slow step (test)"
    category = "Tests"
    threads: list[bool] = []

    def run(self, image, mask, params, progress, cancel, device):
        SlowStepOp.threads.append(threading.current_thread() is threading.main_thread())
        end = time.monotonic() + 20
        while time.monotonic() < end:
            cancel.raise_if_cancelled()
            progress(0.5, "working")
            time.sleep(0.01)
        return OpResult(image=image.copy())


@register
class FailingStepOp(Op):
    """Test-only: a step that always fails with a message a person can act on."""

    name = "failing_step_test"
    title = "Failing step (test)"
    category = "Tests"

    def run(self, image, mask, params, progress, cancel, device):
        raise OpError("this step always fails (test)")


def scratched_photo(height: int = 96, width: int = 128) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """A smooth uint8 photo, the same with a thin bright diagonal scratch, and the scratch."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.3 + 0.4 * x / width, 0.25 + 0.4 * y / height,
                      0.45 + 0.15 * np.sin(x / 11.0) * np.cos(y / 9.0)], -1)
    clean = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    scratch = np.zeros((height, width), bool)
    for t in np.linspace(0, 1, 400):
        scratch[int(10 + t * 70), int(15 + t * 95)] = True
    damaged = clean.copy()
    damaged[scratch] = 248
    return clean, damaged, scratch


def write_recipe(tmp_path: Path, recipe: dict, name: str = "recipe.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(recipe), encoding="utf-8")
    return path


def open_image(window, tmp_path: Path, pixels: np.ndarray):
    path = tmp_path / "old-photo.png"
    io.save(path, pixels)
    assert window.files.open_path(path)
    return window.document


def wait_idle(qtbot, window, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=timeout)


def test_restore_lands_each_step_as_an_editable_layer_in_one_undo_step(qtbot, window,
                                                                       tmp_path):
    clean, damaged, scratch = scratched_photo()
    doc = open_image(window, tmp_path, damaged)
    original = doc.layers[0]
    messages: list[str] = []
    window.runner.progress.connect(lambda _value, text: messages.append(text))
    assert window.recipes.run_file(write_recipe(tmp_path, RESTORE)) is not None
    assert window.ops_panel.cancel_button.isEnabled()  # running: Cancel is offered
    wait_idle(qtbot, window)

    assert [layer.name for layer in doc.layers] == [
        "Original", "Inpaint", "Median filter", "Find damage: damage probability"]
    inpaint, median, kinds = doc.layers[1:]
    assert not kinds.visible and inpaint.visible and median.visible
    assert doc.active_layer is median
    assert any(text.startswith("Step 2 of 3 · Inpaint") for text in messages)
    # The damage mask is the document's mask now: what the detector proposes on this image.
    proposal = run_op("detect_defects", to_float(damaged)).mask
    painted = doc.mask.coverage > 0
    assert np.array_equal(painted, proposal)
    assert painted[scratch].mean() > 0.95 and painted.mean() < 0.1
    # Each step keeps its own one-step recipe and the layer it read.
    assert inpaint.recipe["op"] == "inpaint" and inpaint.recipe["params"]["method"] == "telea"
    assert inpaint.source_id == original.id
    assert median.recipe["op"] == "median" and median.recipe["params"] == {"size": 3}
    assert median.source_id == inpaint.id and median.recipe["mask_bbox"] is None
    # The fill changed only the masked pixels, and repaired the scratch.
    assert np.array_equal(inpaint.pixels[~painted], original.pixels[~painted])
    before = np.abs(damaged.astype(int) - clean)[scratch].mean()
    after = np.abs(inpaint.pixels.astype(int) - clean)[scratch].mean()
    assert before > 100 and after < 8
    status = window.statusBar().currentMessage()
    assert status.startswith("Restore (test) done") and "“Inpaint”, “Median filter”" in status

    # One undo removes the whole restore, mask included; redo brings it back.
    assert doc.history.entries() == ["Restore (test)"]
    window.undo()
    assert [layer.name for layer in doc.layers] == ["Original"] and doc.mask.is_empty()
    window.redo()
    assert len(doc.layers) == 4 and np.array_equal(doc.mask.coverage > 0, proposal)
    # Each layer is still a layer of its own: hide one, delete another.
    doc.set_layer_props(1, visible=False)
    doc.remove_layer(2)
    assert [layer.name for layer in doc.layers] == ["Original", "Inpaint",
                                                    "Find damage: damage probability"]

    # Brush the proposed mask and run the inpaint step again from its layer.
    doc.apply_mask_edit("rect", x0=60, y0=60, x1=70, y1=70)
    window.ops.rerun(inpaint)
    assert doc.active_layer is original
    assert window.ops_panel.current_op().name == "inpaint"
    assert window.ops_panel.form.values()["method"] == "telea"
    qtbot.mouseClick(window.ops_panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == 4, timeout=30_000)
    again = doc.layers[1]
    assert again.name == "Inpaint" and again.source_id == original.id
    assert not np.array_equal(again.pixels[60:70, 60:70], original.pixels[60:70, 60:70])


def test_a_cancelled_recipe_changes_nothing(qtbot, window, tmp_path):
    _clean, damaged, _scratch = scratched_photo()
    doc = open_image(window, tmp_path, damaged)
    recipe = {"name": "Slow", "steps": [{"op": "detect_defects", "params": {}},
                                        {"op": "slow_step_test", "params": {}, "mask": "none"}]}
    SlowStepOp.threads.clear()
    messages: list[str] = []
    window.runner.progress.connect(lambda _value, text: messages.append(text))
    window.recipes.run_file(write_recipe(tmp_path, recipe))
    qtbot.waitUntil(lambda: any(t.startswith("Step 2 of 2") for t in messages), timeout=20_000)
    started = time.monotonic()
    with qtbot.waitSignal(window.runner.cancelled, timeout=2_000):
        qtbot.mouseClick(window.ops_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < 1.0
    assert SlowStepOp.threads == [False]  # never the GUI thread
    assert [layer.name for layer in doc.layers] == ["Original"]
    assert doc.mask.is_empty() and doc.history.entries() == []  # the proposal is not kept
    assert "Slow cancelled" in window.statusBar().currentMessage()
    assert window.ops_panel.recipe_button.isEnabled()


def test_skipped_steps_are_reported_in_the_status_bar(qtbot, window, tmp_path):
    clean, _damaged, _scratch = scratched_photo()
    doc = open_image(window, tmp_path, clean)  # nothing to find
    window.recipes.run_file(write_recipe(tmp_path, RESTORE))
    wait_idle(qtbot, window)
    assert [layer.name for layer in doc.layers][:2] == ["Original", "Median filter"]
    assert "Inpaint" not in [layer.name for layer in doc.layers]
    status = window.statusBar().currentMessage()
    assert "skipped Inpaint: its mask is empty (nothing was found to work on)" in status


def test_a_failing_later_step_keeps_the_steps_before_it(qtbot, window, tmp_path, dialog_log):
    _clean, damaged, _scratch = scratched_photo()
    doc = open_image(window, tmp_path, damaged)
    recipe = {"name": "Breaks", "steps": [
        {"op": "median", "params": {"size": 3}},
        {"op": "failing_step_test", "params": {}, "mask": "none"}]}
    window.recipes.run_file(write_recipe(tmp_path, recipe))
    wait_idle(qtbot, window)
    assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    kind, title, text = dialog_log.messages[-1]
    assert kind == "warning" and title == "Breaks stopped"
    assert "step 2 (failing_step_test): this step always fails (test)" in text


def test_recipes_menu_and_panel_offer_the_shipped_restore(qtbot, window, tmp_path, dialog_log):
    action = window.act["recipe_restore-old-photo"]
    assert action.text() == "Restore old photo"
    menus = {item.text(): item.menu() for item in window.menuBar().actions()}
    recipes_menu = menus["&Recipes"]
    texts = [a.text() for a in recipes_menu.actions() if a.text()]
    assert texts == ["Restore old photo", "Upscale photo", "Run recipe &file…"]
    combo = window.ops_panel.recipe_combo
    assert combo.itemText(0) == "Restore old photo"  # the archive's recipe comes first
    assert "Find damage" in combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert "Upscale" in combo.itemData(1, Qt.ItemDataRole.ToolTipRole)
    assert not action.isEnabled()  # no document yet
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    open_image(window, tmp_path, scratched_photo()[1])
    assert action.isEnabled()
    assert window.recipes.run_file(bad) is None
    assert dialog_log.messages[-1][1] == "Cannot read the recipe"
    unknown = write_recipe(tmp_path, {"steps": [{"op": "no_such_op", "params": {}}]})
    assert window.recipes.run_file(unknown) is None
    assert "unknown op 'no_such_op'" in dialog_log.messages[-1][2]


@pytest.mark.parametrize("busy_first", ["op", "recipe"])
def test_one_runner_a_recipe_and_an_op_replace_each_other(qtbot, window, tmp_path, busy_first):
    _clean, damaged, _scratch = scratched_photo()
    doc = open_image(window, tmp_path, damaged)
    slow = write_recipe(tmp_path, {"name": "Slow", "steps": [
        {"op": "slow_step_test", "params": {}}]})
    if busy_first == "recipe":
        window.recipes.run_file(slow)
        window.ops.run("median", {"size": 3})
        wait_idle(qtbot, window)
        assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    else:
        window.ops.run("slow_step_test", {})
        window.recipes.run_file(write_recipe(tmp_path, RESTORE))
        wait_idle(qtbot, window)
        assert [layer.name for layer in doc.layers][:3] == ["Original", "Inpaint",
                                                            "Median filter"]


def test_the_upscale_recipe_opens_its_result_as_a_new_document(qtbot, window, tmp_path):
    from desktop.main_window import open_windows

    pixels = scratched_photo()[0][:48, :64]
    alpha = np.full((48, 64, 1), 255, np.uint8)
    alpha[:8] = 0  # a transparent band along the top
    doc = open_image(window, tmp_path, np.concatenate([pixels, alpha], axis=2))
    before = len(open_windows())
    assert window.recipes.run_shipped("upscale-photo") is not None
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(open_windows()) > before, timeout=20_000)
    big = open_windows()[-1].document
    assert big.shape == (96, 128)
    layer = big.layers[0]
    assert layer.alpha()[4, 64, 0] == 0 and layer.alpha()[60, 64, 0] == 255
    assert [step["op"] for step in layer.recipe["steps"]] == ["denoise", "upscale"]
    # The denoised layer lands in the original document, which keeps its size.
    assert doc.shape == (48, 64) and [lay.name for lay in doc.layers][-1] == "Denoise (learned)"
    assert "opens as a new document" in window.status.currentMessage()
    # Its window's ops panel offers the recipe that made it, ready to run again.
    assert open_windows()[-1].ops_panel.recipe_combo.currentText() == "Upscale photo"
    big.mark_saved()
    assert open_windows()[-1].close()  # as a person closes it: its worker is joined
