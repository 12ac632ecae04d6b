"""Undo/redo that stores patches, bounded in bytes.

Every change to a document is an :class:`Edit` that has already been applied when it is pushed
(as Krita pushes its undo command after the work ran). Mask strokes keep only the 64×64 tiles
they touched; whole-mask edits keep only the changed bounding box; layer edits keep the
immutable pixel arrays they replaced, without copying them.

``nbytes`` of an edit is the memory the history keeps alive for it beyond what the document
itself holds while the edit is applied. :class:`History` drops its oldest entries when the sum
exceeds ``max_bytes`` (we use our own stack instead of ``QUndoStack`` because that one cannot
bound memory in bytes).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from desktop.document.document import Document
    from desktop.document.layer import Layer

__all__ = [
    "AddLayerEdit",
    "Edit",
    "History",
    "LayerPropsEdit",
    "MaskInvertEdit",
    "MaskPatchEdit",
    "MaskReplaceEdit",
    "MaskTile",
    "MergeDownEdit",
    "MoveLayerEdit",
    "RemoveLayerEdit",
    "ReplaceLayerPixelsEdit",
    "default_max_bytes",
    "union_rect",
]

Rect = tuple[slice, slice]
_OVERHEAD = 256  # bytes charged per entry for the Python objects themselves
_DEFAULT_MB = 1024


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    """The smallest ``(rows, cols)`` rectangle holding both (None counts as empty)."""
    if a is None:
        return b
    if b is None:
        return a
    return (slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
            slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)))


def default_max_bytes() -> int:
    """The undo memory bound: ``PIXELMEND_UNDO_MB`` megabytes, else 1 GiB."""
    text = os.environ.get("PIXELMEND_UNDO_MB", "").strip()
    try:
        megabytes = float(text) if text else _DEFAULT_MB
    except ValueError:
        megabytes = _DEFAULT_MB
    return int(max(megabytes, 0.0) * 2**20)


class Edit(ABC):
    """One undoable change, already applied when pushed.

    Attributes
    ----------
    text : str
        What the history panel and the Undo menu show ("Paint mask", "Add layer …").
    nbytes : int
        Memory the entry keeps alive beyond the document's current state.
    """

    text: str = ""
    nbytes: int = _OVERHEAD

    @abstractmethod
    def redo(self, doc: Document) -> None:
        """Apply the change again."""

    @abstractmethod
    def undo(self, doc: Document) -> None:
        """Revert the change."""

    def merge(self, other: Edit) -> bool:
        """Absorb ``other`` (pushed right after this edit) and return True, or return False."""
        return False


# ---------------------------------------------------------------------------------- mask edits

@dataclass(frozen=True)
class MaskTile:
    """Coverage of one region before and after an edit."""

    rows: slice
    cols: slice
    before: np.ndarray
    after: np.ndarray


class MaskPatchEdit(Edit):
    """A brush stroke: before/after of only the 64×64 tiles it changed."""

    def __init__(self, tiles: Sequence[MaskTile], text: str = "Paint mask") -> None:
        self.tiles = list(tiles)
        self.text = text
        self.nbytes = _OVERHEAD + sum(t.before.nbytes + t.after.nbytes for t in self.tiles)
        rect: Rect | None = None
        for tile in self.tiles:
            rect = union_rect(rect, (tile.rows, tile.cols))
        self.rect = rect

    def redo(self, doc: Document) -> None:
        doc.mask.write_tiles([(t.rows, t.cols, t.after) for t in self.tiles], self.rect)

    def undo(self, doc: Document) -> None:
        doc.mask.write_tiles([(t.rows, t.cols, t.before) for t in self.tiles], self.rect)


class MaskReplaceEdit(Edit):
    """A whole-mask edit (lasso, rectangle, grow, …): before/after of the changed bbox only."""

    def __init__(self, rows: slice, cols: slice, before: np.ndarray, after: np.ndarray,
                 text: str) -> None:
        self.rows, self.cols = rows, cols
        self.before, self.after = before, after
        self.text = text
        self.nbytes = _OVERHEAD + before.nbytes + after.nbytes

    def redo(self, doc: Document) -> None:
        doc.mask.write_tiles([(self.rows, self.cols, self.after)], (self.rows, self.cols))

    def undo(self, doc: Document) -> None:
        doc.mask.write_tiles([(self.rows, self.cols, self.before)], (self.rows, self.cols))


class MaskInvertEdit(Edit):
    """Invert the mask; its own inverse, so it stores no pixels."""

    text = "Invert mask"

    def redo(self, doc: Document) -> None:
        doc.mask.invert_in_place()

    def undo(self, doc: Document) -> None:
        doc.mask.invert_in_place()


# --------------------------------------------------------------------------------- layer edits

class AddLayerEdit(Edit):
    """Insert ``layer`` at ``index`` (bottom = 0)."""

    def __init__(self, layer: Layer, index: int, active_before: int, text: str | None = None):
        self.layer, self.index, self.active_before = layer, index, active_before
        self.text = text or f"Add layer “{layer.name}”"

    def redo(self, doc: Document) -> None:
        doc._insert_layer(self.index, self.layer)
        doc._set_active(self.index)

    def undo(self, doc: Document) -> None:
        doc._pop_layer(self.index)
        doc._set_active(self.active_before)


class RemoveLayerEdit(Edit):
    """Remove the layer at ``index``; the history keeps it alive for undo."""

    def __init__(self, layer: Layer, index: int, active_before: int) -> None:
        self.layer, self.index, self.active_before = layer, index, active_before
        self.text = f"Delete layer “{layer.name}”"
        self.nbytes = _OVERHEAD + layer.nbytes

    def redo(self, doc: Document) -> None:
        doc._pop_layer(self.index)
        doc._set_active(min(self.index, len(doc.layers) - 1))

    def undo(self, doc: Document) -> None:
        doc._insert_layer(self.index, self.layer)
        doc._set_active(self.active_before)


class MoveLayerEdit(Edit):
    """Move the layer at ``index`` to ``new_index`` (the others shift)."""

    def __init__(self, index: int, new_index: int, name: str) -> None:
        self.index, self.new_index = index, new_index
        self.text = f"Move layer “{name}”"

    def redo(self, doc: Document) -> None:
        doc._move_layer(self.index, self.new_index)
        doc._set_active(self.new_index)

    def undo(self, doc: Document) -> None:
        doc._move_layer(self.new_index, self.index)
        doc._set_active(self.index)


class LayerPropsEdit(Edit):
    """Change name/visible/opacity; consecutive opacity changes of one layer merge."""

    def __init__(self, layer: Layer, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.layer, self.before, self.after = layer, dict(before), dict(after)
        self.text = self._describe()

    def _describe(self) -> str:
        name = self.before.get("name", self.layer.name)
        if set(self.after) == {"name"}:
            return f"Rename layer “{name}” to “{self.after['name']}”"
        if set(self.after) == {"visible"}:
            return f"{'Show' if self.after['visible'] else 'Hide'} layer “{name}”"
        if set(self.after) == {"opacity"}:
            return f"Opacity of “{name}” {round(self.after['opacity'] * 100)} %"
        return f"Layer properties of “{name}”"

    def redo(self, doc: Document) -> None:
        doc._set_props(self.layer, self.after)

    def undo(self, doc: Document) -> None:
        doc._set_props(self.layer, self.before)

    def merge(self, other: Edit) -> bool:
        if (isinstance(other, LayerPropsEdit) and other.layer is self.layer
                and set(self.after) == {"opacity"} and set(other.after) == {"opacity"}):
            self.after = dict(other.after)
            self.text = self._describe()
            return True
        return False


class MergeDownEdit(Edit):
    """Replace the layer at ``index`` and the one below it by ``merged``."""

    def __init__(self, index: int, upper: Layer, lower: Layer, merged: Layer) -> None:
        self.index, self.upper, self.lower, self.merged = index, upper, lower, merged
        self.text = f"Merge “{upper.name}” down"
        self.nbytes = _OVERHEAD + upper.nbytes + lower.nbytes

    def redo(self, doc: Document) -> None:
        doc._pop_layer(self.index)
        doc._pop_layer(self.index - 1)
        doc._insert_layer(self.index - 1, self.merged)
        doc._set_active(self.index - 1)

    def undo(self, doc: Document) -> None:
        doc._pop_layer(self.index - 1)
        doc._insert_layer(self.index - 1, self.lower)
        doc._insert_layer(self.index, self.upper)
        doc._set_active(self.index)


class ReplaceLayerPixelsEdit(Edit):
    """Swap a layer's (immutable) pixel array; both arrays are kept, neither is copied."""

    def __init__(self, layer: Layer, before: np.ndarray, after: np.ndarray,
                 text: str = "Edit pixels", rect: Rect | None = None) -> None:
        self.layer, self.before, self.after, self.rect = layer, before, after, rect
        self.text = text
        self.nbytes = _OVERHEAD + max(before.nbytes, after.nbytes)

    def redo(self, doc: Document) -> None:
        doc._replace_pixels(self.layer, self.after, self.rect)

    def undo(self, doc: Document) -> None:
        doc._replace_pixels(self.layer, self.before, self.rect)


