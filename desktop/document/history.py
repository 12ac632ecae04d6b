"""Undo/redo that stores patches, bounded in bytes.

Every change to a document is an :class:`Edit` that has already been applied when it is pushed
(as Krita pushes its undo command after the work ran). The edits live with what they edit
(:mod:`~desktop.document.mask_edits`: strokes keep only the 64×64 tiles they touched, whole-mask
edits only the changed bounding box; :mod:`~desktop.document.layer_edits`: the immutable pixel
arrays they replaced, without copying them); this module only orders and bounds them, and
knows nothing of documents, masks or layers.

``nbytes`` of an edit is the memory the history keeps alive for it beyond what the document
itself holds while the edit is applied. :class:`History` drops its oldest entries when the sum
exceeds ``max_bytes`` (we use our own stack instead of ``QUndoStack`` because that one cannot
bound memory in bytes).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = ["ENTRY_OVERHEAD", "Edit", "EditGroup", "History", "default_max_bytes"]

ENTRY_OVERHEAD = 256
"""Bytes charged per entry for the Python objects themselves."""
_DEFAULT_MB = 1024


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
    nbytes: int = ENTRY_OVERHEAD

    @abstractmethod
    def redo(self, target: Any) -> None:
        """Apply the change again to ``target`` (the object the :class:`History` was made for)."""

    @abstractmethod
    def undo(self, target: Any) -> None:
        """Revert the change on ``target``."""

    def merge(self, other: Edit) -> bool:
        """Absorb ``other`` (pushed right after this edit) and return True, or return False."""
        return False


class EditGroup(Edit):
    """Several edits as one undo step (a recipe's layers and mask): redone in order, undone in
    reverse order."""

    def __init__(self, text: str, edits: list[Edit]) -> None:
        self.text = text
        self.edits = list(edits)
        self.nbytes = ENTRY_OVERHEAD + sum(edit.nbytes for edit in self.edits)

    def redo(self, target: Any) -> None:
        for edit in self.edits:
            edit.redo(target)

    def undo(self, target: Any) -> None:
        for edit in reversed(self.edits):
            edit.undo(target)


# ------------------------------------------------------------------------------------- history

class History:
    """A linear undo stack over a target document, bounded in bytes.

    ``index`` counts the applied entries: ``entries()[:index]`` are done, the rest can be
    redone. A history panel shows an "initial state" row for index 0 and one row per entry;
    :meth:`goto` moves to any row.

    Parameters
    ----------
    target : object
        What the edits apply to (a :class:`~desktop.document.document.Document`).
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
