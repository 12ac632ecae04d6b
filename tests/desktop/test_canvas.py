"""The canvas: zero-copy mask overlay, pixmaps built once, zoom/pan, tools and compare views."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.canvas.mask_overlay import MaskOverlayItem, colour_table
from desktop.document.document import Document
from desktop.document.layer import Layer
from desktop.qimages import array_from_qimage


def two_layer_doc() -> Document:
    """Left/right different originals; the top layer is a flat green result."""
    base = np.zeros((60, 80, 3), np.uint8)
    base[:, :, 0] = 220
    top = np.zeros((60, 80, 3), np.uint8)
    top[:, :, 1] = 180
    return Document([Layer(base, name="Original"), Layer(top, name="Result")])


def viewport_rgb(window) -> np.ndarray:
    return array_from_qimage(window.view.viewport().grab().toImage(), keep_alpha=False)


def scene_colour(window, x: float, y: float) -> tuple[int, int, int]:
    """The rendered colour at image position (x, y)."""
    point = window.view.mapFromScene(QPointF(x, y))
    dpr = window.view.viewport().devicePixelRatioF()
    pixels = viewport_rgb(window)
    return tuple(int(v) for v in pixels[round(point.y() * dpr), round(point.x() * dpr)])


def test_overlay_wraps_coverage_without_copying(qtbot):
    coverage = np.zeros((30, 40), np.uint8)
    item = MaskOverlayItem(coverage, QColor(255, 0, 0), 0.5)
    address = np.frombuffer(item.image.constBits(), np.uint8).ctypes.data
    assert address == coverage.ctypes.data
    coverage[10, 20] = 200
    assert item.image.pixelIndex(20, 10) == 200
    assert QColor.fromRgba(item.image.color(200)).alpha() == 100
    item.set_style(QColor(0, 0, 255), 1.0)  # the table changes, the pixels stay shared
    assert np.frombuffer(item.image.constBits(), np.uint8).ctypes.data == coverage.ctypes.data
    assert item.image.pixelColor(20, 10) == QColor(0, 0, 255, 200)
    assert colour_table(QColor(1, 2, 3), 0.0)[255] == QColor(1, 2, 3, 0).rgba()


def test_overlay_tracks_painted_area_and_rebinds(window):
    doc = two_layer_doc()
    window.set_document(doc)
    overlay = window.scene.overlay
    assert overlay.painted_rect.isEmpty()
    doc.mask.begin_stroke()
    doc.mask.dab(40, 30, 5, 1.0)
    doc.mask_stroke_finished(doc.mask.end_stroke())
    painted = overlay.painted_rect
    assert painted.contains(QPoint(40, 30)) and painted.width() <= 14
    doc.apply_mask_edit("invert")
    assert overlay.painted_rect.width() == 80  # inverted: covers nearly everything
    other = two_layer_doc()
    window.set_document(other)
    assert window.scene.overlay is not overlay
    assert (np.frombuffer(window.scene.overlay.image.constBits(), np.uint8).ctypes.data
            == other.mask.coverage.ctypes.data)


def test_mask_is_drawn_in_the_overlay_colour(window):
    doc = two_layer_doc()
    window.set_document(doc)
    window.scene.set_overlay_style(QColor(0, 0, 255), 1.0)
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=40, y1=60)
    window.view.actual_pixels()
    window.view.centerOn(40, 30)
    window.view.viewport().repaint()
    assert scene_colour(window, 20.5, 30.5) == (0, 0, 255)
    assert scene_colour(window, 60.5, 30.5) == (0, 180, 0)
    window.scene.set_overlay_style(opacity=0.0)
    window.view.viewport().repaint()
    assert scene_colour(window, 20.5, 30.5) == (0, 180, 0)


def test_pixmaps_are_built_once_per_layer_change(window):
    doc = two_layer_doc()
    window.set_document(doc)
    stack = window.scene.layers
    built = stack.conversions
    assert built == 2
    doc.set_layer_props(1, opacity=0.3)
    doc.move_layer(1, 0)
    doc.mask.dab(10, 10, 4, 1.0)
    doc.mask_stroke_finished(doc.mask.end_stroke())
    assert stack.conversions == built  # no pixel changed: no conversion
    doc.set_layer_pixels(0, np.full((60, 80, 3), 9, np.uint8))
    assert stack.conversions == built + 1


def test_zoom_fit_actual_and_wheel_keeps_point_under_cursor(window, qtbot):
    window.set_document(Document([Layer(np.zeros((1500, 2000, 3), np.uint8), name="big")]))
    view = window.view
    window.act["fit"].trigger()
    rect = view.mapFromScene(view.sceneRect()).boundingRect()
    viewport = view.viewport().rect()
    assert rect.width() == pytest.approx(viewport.width(), abs=3) or \
        rect.height() == pytest.approx(viewport.height(), abs=3)
    window.act["actual"].trigger()
    assert view.zoom() == pytest.approx(1.0)
    anchor = view.mapFromScene(QPointF(1000, 700)) + QPoint(37, -21)
    before = view.mapToScene(anchor)
    view.zoom_by(2.0, anchor)
    assert view.zoom() == pytest.approx(2.0)
    after = view.mapToScene(anchor)
    assert after.x() == pytest.approx(before.x(), abs=1) and after.y() == pytest.approx(
        before.y(), abs=1)
    # A real wheel notch (120) zooms in by about 20 % around the cursor.
    wheel_at = QPointF(anchor)
    fixed = view.mapToScene(anchor)
    event = QWheelEvent(wheel_at, QPointF(view.viewport().mapToGlobal(anchor)), QPoint(0, 0),
                        QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() == pytest.approx(2.0 * 1.0015 ** 120, rel=1e-3)
    assert view.mapToScene(anchor).x() == pytest.approx(fixed.x(), abs=1)
    view.set_zoom(2.0, anchor)
    zooms = []
    view.zoom_changed.connect(zooms.append)
    window.act["zoom_out"].trigger()
    assert zooms and zooms[-1] == pytest.approx(100 * 2.0 / 2 ** 0.5, rel=1e-3)


def test_space_drag_pans_without_painting(window, qtbot):
    window.set_document(Document([Layer(np.zeros((400, 600, 3), np.uint8), name="big")]))
    view = window.view
    view.set_zoom(4.0)
    view.setFocus()
    start = view.horizontalScrollBar().value()
    QTest.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    QTest.mouseMove(view.viewport(), QPoint(150, 200))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(150, 200))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert view.horizontalScrollBar().value() == start + 50
    assert window.document.mask.is_empty()


def test_brush_keys_and_eraser(window, qtbot):
    doc = two_layer_doc()
    window.set_document(doc)
    window.brush.set(size=20, hardness=0.5)
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.brush.size > 20 and window.size_box.value() == pytest.approx(
        window.brush.size, abs=0.5)
    QTest.keyClick(window, Qt.Key.Key_BraceRight, Qt.KeyboardModifier.ShiftModifier)
    assert window.brush.hardness == pytest.approx(0.6)
    window.brush.set(size=10, hardness=1.0)
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=80, y1=60)
    QTest.keyClick(window, Qt.Key.Key_E)
    assert window.tool_name == "eraser"
    viewport = window.view.viewport()
    point = window.view.mapFromScene(QPointF(40, 30))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=point)
    assert doc.mask.coverage[30, 40] == 0 and doc.mask.coverage[0, 0] == 255
    assert doc.history.entries()[-1] == "Erase mask"


def test_lasso_and_rectangle_tools(window, qtbot):
    doc = two_layer_doc()
    window.set_document(doc)
    viewport = window.view.viewport()

    def drag(points, modifier=Qt.KeyboardModifier.NoModifier):
        mapped = [window.view.mapFromScene(QPointF(*p)) for p in points]
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, mapped[0])
        for point in mapped[1:]:
            QTest.mouseMove(viewport, point)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, mapped[-1])

    window.set_tool("rect")
    drag([(10, 10), (30, 20), (50, 40)])
    covered = doc.mask.coverage > 0
    assert covered[15:35, 15:45].all() and not covered[45:, :].any() and not covered[:, 55:].any()
    window.set_tool("lasso")
    drag([(60, 5), (75, 5), (75, 25), (60, 25)])
    assert doc.mask.coverage[15, 68] == 255 and doc.mask.coverage[40, 68] == 0
    drag([(60, 5), (75, 5), (75, 25), (60, 25)], Qt.KeyboardModifier.AltModifier)
    assert doc.mask.coverage[15, 68] == 0
    assert doc.history.entries() == ["Rectangle", "Lasso", "Lasso erase"]


def test_split_view_shows_original_left_and_result_right(window):
    window.set_document(two_layer_doc())
    window.view.resize(500, 400)
    window.act["fit"].trigger()
    window.act["split"].trigger()
    assert window.scene.split.isVisible()
    window.scene.split.set_fraction(0.5)
    window.view.viewport().repaint()
    assert scene_colour(window, 10.5, 50.5) == (220, 0, 0)  # before: the original
    assert scene_colour(window, 70.5, 50.5) == (0, 180, 0)  # after: the composite
    # Drag the divider to the right with the mouse.
    view = window.view
    start = view.mapFromScene(QPointF(40, 55))
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(view.viewport(), view.mapFromScene(QPointF(75, 55)))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton,
                       pos=view.mapFromScene(QPointF(75, 55)))
    assert window.scene.split.fraction == pytest.approx(75 / 80, abs=0.03)
    assert window.document.mask.is_empty()  # dragging the divider does not paint
    view.viewport().repaint()
    assert scene_colour(window, 70.5, 50.5) == (220, 0, 0)
    window.act["split"].trigger()
    view.viewport().repaint()
    assert scene_colour(window, 10.5, 50.5) == (0, 180, 0)


def test_hold_backslash_peeks_below_the_active_layer(window):
    window.set_document(two_layer_doc())
    view = window.view
    view.setFocus()
    view.viewport().repaint()
    assert scene_colour(window, 40.5, 30.5) == (0, 180, 0)
    QTest.keyPress(view, Qt.Key.Key_Backslash)
    view.viewport().repaint()
    assert scene_colour(window, 40.5, 30.5) == (220, 0, 0)
    QTest.keyRelease(view, Qt.Key.Key_Backslash)
    view.viewport().repaint()
    assert scene_colour(window, 40.5, 30.5) == (0, 180, 0)


def test_layers_under_an_opaque_layer_are_not_drawn(window):
    doc = two_layer_doc()
    window.set_document(doc)
    stack = window.scene.layers
    bottom, top = (stack.item(layer.id) for layer in doc.layers)
    assert top.isVisible() and not bottom.isVisible()  # fully covered: skipped when painting
    doc.set_layer_props(1, opacity=0.5)
    assert bottom.isVisible() and top.isVisible()
    window.view.viewport().repaint()
    assert scene_colour(window, 40.5, 30.5) == pytest.approx((110, 90, 0), abs=2)
    doc.set_layer_props(1, opacity=1.0)
    assert not bottom.isVisible()


@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 1), (np.uint8, 3), (np.uint8, 4),
                                                 (np.uint16, 1), (np.uint16, 3), (np.uint16, 4)])
def test_layer_pixmap_matches_the_layer_display_colours(qapp, dtype, channels):
    from desktop.canvas.layer_items import layer_pixmap

    rng = np.random.default_rng(channels)
    top = 255 if dtype == np.uint8 else 65535
    pixels = rng.integers(0, top + 1, (7, 9, channels)).astype(dtype)
    if channels == 4:
        pixels[..., 3] = top  # opaque alpha: premultiplication cannot blur the comparison
        pixels[0, 0, 3] = 0  # and one transparent pixel
    layer = Layer(pixels[:, :, 0] if channels == 1 else pixels, name="x")
    expected = layer.display_rgba8()
    got = array_from_qimage(layer_pixmap(layer).toImage())
    if got.shape[2] == 3:  # opaque: no alpha plane
        got = np.dstack([got, np.full((7, 9), 255, np.uint8)])
    assert np.array_equal(got[..., 3], expected[..., 3])
    opaque = expected[..., 3] == 255
    assert np.array_equal(got[opaque][:, :3], expected[opaque][:, :3])
