"""The mask's undo steps: a stroke's tiles, a whole-mask edit's changed box, an inversion.

:class:`~desktop.document.mask.Mask` makes them (after it has changed its coverage), the
document pushes them, and :func:`apply_kind` runs a whole-mask edit by name. They are applied
to any object with a ``mask`` that can write patches back and invert itself
(:class:`MaskHolder`, which a :class:`~desktop.document.document.Document` is), so this module
imports neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from desktop.document.history import ENTRY_OVERHEAD, Edit
from desktop.document.regions import Rect, union_rect

__all__ = ["MaskHolder", "MaskInvertEdit", "MaskPatchEdit", "MaskReplaceEdit", "MaskTile",
           "PatchWriter", "apply_kind", "mask_edit_kinds"]


class PatchWriter(Protocol):
    """What the mask edits need of a mask."""

    def write_tiles(self, patches: Iterable[tuple[slice, slice, np.ndarray]],
                    rect: Rect | None) -> None: ...

    def invert_in_place(self) -> None: ...


class MaskHolder(Protocol):
    """What the mask edits are applied to: something that has a mask (a document)."""

    @property
    def mask(self) -> PatchWriter: ...


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
        self.nbytes = ENTRY_OVERHEAD + sum(t.before.nbytes + t.after.nbytes for t in self.tiles)
        rect: Rect | None = None
        for tile in self.tiles:
            rect = union_rect(rect, (tile.rows, tile.cols))
        self.rect = rect

    def redo(self, target: MaskHolder) -> None:
        target.mask.write_tiles([(t.rows, t.cols, t.after) for t in self.tiles], self.rect)

    def undo(self, target: MaskHolder) -> None:
        target.mask.write_tiles([(t.rows, t.cols, t.before) for t in self.tiles], self.rect)


class MaskReplaceEdit(Edit):
    """A whole-mask edit (lasso, rectangle, grow, …): before/after of the changed bbox only."""

    def __init__(self, rows: slice, cols: slice, before: np.ndarray, after: np.ndarray,
                 text: str) -> None:
        self.rows, self.cols = rows, cols
        self.before, self.after = before, after
        self.text = text
        self.nbytes = ENTRY_OVERHEAD + before.nbytes + after.nbytes

    def redo(self, target: MaskHolder) -> None:
        target.mask.write_tiles([(self.rows, self.cols, self.after)], (self.rows, self.cols))

    def undo(self, target: MaskHolder) -> None:
        target.mask.write_tiles([(self.rows, self.cols, self.before)], (self.rows, self.cols))


class MaskInvertEdit(Edit):
    """Invert the mask; its own inverse, so it stores no pixels."""

    text = "Invert mask"

    def redo(self, target: MaskHolder) -> None:
        target.mask.invert_in_place()

    def undo(self, target: MaskHolder) -> None:
        target.mask.invert_in_place()


def mask_edit_kinds() -> tuple[str, ...]:
    """The ``kind`` names :meth:`Document.apply_mask_edit` accepts."""
    return tuple(_KINDS)


_KINDS = {
    "invert": "invert",
    "clear": "clear",
    "grow": "grow",
    "shrink": "shrink",
    "feather": "feather",
    "rect": "fill_rect",
    "polygon": "fill_polygon",
    "lasso": "fill_polygon",
    "set": "set_from_bool",
    "coverage": "set_coverage",
}


def apply_kind(target: Any, kind: str, /, **kw: object) -> Edit | None:
    """Run the whole-mask edit named ``kind`` on ``target`` (a
    :class:`~desktop.document.mask.Mask`) with keyword arguments ``kw``; return its undo step."""
    try:
        method = _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown mask edit {kind!r}; use one of {', '.join(_KINDS)}") from None
    return getattr(target, method)(**kw)
