"""The Qt-free document model of the PixelMend editor.

Layers, the repair mask, compositing, patch-based undo, export, OpenRaster files and autosave.
Nothing here imports Qt; the UI listens to :class:`Emitter` events and calls these methods.
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
from desktop.document.history import (
    AddLayerEdit,
    Edit,
    History,
    LayerPropsEdit,
    MaskInvertEdit,
    MaskPatchEdit,
    MaskReplaceEdit,
    MergeDownEdit,
    MoveLayerEdit,
    RemoveLayerEdit,
    ReplaceLayerPixelsEdit,
)
from desktop.document.layer import Layer
from desktop.document.mask import TILE, Mask
from desktop.document.ora import OraError, OraSnapshot, load_ora, save_ora, snapshot

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
    "save_ora",
    "snapshot",
    "state_dir",
]
