"""The ops panel: ops from the registry grouped by category, mask notes, run and feedback."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from desktop.widgets.ops_panel import OpsPanel, mask_note
from engine.ops import all_ops, get_op


def test_lists_every_op_under_its_category(qtbot):
    panel = OpsPanel()
    qtbot.addWidget(panel)
    names = [panel.combo.itemData(i) for i in range(panel.combo.count())]
    assert sorted(name for name in names if name) == sorted(op.name for op in all_ops())
    headers = [panel.combo.itemText(i) for i in range(panel.combo.count())
               if not panel.combo.itemData(i)]
    assert headers == [f"— {category} —" for category in
                       dict.fromkeys(op.category for op in all_ops())]
    first_header = names.index(None)
    assert not panel.combo.model().item(first_header).isEnabled()


def test_selecting_an_op_shows_its_description_mask_use_and_params(qtbot):
    panel = OpsPanel()
    qtbot.addWidget(panel)
    panel.select_op("median")
    median = get_op("median")
    assert panel.description.text() == median.description
    assert panel.mask_info.text() == mask_note(median)
    assert panel.form.values() == {"size": 5}
    assert [panel.device.itemData(i) for i in range(panel.device.count())] == [
        None, *median.devices]


def test_mask_notes_cover_every_kind():
    class Fake:
        needs_mask = False
        mask_use = "blend"

    assert "Only inside the mask" in mask_note(Fake)
    Fake.mask_use = "ignore"
    assert "proposes a new mask" in mask_note(Fake)
    Fake.mask_use, Fake.needs_mask = "hole", True
    assert mask_note(Fake).startswith("Needs a mask")
    assert "opens as a new document" in mask_note(get_op("texture_gan"))


def test_run_button_emits_the_form_values_and_busy_state(qtbot):
    panel = OpsPanel()
    qtbot.addWidget(panel)
    panel.select_op("median")
    panel.form.set_values({"size": 9})
    with qtbot.waitSignal(panel.run_requested) as signal:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert signal.args == ["median", {"size": 9}, None]
    panel.set_busy(True, "Running")
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    panel.show_progress(0.42, "tile 3 of 7")
    assert panel.progress.value() == 420 and panel.status.text() == "tile 3 of 7"
    panel.show_preview(np.full((10, 20, 3), 0.5, np.float32))
    assert panel.preview.isVisibleTo(panel) and not panel.preview.pixmap().isNull()
    panel.set_busy(False, "done")
    assert panel.run_button.isEnabled() and not panel.preview.isVisibleTo(panel)


def test_inpaint_starts_on_the_same_default_method_as_the_command_line(qtbot):
    from engine.ops.inpaint.methods import DEFAULT_METHOD

    panel = OpsPanel()
    qtbot.addWidget(panel)
    panel.select_op("inpaint")
    assert panel.form.values()["method"] == DEFAULT_METHOD == "auto"
    assert "'auto' (the default)" in panel.description.text()


def test_a_short_window_scrolls_the_ops_panel_instead_of_squeezing_its_rows(qtbot, window):
    window.resize(640, 560)
    panel = window.ops_panel
    panel.combo.setCurrentIndex(panel.combo.findData("texture_gan"))  # one of the longest forms
    qtbot.wait(50)
    # Below its minimum height a layout lays its rows over each other; in the dock's scroll
    # area the panel keeps its minimum and the area scrolls.
    assert panel.height() >= panel.minimumSizeHint().height()
    scroll = panel.parentWidget().parentWidget()
    assert scroll.objectName().endswith("_scroll")
    assert scroll.verticalScrollBar().maximum() > 0
    window.resize(1400, 1000)
    qtbot.wait(50)
    panel.combo.setCurrentIndex(panel.combo.findData("median"))
    qtbot.wait(50)
    assert scroll.verticalScrollBar().maximum() == 0  # a tall window shows it whole
