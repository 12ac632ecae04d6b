"""Tests for desktop.document.history: the byte-bounded undo stack and its clean state."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.document import Document, Edit, History, Layer
from desktop.document.history import default_max_bytes
from desktop.document.regions import union_rect


class Counter:
    """A stand-in document: a list of applied values."""

    def __init__(self) -> None:
        self.values: list[int] = []


class AppendEdit(Edit):
    def __init__(self, value: int, nbytes: int = 100) -> None:
        self.value, self.nbytes, self.text = value, nbytes, f"append {value}"

    def redo(self, doc: Counter) -> None:
        doc.values.append(self.value)

    def undo(self, doc: Counter) -> None:
        assert doc.values.pop() == self.value


def push(history: History, target: Counter, value: int, nbytes: int = 100) -> None:
    edit = AppendEdit(value, nbytes)
    edit.redo(target)
    history.push(edit)


def test_undo_redo_and_redo_tail_dropped_on_push():
    target = Counter()
    history = History(target, max_bytes=10**6)
    for value in (1, 2, 3):
        push(history, target, value)
    assert history.undo() and history.undo()
    assert target.values == [1] and history.index == 1 and history.can_redo
    assert history.redo_text == "append 2" and history.undo_text == "append 1"
    push(history, target, 9)
    assert history.entries() == ["append 1", "append 9"] and not history.can_redo
    assert target.values == [1, 9]
    assert not history.redo()


def test_goto_moves_to_any_row():
    target = Counter()
    history = History(target, max_bytes=10**6)
    for value in range(5):
        push(history, target, value)
    history.goto(1)
    assert target.values == [0] and history.index == 1
    history.goto(4)
    assert target.values == [0, 1, 2, 3]
    history.goto(0)
    assert target.values == [] and not history.can_undo
    history.goto(99)
    assert target.values == [0, 1, 2, 3, 4]


def test_memory_bound_drops_the_oldest_entries():
    target = Counter()
    history = History(target, max_bytes=350)
    for value in range(6):
        push(history, target, value, nbytes=100)
    assert history.entries() == ["append 3", "append 4", "append 5"]
    assert history.nbytes <= 350 and history.dropped == 3 and history.index == 3
    while history.undo():
        pass
    assert target.values == [0, 1, 2]  # the dropped steps can no longer be undone
    # the saved state was dropped: the document stays dirty however far one undoes
    assert history.clean_index is None and not history.is_clean


def test_newest_entry_is_kept_even_when_alone_over_the_bound():
    target = Counter()
    history = History(target, max_bytes=50)
    push(history, target, 1, nbytes=40)
    push(history, target, 2, nbytes=500)
    assert history.entries() == ["append 2"]
    assert history.undo() and target.values == [1]


def test_clean_state_follows_undo_and_save():
    target = Counter()
    changes = []
    history = History(target, max_bytes=10**6, on_change=lambda: changes.append(history.index))
    assert history.is_clean
    push(history, target, 1)
    assert not history.is_clean
    history.mark_clean()
    assert history.is_clean and history.clean_index == 1
    history.undo()
    assert not history.is_clean
    history.redo()
    assert history.is_clean
    history.undo()
    push(history, target, 7)  # the saved state is on the dropped redo branch
    assert history.clean_index is None and not history.is_clean
    assert changes == [1, 1, 0, 1, 0, 1]


def test_undo_memory_env(monkeypatch):
    monkeypatch.setenv("PIXELMEND_UNDO_MB", "3")
    assert default_max_bytes() == 3 * 2**20
    assert History(Counter()).max_bytes == 3 * 2**20
    monkeypatch.setenv("PIXELMEND_UNDO_MB", "lots")
    assert default_max_bytes() == 2**30
    monkeypatch.delenv("PIXELMEND_UNDO_MB")
    assert default_max_bytes() == 2**30


def test_union_rect():
    a = (slice(2, 5), slice(10, 20))
    b = (slice(4, 9), slice(0, 12))
    assert union_rect(a, b) == (slice(2, 9), slice(0, 20))
    assert union_rect(None, a) == a and union_rect(a, None) == a


def make_doc() -> Document:
    return Document([Layer(np.full((8, 8, 3), 100, np.uint8), "Original")])


def test_consecutive_opacity_changes_merge():
    doc = make_doc()
    for opacity in (0.9, 0.6, 0.3):
        doc.set_layer_props(0, opacity=opacity)
    assert len(doc.history.entries()) == 1
    assert doc.history.entries()[0] == "Opacity of “Original” 30 %"
    doc.undo()
    assert doc.layers[0].opacity == 1.0
    doc.redo()
    assert doc.layers[0].opacity == 0.3
    doc.set_layer_props(0, name="Base")
    doc.set_layer_props(0, opacity=0.5)
    assert len(doc.history.entries()) == 3  # a rename in between: no merge


def test_no_merge_across_a_save():
    doc = make_doc()
    doc.set_layer_props(0, opacity=0.5)
    doc.mark_saved()
    doc.set_layer_props(0, opacity=0.25)
    assert len(doc.history.entries()) == 2
    doc.undo()
    assert not doc.dirty and doc.layers[0].opacity == 0.5


@pytest.mark.parametrize("bound", [0, 1])
def test_document_history_bound_with_real_mask_edits(bound):
    doc = make_doc()
    doc.history.max_bytes = bound
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=4, y1=4)
    doc.apply_mask_edit("rect", x0=4, y0=4, x1=8, y1=8)
    assert doc.history.entries() == ["Rectangle"] and doc.history.dropped == 1
    doc.undo()
    assert doc.mask.coverage[:4, :4].all() and not doc.mask.coverage[4:, 4:].any()
