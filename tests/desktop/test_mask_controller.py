"""The Mask menu: whole-mask edits are single undo steps; the overlay look is remembered."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from desktop.document.document import Document
from desktop.document.layer import Layer


def square_doc() -> Document:
    doc = Document([Layer(np.zeros((40, 40, 3), np.uint8), name="Original")])
    doc.apply_mask_edit("rect", x0=15, y0=15, x1=25, y1=25)
    return doc


def test_menu_edits_change_the_mask_and_undo(window):
    doc = square_doc()
    window.set_document(doc)
    start = doc.mask.coverage.copy()
    window.masks.edit_px("grow", px=3)
    assert (doc.mask.coverage > 0).sum() > (start > 0).sum() + 100
    assert doc.mask.coverage[13, 20] == 255 and doc.mask.coverage[5, 20] == 0
    window.masks.edit_px("shrink", px=3)
    window.masks.edit_px("feather", px=4)
    assert 0 < doc.mask.coverage[14, 20] < 255  # a soft edge
    window.act["invert"].trigger()
    assert doc.mask.coverage[0, 0] == 255
    window.act["clear"].trigger()
    assert doc.mask.is_empty()
    assert len(doc.history.entries()) == 1 + 5
    for _ in range(5):
        window.act["undo"].trigger()
    assert np.array_equal(doc.mask.coverage, start)


def test_overlay_style_and_visibility_survive_a_new_document(window, qtbot):
    from desktop.main_window import MainWindow

    window.set_document(square_doc())
    window.masks.choose_colour(QColor(0, 200, 255))
    window.masks.choose_opacity(80)
    overlay = window.scene.overlay
    assert overlay.colour == QColor(0, 200, 255) and overlay.overlay_opacity == 0.8
    window.act["show_mask"].trigger()  # hide (H)
    window.set_document(square_doc())
    assert not window.scene.overlay.isVisible()
    other = MainWindow(look_up_device=False)  # the next run starts with the same look
    qtbot.addWidget(other)
    other.set_document(square_doc())
    assert other.scene.overlay.colour == QColor(0, 200, 255)
    assert other.scene.overlay.overlay_opacity == 0.8
    other.shutdown()
