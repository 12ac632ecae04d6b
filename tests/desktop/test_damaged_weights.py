"""A damaged weight file: the engine names the file and says to reinstall; the editor shows the
op as unavailable and keeps working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine import io
from engine.core.resources import resources_dir
from engine.models.weights import WeightsError, clear_model_cache, load_model, verify_weights


@pytest.fixture
def damaged_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of resources/ with the denoiser's weights cut to half, as PIXELMEND_RESOURCES."""
    copy = tmp_path / "resources"
    shutil.copytree(resources_dir(), copy, ignore=shutil.ignore_patterns("*.md"))
    weights = copy / "models" / "denoise_unet.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("PIXELMEND_RESOURCES", str(copy))
    clear_model_cache()
    yield copy
    clear_model_cache()


def test_the_engine_names_the_damaged_file_and_says_to_reinstall(damaged_resources):
    for check in (lambda: verify_weights("denoise_unet"), lambda: load_model("denoise_unet")):
        with pytest.raises(WeightsError) as caught:
            check()
        message = str(caught.value)
        assert "denoise_unet.safetensors" in message and "damaged" in message
        assert "reinstall PixelMend" in message and "\n" not in message
    verify_weights("inpaint_ffc")  # the other model is intact


def test_the_editor_shows_the_op_unavailable_and_keeps_working(qtbot, damaged_resources,
                                                               tmp_path, dialog_log):
    from desktop.main_window import MainWindow

    window = MainWindow(look_up_device=False)
    qtbot.addWidget(window)
    panel = window.ops_panel
    index = panel.combo.findData("denoise")
    assert panel.combo.itemText(index).endswith("(unavailable)")
    tip = panel.combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Unavailable: denoise_unet.safetensors is damaged")
    assert "reinstall" in tip
    panel.select_op("denoise")
    assert panel.mask_info.text().startswith("Unavailable: denoise_unet.safetensors")
    assert not panel.run_button.isEnabled()
    panel.select_op("median")
    assert panel.run_button.isEnabled() and "unavailable" not in panel.combo.currentText()

    path = tmp_path / "photo.png"
    io.save(path, np.full((24, 32, 3), 120, np.uint8))
    window.files.open_path(path)
    doc = window.document
    # Run anyway (a recipe or a script can): one clear line, no traceback, nothing added.
    window.ops.run("denoise", {})
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60_000)
    kind, title, text = dialog_log.messages[-1]
    assert (kind, title) == ("warning", "Denoise (learned) failed")
    assert text.startswith("denoise_unet.safetensors is damaged") and "\n" not in text
    assert "unexpected" not in text and len(doc.layers) == 1
    # A recipe that reaches the damaged model keeps the steps before it.
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"name": "Clean up", "steps": [
        {"op": "median", "params": {"size": 3}},
        {"op": "denoise", "params": {}, "mask": "none"}]}), encoding="utf-8")
    window.recipes.run_file(recipe)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60_000)
    assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    kind, title, text = dialog_log.messages[-1]
    assert title == "Clean up stopped"
    assert "step 2 (Denoise (learned)): denoise_unet.safetensors is damaged" in text
    window.shutdown()
    doc.mark_saved()
