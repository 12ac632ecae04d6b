"""The layer stack's undo steps: add, remove, move, change properties, merge, replace pixels.

Each edit changes its target only through the few recording helpers of :class:`LayerStack`
(which a :class:`~desktop.document.document.Document` provides): they change the list and note
what changed, and the document announces it once the history has moved. Layer pixels are
immutable, so an edit keeps the arrays it replaced without copying them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from desktop.document.history import ENTRY_OVERHEAD, Edit
from desktop.document.layer import Layer
from desktop.document.regions import Rect

__all__ = ["AddLayerEdit", "LayerPropsEdit", "LayerStack", "MergeDownEdit", "MoveLayerEdit",
           "RemoveLayerEdit", "ReplaceLayerPixelsEdit"]


class LayerStack(Protocol):
    """What the layer edits change: the layer list, through helpers that record the change."""

    @property
    def layers(self) -> list[Layer]: ...

    def _insert_layer(self, index: int, layer: Layer) -> None: ...

    def _pop_layer(self, index: int) -> Layer: ...

    def _move_layer(self, index: int, new_index: int) -> None: ...

    def _set_props(self, layer: Layer, props: Mapping[str, Any]) -> None: ...

    def _replace_pixels(self, layer: Layer, pixels: np.ndarray, rect: Rect | None) -> None: ...

    def _set_active(self, index: int) -> None: ...


class AddLayerEdit(Edit):
    """Insert ``layer`` at ``index`` (bottom = 0)."""

    def __init__(self, layer: Layer, index: int, active_before: int, text: str | None = None):
        self.layer, self.index, self.active_before = layer, index, active_before
        self.text = text or f"Add layer “{layer.name}”"

    def redo(self, target: LayerStack) -> None:
        target._insert_layer(self.index, self.layer)
        target._set_active(self.index)

    def undo(self, target: LayerStack) -> None:
        target._pop_layer(self.index)
        target._set_active(self.active_before)


class RemoveLayerEdit(Edit):
    """Remove the layer at ``index``; the history keeps it alive for undo."""

    def __init__(self, layer: Layer, index: int, active_before: int) -> None:
        self.layer, self.index, self.active_before = layer, index, active_before
        self.text = f"Delete layer “{layer.name}”"
        self.nbytes = ENTRY_OVERHEAD + layer.nbytes

    def redo(self, target: LayerStack) -> None:
        target._pop_layer(self.index)
        target._set_active(min(self.index, len(target.layers) - 1))

    def undo(self, target: LayerStack) -> None:
        target._insert_layer(self.index, self.layer)
        target._set_active(self.active_before)


class MoveLayerEdit(Edit):
    """Move the layer at ``index`` to ``new_index`` (the others shift)."""

    def __init__(self, index: int, new_index: int, name: str) -> None:
        self.index, self.new_index = index, new_index
        self.text = f"Move layer “{name}”"

    def redo(self, target: LayerStack) -> None:
        target._move_layer(self.index, self.new_index)
        target._set_active(self.new_index)

    def undo(self, target: LayerStack) -> None:
        target._move_layer(self.new_index, self.index)
        target._set_active(self.index)


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

    def redo(self, target: LayerStack) -> None:
        target._set_props(self.layer, self.after)

    def undo(self, target: LayerStack) -> None:
        target._set_props(self.layer, self.before)

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
        self.nbytes = ENTRY_OVERHEAD + upper.nbytes + lower.nbytes

    def redo(self, target: LayerStack) -> None:
        target._pop_layer(self.index)
        target._pop_layer(self.index - 1)
        target._insert_layer(self.index - 1, self.merged)
        target._set_active(self.index - 1)

    def undo(self, target: LayerStack) -> None:
        target._pop_layer(self.index - 1)
        target._insert_layer(self.index - 1, self.lower)
        target._insert_layer(self.index, self.upper)
        target._set_active(self.index)


class ReplaceLayerPixelsEdit(Edit):
    """Swap a layer's (immutable) pixel array; both arrays are kept, neither is copied."""

    def __init__(self, layer: Layer, before: np.ndarray, after: np.ndarray,
                 text: str = "Edit pixels", rect: Rect | None = None) -> None:
        self.layer, self.before, self.after, self.rect = layer, before, after, rect
        self.text = text
        self.nbytes = ENTRY_OVERHEAD + max(before.nbytes, after.nbytes)

    def redo(self, target: LayerStack) -> None:
        target._replace_pixels(self.layer, self.after, self.rect)

    def undo(self, target: LayerStack) -> None:
        target._replace_pixels(self.layer, self.before, self.rect)
