"""The editor end to end: drop a file, paint, run an op, undo/redo, export, save and reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from engine import io
from engine.ops import Op, OpResult, register


def drop_files(window, *paths: Path) -> None:
    """Deliver a real QDropEvent with file URLs to the window."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def paint_stroke(qtbot, window, start: tuple[float, float], end: tuple[float, float],
                 steps: int = 12) -> None:
    """Drag the left button across the canvas between two image positions."""
    viewport = window.view.viewport()
    a = window.view.mapFromScene(QPointF(*start))
    b = window.view.mapFromScene(QPointF(*end))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=a)
    for i in range(1, steps + 1):
        point = a + (b - a) * (i / steps)
        QTest.mouseMove(viewport, QPoint(round(point.x()), round(point.y())))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=b)


def run_op(qtbot, window, name: str, **params) -> None:
    panel = window.ops_panel
    panel.select_op(name)
    panel.form.set_values(params)
    count = len(window.document.layers)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.document.layers) == count + 1, timeout=15_000)


def test_drop_paint_median_undo_redo_export(qtbot, window, photo_path, tmp_path, dialog_log):
    drop_files(window, photo_path)
    doc = window.document
    assert doc is not None and doc.title == "photo.png"
    original = doc.layers[0].pixels.copy()
    assert window.windowTitle().startswith("photo.png")

    window.brush.set(size=14, hardness=1.0)
    window.set_tool("brush")
    paint_stroke(qtbot, window, (20, 40), (100, 50))
    coverage = doc.mask.coverage.copy()
    painted = coverage > 0
    # A 14 px brush dragged 80 px: a band roughly 80 × 14 px, nothing near the corners.
    assert 700 < painted.sum() < 2000
    assert not painted[:25].any() and not painted[70:].any()
    assert doc.history.entries() == ["Paint mask"]
    assert window.isWindowModified()

    run_op(qtbot, window, "median", size=5)
    assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    result = doc.layers[1]
    assert result.recipe["op"] == "median" and result.recipe["params"] == {"size": 5}
    assert np.array_equal(result.pixels[~painted], original[~painted])
    changed = np.any(result.pixels != original, axis=2)
    assert changed.any() and not changed[~painted].any()
    # The median removes most specks inside the fully painted part of the mask.
    inside = coverage == 255
    specks = np.all((original == 0) | (original == 255), axis=2) & inside
    assert specks.sum() > 20
    still = np.all((result.pixels == 0) | (result.pixels == 255), axis=2) & specks
    assert still.sum() < 0.2 * specks.sum()

    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [layer.name for layer in doc.layers] == ["Original"]
    QTest.keyClick(window, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    assert doc.layers[1] is result

    target = tmp_path / "out" / "repaired.png"
    target.parent.mkdir()
    assert window.files.export_image(target) == target
    saved = io.load(target).pixels
    assert np.array_equal(saved, result.pixels)
    assert np.array_equal(io.load(photo_path).pixels, original)  # the source is untouched
    assert dialog_log.texts("warning") == []


def test_export_over_the_source_asks_first(window, photo_path, dialog_log):
    window.files.open_path(photo_path)
    before = photo_path.read_bytes()
    from PySide6.QtWidgets import QMessageBox

    dialog_log.answers = [QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No]
    assert window.files.export_image(photo_path) is None  # replace? yes; the original? no
    assert photo_path.read_bytes() == before
    assert "opened from" in dialog_log.texts("question")[-1]


def test_ora_session_save_and_reopen(qtbot, window, photo_path, tmp_path):
    window.files.open_path(photo_path)
    doc = window.document
    doc.apply_mask_edit("rect", x0=10, y0=10, x1=60, y1=40)
    run_op(qtbot, window, "median", size=3)
    doc.set_layer_props(1, opacity=0.5)
    session = tmp_path / "session"
    assert window.files.save_as(session)
    assert doc.save_path == tmp_path / "session.ora" and not doc.dirty
    assert not window.isWindowModified()
    layers = [(layer.name, layer.pixels.copy(), layer.opacity) for layer in doc.layers]
    coverage = doc.mask.coverage.copy()

    window.files.close_document()
    assert window.document is None
    drop_files(window, tmp_path / "session.ora")
    reopened = window.document
    assert [(layer.name, layer.opacity) for layer in reopened.layers] == [
        (name, opacity) for name, _pixels, opacity in layers]
    for layer, (_name, pixels, _opacity) in zip(reopened.layers, layers, strict=True):
        assert np.array_equal(layer.pixels, pixels)
    assert np.array_equal(reopened.mask.coverage, coverage)
    assert reopened.layers[1].recipe["op"] == "median"
    # Saving again goes to the same session without a dialog and never to the PNG.
    reopened.set_layer_props(1, visible=False)
    assert window.files.save()
    assert not reopened.dirty


def test_corrupt_drop_shows_message_and_keeps_window(window, photo_path, tmp_path, dialog_log):
    window.files.open_path(photo_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(photo_path.read_bytes()[:200])
    drop_files(window, broken)
    assert any("broken.png" in text for text in dialog_log.texts("warning"))
    assert window.document is not None and window.document.title == "photo.png"
    assert window.isVisible()
    drop_files(window, tmp_path / "not-there.png")
    assert len(dialog_log.texts("warning")) == 2
    assert window.document.title == "photo.png"


def test_dropping_over_unsaved_changes_asks(window, photo_path, tmp_path, dialog_log):
    from PySide6.QtWidgets import QMessageBox

    window.files.open_path(photo_path)
    window.document.apply_mask_edit("rect", x0=0, y0=0, x1=20, y1=20)
    other = tmp_path / "other.png"
    io.save(other, np.zeros((40, 50, 3), np.uint8))
    dialog_log.answers = [QMessageBox.StandardButton.Cancel]
    drop_files(window, other)
    assert window.document.title == "photo.png"  # cancelled: nothing replaced
    dialog_log.answers = [QMessageBox.StandardButton.Discard]
    drop_files(window, other)
    assert window.document.title == "other.png" and window.document.width == 50


def test_paste_image_from_clipboard(window, qapp):
    from PySide6.QtGui import QColor, QImage

    image = QImage(30, 20, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 200, 30))
    qapp.clipboard().setImage(image)
    assert window.files.paste()
    doc = window.document
    assert (doc.width, doc.height) == (30, 20)
    assert doc.layers[0].pixels.shape == (20, 30, 3)
    assert tuple(doc.layers[0].pixels[5, 5]) == (10, 200, 30)


@register
class ProposeOp(Op):
    """Test-only: proposes a mask (bright pixels) and returns an edge map as an extra layer."""

    name = "test_desktop_propose"
    title = "Find bright (test)"
    category = "Tests"
    mask_use = "ignore"

    def run(self, image, mask, params, progress, cancel, device):
        bright = image.mean(axis=2) > 0.9
        return OpResult(mask=bright, layers={"edges": np.repeat(bright[:, :, None], 3, 2)
                                             .astype(np.float32)})


def test_mask_proposal_replaces_the_mask_undoably(qtbot, window, photo_path):
    window.files.open_path(photo_path)
    doc = window.document
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=10, y1=10)
    window.ops_panel.select_op("test_desktop_propose")
    qtbot.mouseClick(window.ops_panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(doc.layers) == 2, timeout=10_000)
    bright = io.load(photo_path).pixels.astype(np.float32).mean(axis=2) / 255 > 0.9
    assert np.array_equal(doc.mask.as_bool(), bright)
    extra = doc.layers[1]
    assert extra.name == "Find bright (test): edges" and not extra.visible
    assert window.scene.layers.item(extra.id) is None  # hidden layers cost no pixmap
    assert doc.history.entries()[-2:] == ["Use proposed mask", "Add layer “Find bright (test): "
                                          "edges”"]
    doc.undo()
    doc.undo()
    assert doc.mask.coverage[:10, :10].all() and doc.mask.as_bool().sum() == 100
