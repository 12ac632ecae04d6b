"""The Qt-free document model of the PixelMend editor.

Layers, the repair mask, compositing, patch-based undo, export, OpenRaster files and autosave.
Nothing here imports Qt; the UI listens to :class:`Emitter` events and calls these methods.

The modules depend one way: ``regions``, ``events``, ``history`` and ``layer`` at the bottom;
the edits (``mask_edits``, ``layer_edits``) above them; ``mask`` (its pixel maths in
``mask_raster``), ``results`` and ``composite``; then ``document``; and what reads or writes
documents (``ora``, ``opening``, ``export``, ``autosave``) on top.
"""

from desktop.document.autosave import Autosaver, Recovery, find_recoveries, state_dir
from desktop.document.composite import flatten, flatten_pixels
from desktop.document.document import Document
from desktop.document.events import Emitter
from desktop.document.export import (
    export_flat,
    export_layer,
    export_mask,
    keeps_16_bit,
    keeps_alpha,
)
from desktop.document.history import Edit, History
from desktop.document.layer import Layer
from desktop.document.layer_edits import (
    AddLayerEdit,
    LayerPropsEdit,
    MergeDownEdit,
    MoveLayerEdit,
    RemoveLayerEdit,
    ReplaceLayerPixelsEdit,
)
from desktop.document.mask import TILE, Mask
from desktop.document.mask_edits import MaskInvertEdit, MaskPatchEdit, MaskReplaceEdit
from desktop.document.opening import open_document
from desktop.document.ora import OraError, OraSnapshot, load_ora, save_ora, snapshot
from desktop.document.regions import Rect, union_rect

__all__ = [
    "TILE",
    "AddLayerEdit",
    "Autosaver",
    "Document",
    "Edit",
    "Emitter",
    "History",
    "Layer",
    "LayerPropsEdit",
    "Mask",
    "MaskInvertEdit",
    "MaskPatchEdit",
    "MaskReplaceEdit",
    "MergeDownEdit",
    "MoveLayerEdit",
    "OraError",
    "OraSnapshot",
    "Recovery",
    "Rect",
    "RemoveLayerEdit",
    "ReplaceLayerPixelsEdit",
    "export_flat",
    "export_layer",
    "export_mask",
    "find_recoveries",
    "flatten",
    "flatten_pixels",
    "keeps_16_bit",
    "keeps_alpha",
    "load_ora",
    "open_document",
    "save_ora",
    "snapshot",
    "state_dir",
    "union_rect",
]
