"""Ops that generate a new image: another size opens as a new document, the same size a layer."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop.document.ora import load_ora
from desktop.main_window import open_windows
from engine import io


def run_and_wait_for_a_window(qtbot, window, op: str, timeout: int = 60_000, **params):
    """Press Run and return the window the generated document opened in."""
    before = set(map(id, open_windows()))
    panel = window.ops_panel
    panel.select_op(op)
    panel.form.set_values(params)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(id(w) not in before for w in open_windows()), timeout=timeout)
    (new,) = [w for w in open_windows() if id(w) not in before]
    return new


@pytest.fixture(autouse=True)
def _close_new_windows():
    """Windows a test opened and left open are closed without questions."""
    before = set(map(id, open_windows()))
    yield
    for window in open_windows():
        if id(window) not in before:
            if window.document is not None:
                window.document.mark_saved()
            window.close()


def close_without_saving(window, dialog_log) -> None:
    dialog_log.answers.append(QMessageBox.StandardButton.Discard)
    assert window.close()


def test_a_texture_of_another_size_opens_as_a_new_unsaved_document(qtbot, window, photo_path,
                                                                   tmp_path, dialog_log):
    window.files.open_path(photo_path)
    source = window.document
    new = run_and_wait_for_a_window(qtbot, window, "texture_patch", width=80, height=64, seed=3)
    doc = new.document
    assert doc is not source and new is not window
    assert (doc.width, doc.height) == (80, 64) and doc.title == "Texture from patches result"
    layer = doc.layers[0]
    assert layer.name == "Texture from patches" and layer.recipe["op"] == "texture_patch"
    assert layer.recipe["params"]["width"] == 80 and layer.recipe["params"]["seed"] == 3
    assert layer.recipe["mask_bbox"] is None  # the whole photo was the sample
    assert layer.source_id == source.layers[0].id
    assert doc.dirty and new.isWindowModified()
    assert new.windowTitle().startswith("Texture from patches result")
    assert doc.bit_depth == source.bit_depth and doc.save_path is None
    assert new.ops_panel.current_op().name == "texture_patch"  # what made it, ready to rerun
    assert new.ops_panel.form.values()["width"] == 80
    # Nothing landed in the photo's document, and the person is told where the result went.
    assert [layer.name for layer in source.layers] == ["Original"] and not source.dirty
    assert "opens as a new document, “Texture from patches result”" in (
        window.ops_panel.status.text())
    assert dialog_log.texts("warning") == []
    # The texture is made of the photo's pixels: every colour in it occurs in the photo.
    photo = io.load(photo_path).pixels.reshape(-1, 3)
    colours = {tuple(c) for c in photo}
    assert all(tuple(c) in colours for c in layer.pixels.reshape(-1, 3)[::37])

    assert new.files.save_as(tmp_path / "texture")
    back = load_ora(tmp_path / "texture.ora")
    assert back.layers[0].recipe == layer.recipe and not doc.dirty
    assert new.close()


def test_a_generated_result_of_the_source_size_lands_as_a_layer(qtbot, window, photo_path):
    window.files.open_path(photo_path)
    doc = window.document
    doc.apply_mask_edit("rect", x0=40, y0=30, x1=70, y1=60)
    before = set(map(id, open_windows()))
    panel = window.ops_panel
    panel.select_op("texture_patch")
    panel.form.set_values({"mode": "fill_mask", "block": 16, "overlap": 4})
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == 2, timeout=30_000)
    assert {id(w) for w in open_windows()} <= before  # no new window
    result = doc.layers[1]
    assert result.name == "Texture from patches" and result.source_id == doc.layers[0].id
    inside = doc.mask.as_bool()
    original = doc.layers[0].pixels
    np.testing.assert_array_equal(result.pixels[~inside], original[~inside])
    assert np.any(result.pixels[inside] != original[inside])


def test_an_empty_window_shows_the_generated_document_itself(qtbot, window, photo_path,
                                                             dialog_log):
    from desktop.document.document import Document

    window.files.open_path(photo_path)
    generated = Document.from_float(np.zeros((8, 8, 3), np.float32), title="Made")
    window.files.close_document()
    assert window.open_document(generated) is window and window.document is generated


@pytest.mark.slow
def test_texture_gan_result_opens_as_a_new_document(qtbot, window, photo_path, dialog_log):
    """The op the person meets first: its 512×512 default differs from any photo's size."""
    window.files.open_path(photo_path)
    new = run_and_wait_for_a_window(qtbot, window, "texture_gan", timeout=120_000,
                                    train_seconds=2, layouts=2, width=96, height=96)
    doc = new.document
    assert doc.title == "Texture GAN result" and (doc.width, doc.height) == (96, 96)
    assert doc.layers[0].recipe["op"] == "texture_gan" and doc.dirty
    assert [layer.name for layer in window.document.layers] == ["Original"]
    close_without_saving(new, dialog_log)