# ------------------------------------------------------------------------------------- history

class History:
    """A linear undo stack over a target document, bounded in bytes.

    ``index`` counts the applied entries: ``entries()[:index]`` are done, the rest can be
    redone. A history panel shows an "initial state" row for index 0 and one row per entry;
    :meth:`goto` moves to any row.

    Parameters
    ----------
    target : Document
        What the edits apply to.
    max_bytes : int, optional
        Memory bound (default: ``PIXELMEND_UNDO_MB`` or 1 GiB). The newest entry is always kept.
    on_change : callable, optional
        Called with no arguments after every change of the stack.
    """

    def __init__(self, target: Any, *, max_bytes: int | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._target = target
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        self.on_change = on_change
        self._entries: list[Edit] = []
        self._index = 0
        self._clean: int | None = 0
        self.dropped = 0
        """How many of the oldest entries were dropped to respect the memory bound."""

    # ------------------------------------------------------------------ state

    @property
    def index(self) -> int:
        """Number of applied entries."""
        return self._index

    @property
    def can_undo(self) -> bool:
        """True when there is an applied entry."""
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        """True when there is an undone entry."""
        return self._index < len(self._entries)

    @property
    def undo_text(self) -> str:
        """Text of the entry :meth:`undo` would revert ("" if none)."""
        return self._entries[self._index - 1].text if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        """Text of the entry :meth:`redo` would apply ("" if none)."""
        return self._entries[self._index].text if self.can_redo else ""

    @property
    def nbytes(self) -> int:
        """Sum of the entries' ``nbytes``."""
        return sum(edit.nbytes for edit in self._entries)

    @property
    def clean_index(self) -> int | None:
        """The index at the last save, or None when that state can no longer be reached."""
        return self._clean

    @property
    def is_clean(self) -> bool:
        """True when the document is as it was last saved."""
        return self._clean == self._index

    def entries(self) -> list[str]:
        """The texts of all entries, oldest first."""
        return [edit.text for edit in self._entries]

    def edits(self) -> list[Edit]:
        """The entries themselves, oldest first."""
        return list(self._entries)

    # ------------------------------------------------------------------ changes

    def push(self, edit: Edit) -> None:
        """Record ``edit`` (already applied); drops the redo tail and, if needed, old entries."""
        if self._index < len(self._entries):
            del self._entries[self._index:]
            if self._clean is not None and self._clean > self._index:
                self._clean = None
        top = self._entries[-1] if self._entries else None
        if top is not None and self._clean != self._index and top.merge(edit):
            self._changed()
            return
        self._entries.append(edit)
        self._index += 1
        self._enforce_bound()
        self._changed()

    def undo(self) -> bool:
        """Revert the newest applied entry; False if there is none."""
        if not self.can_undo:
            return False
        self._undo_one()
        self._changed()
        return True

    def redo(self) -> bool:
        """Re-apply the oldest undone entry; False if there is none."""
        if not self.can_redo:
            return False
        self._redo_one()
        self._changed()
        return True

    def goto(self, index: int) -> None:
        """Undo or redo until ``index`` entries are applied (clamped to the valid range)."""
        index = min(max(int(index), 0), len(self._entries))
        if index == self._index:
            return
        while self._index > index:
            self._undo_one()
        while self._index < index:
            self._redo_one()
        self._changed()

    def mark_clean(self) -> None:
        """Remember the current state as saved."""
        self._clean = self._index
        self._changed()

    def mark_unclean(self) -> None:
        """Forget the saved state (a recovered or imported document has unsaved changes)."""
        self._clean = None
        self._changed()

    def clear(self) -> None:
        """Forget every entry; the current state counts as saved if it was."""
        clean = self.is_clean
        self._entries.clear()
        self._index = 0
        self._clean = 0 if clean else None
        self._changed()

    # ------------------------------------------------------------------ internals

    def _undo_one(self) -> None:
        self._entries[self._index - 1].undo(self._target)
        self._index -= 1

    def _redo_one(self) -> None:
        self._entries[self._index].redo(self._target)
        self._index += 1

    def _enforce_bound(self) -> None:
        total = self.nbytes
        while total > self.max_bytes and len(self._entries) > 1:
            total -= self._entries.pop(0).nbytes
            self._index -= 1
            self.dropped += 1
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
