"""The document: layers, the repair mask, the undo history, and the events the UI listens to.

Every public change goes through an :class:`~desktop.document.history.Edit`: the method builds
the edit, applies it with ``edit.redo(doc)`` and pushes it, so doing, undoing and redoing run the
same code. Layer edits (:mod:`~desktop.document.layer_edits`) call the private ``_insert_layer``
/ ``_pop_layer`` / … helpers, which only record what changed; the events go out once the history
has moved (one ``"layers"`` per step, however many layers the step touched).

Reading and writing files is not the document's business: :mod:`~desktop.document.opening`
makes documents from files and :mod:`~desktop.document.ora` saves them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from desktop.document.composite import flatten, flatten_pixels
from desktop.document.events import Emitter
from desktop.document.history import Edit, EditGroup, History
from desktop.document.layer import Layer, check_pixels
from desktop.document.layer_edits import (
    AddLayerEdit,
    LayerPropsEdit,
    MergeDownEdit,
    MoveLayerEdit,
    RemoveLayerEdit,
    ReplaceLayerPixelsEdit,
)
from desktop.document.mask import Mask
from desktop.document.mask_edits import MaskPatchEdit, apply_kind
from desktop.document.regions import Rect
from desktop.document.results import image_layer, result_layer

__all__ = ["Document"]

_PROPS = ("name", "visible", "opacity")


class Document:
    """An image being repaired: a stack of full-canvas layers, one mask, one history.

    Parameters
    ----------
    layers : list of Layer
        Bottom → top; at least one, all the same size.
    source_path : path, optional
        The image file the document came from.
    icc_profile, exif : bytes, optional
        Metadata carried to exports.
    bit_depth : int
        8 or 16: the depth exports and new layers default to.
    title : str, optional
        For the window; defaults to the source file's name, else "Untitled".
    """

    def __init__(self, layers: list[Layer], *, source_path: str | Path | None = None,
                 icc_profile: bytes | None = None, exif: bytes | None = None,
                 bit_depth: int = 8, title: str | None = None) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a document needs at least one layer")
        height, width = layers[0].shape
        for layer in layers:
            self._check_size(layer, (height, width))
        if bit_depth not in (8, 16):
            raise ValueError(f"bit depth must be 8 or 16, not {bit_depth}")
        self.width, self.height = width, height
        self.layers: list[Layer] = layers
        self.events = Emitter()
        self.mask = Mask(height, width, events=self.events)
        self.source_path = Path(source_path) if source_path is not None else None
        self.save_path: Path | None = None
        self.icc_profile = icc_profile
        self.exif = exif
        self.bit_depth = int(bit_depth)
        self.title = title or (self.source_path.name if self.source_path else "Untitled")
        self._active = len(layers) - 1
        self._pending_layers = False
        self._pending_active = False
        self._pending_pixels: list[tuple[str, Rect | None]] = []
        self._dirty = False
        self._group: list[Edit] | None = None
        self.history = History(self, on_change=self._history_changed)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_float(cls, image: np.ndarray, *, name: str = "Image", bit_depth: int = 8,
                   recipe: Mapping[str, Any] | None = None, title: str | None = None) -> Document:
        """A one-layer document from an engine image (e.g. a generated texture).

        Opening files is :func:`desktop.document.opening.open_document`.
        """
        layer = image_layer(image, name=name, bit_depth=bit_depth, recipe=recipe)
        return cls([layer], bit_depth=bit_depth, title=title)

    # ------------------------------------------------------------------ state

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def dirty(self) -> bool:
        """True when there are changes since the last save."""
        return not self.history.is_clean

    @property
    def active_index(self) -> int:
        """Index of the active layer (bottom = 0); setting it emits ``"active"``."""
        return self._active

    @active_index.setter
    def active_index(self, index: int) -> None:
        self._set_active(index)
        self._flush()

    @property
    def active_layer(self) -> Layer:
        """The active layer."""
        return self.layers[self._active]

    def index_of(self, layer: Layer | str) -> int:
        """Index of a layer given as the object or its id; ValueError if it is not here."""
        for i, candidate in enumerate(self.layers):
            if candidate is layer or candidate.id == layer:
                return i
        name = layer.name if isinstance(layer, Layer) else layer
        raise ValueError(f"layer “{name}” is no longer in the document")

    def composite_float(self, rows: slice = slice(None),
                        cols: slice = slice(None)) -> tuple[np.ndarray, np.ndarray | None]:
        """The visible stack flattened: float32 colour ``h×w×C`` and alpha ``h×w×1`` or None."""
        return flatten(self.layers, rows, cols)

    # ------------------------------------------------------------------ layer edits

    def add_layer(self, layer: Layer, index: int | None = None) -> Layer:
        """Insert ``layer`` at ``index`` (default: above the active layer) and make it active."""
        self._check_size(layer, self.shape)
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"layer “{layer.name}” is already in the document")
        index = self._active + 1 if index is None else self._insert_position(index)
        self._do(AddLayerEdit(layer, index, self._active))
        return layer

    def remove_layer(self, index: int) -> Edit:
        """Delete the layer at ``index``; the last remaining layer cannot be deleted."""
        index = self._check_index(index)
        if len(self.layers) == 1:
            raise ValueError("a document keeps at least one layer")
        return self._do(RemoveLayerEdit(self.layers[index], index, self._active))

    def move_layer(self, index: int, new_index: int) -> Edit | None:
        """Move the layer at ``index`` to ``new_index`` (the others shift); None if no move."""
        index = self._check_index(index)
        new_index = self._check_index(new_index)
        if index == new_index:
            return None
        return self._do(MoveLayerEdit(index, new_index, self.layers[index].name))

    def set_layer_props(self, index: int, *, name: str | None = None,
                        visible: bool | None = None,
                        opacity: float | None = None) -> Edit | None:
        """Rename, show/hide or fade a layer; None when nothing changes.

        Consecutive opacity changes of one layer merge into one undo step (a slider drag).
        """
        layer = self.layers[self._check_index(index)]
        wanted: dict[str, Any] = {}
        if name is not None and str(name) != layer.name:
            wanted["name"] = str(name)
        if visible is not None and bool(visible) != layer.visible:
            wanted["visible"] = bool(visible)
        if opacity is not None:
            opacity = float(min(max(float(opacity), 0.0), 1.0))
            if opacity != layer.opacity:
                wanted["opacity"] = opacity
        if not wanted:
            return None
        before = {key: getattr(layer, key) for key in wanted}
        return self._do(LayerPropsEdit(layer, before, wanted))

    def duplicate_layer(self, index: int) -> Layer:
        """Copy the layer at ``index`` (sharing its immutable pixels) just above it."""
        layer = self.layers[self._check_index(index)]
        copy = layer.copy(name=f"{layer.name} copy")
        self._do(AddLayerEdit(copy, index + 1, self._active,
                              text=f"Duplicate layer “{layer.name}”"))
        return copy

    def merge_down(self, index: int) -> Layer:
        """Merge the layer at ``index`` into the one below; the look of the stack is kept.

        The upper layer is composited with its opacity (not at all when hidden) onto the lower
        layer's pixels; the result keeps the lower layer's name, visibility and opacity, is
        16-bit if either layer is, RGB if either contributing layer is, and has alpha only when
        the lower layer has.
        """
        index = self._check_index(index)
        if index == 0:
            raise ValueError("the bottom layer has no layer below to merge into")
        upper, lower = self.layers[index], self.layers[index - 1]
        dtype = np.uint16 if 16 in (upper.bit_depth, lower.bit_depth) else np.uint8
        base = lower.copy(visible=True, opacity=1.0)
        merged = lower.copy(pixels=flatten_pixels([base, upper], dtype), recipe=None,
                            source_id=None)
        self._do(MergeDownEdit(index, upper, lower, merged))
        return merged

    def set_layer_pixels(self, index: int, pixels: np.ndarray,
                         text: str = "Edit pixels") -> Edit:
        """Replace a layer's pixels (same size) as one undo step."""
        layer = self.layers[self._check_index(index)]
        pixels = check_pixels(pixels)
        if pixels.shape[:2] != self.shape:
            raise ValueError(f"new pixels are {pixels.shape[1]}×{pixels.shape[0]}, the document"
                             f" is {self.width}×{self.height}")
        return self._do(ReplaceLayerPixelsEdit(layer, layer.pixels, pixels, text))

    def add_result_layer(self, source_index: int | Layer, image: np.ndarray,
                         recipe: Mapping[str, Any], mask: np.ndarray | None = None, *,
                         name: str) -> Layer:
        """Put an op's result on a new layer directly above its source layer.

        Parameters
        ----------
        source_index : int or Layer
            The layer the op read (the object is safest: the index may have moved meanwhile).
        image : ndarray
            The op's float32 ``H×W×C`` result (C = 1 or 3).
        recipe : mapping
            ``Recipe.to_dict()``; stored on the layer with ``"mask_bbox": [x0, y0, x1, y1]``
            (exclusive ends; None without a mask).
        mask : ndarray, optional
            What confined the op. ``bool`` → hard: the result where True. ``uint8`` coverage
            (e.g. ``doc.mask.snapshot()`` taken when the job started) or float weights in
            [0, 1] → soft: ``source + (result − source) · coverage / 255``. Either way pixels
            outside the mask (coverage 0) are bit-identical to the source, and only the mask's
            bounding box is computed (:func:`~desktop.document.results.result_layer`).
        name : str
            Layer name: the op's title, which the caller that ran the op knows.

        Returns
        -------
        Layer
            The new layer: the source's bit depth, the source's alpha, RGB if either is RGB;
            its ``source_id`` is the source layer's id (what "Run again" selects).
        """
        if isinstance(source_index, Layer):
            source_index = self.index_of(source_index)
        source = self.layers[self._check_index(source_index)]
        layer = result_layer(source, image, recipe, mask, name=name)
        index = self.layers.index(source) + 1
        self._do(AddLayerEdit(layer, index, self._active, text=f"Add result “{layer.name}”"))
        return layer

    # ------------------------------------------------------------------ mask edits

    def mask_stroke_finished(self, edit: MaskPatchEdit | None) -> None:
        """Push the undo step :meth:`Mask.end_stroke` returned (None is ignored)."""
        if edit is not None:
            self._push(edit)

    def apply_mask_edit(self, kind: str, **kw: Any) -> Edit | None:
        """Run one whole-mask edit and push it; None when the mask did not change.

        ``kind`` is one of ``invert``, ``clear``, ``grow`` (``px``), ``shrink`` (``px``),
        ``feather`` (``px``), ``rect`` (``x0, y0, x1, y1``, optional ``value``), ``polygon`` or
        ``lasso`` (``points``, optional ``value``; 0 erases), ``set`` (``mask``, optional
        ``add``) and ``coverage`` (``coverage``). A brush stroke in progress is finished first.
        """
        self._finish_stroke()
        edit = apply_kind(self.mask, kind, **kw)
        if edit is not None:
            self._push(edit)
        return edit

    # ------------------------------------------------------------------ history

    @contextmanager
    def edit_group(self, text: str) -> Iterator[None]:
        """Record the edits made inside the ``with`` block as one undo step called ``text``.

        A group inside a group joins the outer one. When the block raises, the edits it made
        are undone and nothing is recorded; the events go out once, when the block ends.
        """
        if self._group is not None:
            yield
            return
        self._finish_stroke()
        self._group = edits = []
        try:
            yield
        except BaseException:
            self._group = None
            for edit in reversed(edits):
                edit.undo(self)
            self._flush()
            raise
        self._group = None
        if edits:
            self.history.push(EditGroup(text, edits))

    def undo(self) -> bool:
        """Undo one step (finishing a stroke in progress first); False if nothing to undo."""
        self._finish_stroke()
        return self.history.undo()

    def redo(self) -> bool:
        """Redo one step; False if nothing to redo."""
        self._finish_stroke()
        return self.history.redo()

    def mark_saved(self, path: str | Path | None = None) -> None:
        """The document was saved (to ``path``, an .ora, which becomes ``save_path``)."""
        if path is not None:
            self.save_path = Path(path)
            self.title = self.save_path.name
        self._dirty = True  # so that the history change below announces "dirty" False
        self.history.mark_clean()

    def mark_unsaved(self) -> None:
        """Count the current state as unsaved (a recovered document)."""
        self.history.mark_unclean()

    # ------------------------------------------------------------------ used by edits

    def _insert_layer(self, index: int, layer: Layer) -> None:
        self.layers.insert(index, layer)
        self._pending_layers = True

    def _pop_layer(self, index: int) -> Layer:
        layer = self.layers.pop(index)
        self._pending_layers = True
        return layer

    def _move_layer(self, index: int, new_index: int) -> None:
        self.layers.insert(new_index, self.layers.pop(index))
        self._pending_layers = True

    def _set_props(self, layer: Layer, props: Mapping[str, Any]) -> None:
        for key, value in props.items():
            if key not in _PROPS:
                raise ValueError(f"unknown layer property {key!r}")
            setattr(layer, key, value)
        self._pending_layers = True

    def _replace_pixels(self, layer: Layer, pixels: np.ndarray, rect: Rect | None) -> None:
        layer.pixels = pixels
        self._pending_pixels.append((layer.id, rect))

    def _set_active(self, index: int) -> None:
        index = min(max(int(index), 0), len(self.layers) - 1)
        if index != self._active:
            self._active = index
            self._pending_active = True

    # ------------------------------------------------------------------ internals

    def _do(self, edit: Edit) -> Edit:
        edit.redo(self)
        self._push(edit)
        return edit

    def _push(self, edit: Edit) -> None:
        if self._group is not None:
            self._group.append(edit)
        else:
            self.history.push(edit)

    def _finish_stroke(self) -> None:
        if self.mask.in_stroke:
            self.mask_stroke_finished(self.mask.end_stroke())

    def _flush(self) -> None:
        if self._pending_layers:
            self._pending_layers = False
            self.events.emit("layers")
        pixels, self._pending_pixels = self._pending_pixels, []
        for layer_id, rect in pixels:
            self.events.emit("layer_pixels", layer_id, rect)
        if self._pending_active:
            self._pending_active = False
            self.events.emit("active", self._active)

    def _history_changed(self) -> None:
        self._flush()
        self.events.emit("history")
        dirty = self.dirty
        if dirty != self._dirty:
            self._dirty = dirty
            self.events.emit("dirty", dirty)

    def _check_index(self, index: int) -> int:
        if not -len(self.layers) <= index < len(self.layers):
            raise IndexError(f"no layer {index}: the document has {len(self.layers)}")
        return index % len(self.layers)

    def _insert_position(self, index: int) -> int:
        if not 0 <= index <= len(self.layers):
            raise IndexError(f"cannot insert at {index}: the document has {len(self.layers)}"
                             " layers")
        return index

    @staticmethod
    def _check_size(layer: Layer, shape: tuple[int, int]) -> None:
        if layer.shape != tuple(shape):
            raise ValueError(f"layer “{layer.name}” is {layer.width}×{layer.height} but the "
                             f"document is {shape[1]}×{shape[0]}")
