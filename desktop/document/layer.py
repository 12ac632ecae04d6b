"""One layer of a document: immutable pixels at the source bit depth, plus display properties.

Pixels are ``uint8`` or ``uint16`` ``H×W×C`` with C = 1 (gray), 3 (RGB) or 4 (RGBA, alpha
last). They are never written into: an edit replaces the array, so an undo step can keep the
old array without copying it, and the cached canvas image stays valid until the array changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.core.pixels import split_alpha, to_float, to_uint8

__all__ = ["Layer", "check_pixels"]

_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_BAND = 256  # rows converted at a time for the canvas image


def check_pixels(pixels: np.ndarray, *, name: str = "layer pixels") -> np.ndarray:
    """Validate layer pixels and return them as a read-only ``H×W×C`` view.

    Parameters
    ----------
    pixels : ndarray
        ``uint8`` or ``uint16``, ``H×W`` or ``H×W×C`` with C in 1, 3, 4.
    name : str
        What to call the array in error messages.

    Returns
    -------
    ndarray
        A read-only view (the caller's array keeps its own flags), or the array itself when it
        is already read-only.
    """
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(pixels).__name__}")
    if pixels.dtype not in _DTYPES:
        raise TypeError(f"{name} must be uint8 or uint16, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"{name} must be H×W×1, H×W×3 or H×W×4, got shape {pixels.shape}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"{name} are empty (shape {pixels.shape})")
    if not pixels.flags.writeable:
        return pixels  # already frozen: keep the very array (undo steps compare identity)
    view = pixels.view()
    view.flags.writeable = False
    return view


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(eq=False)
class Layer:
    """A full-canvas layer.

    Attributes
    ----------
    pixels : ndarray
        ``uint8``/``uint16`` ``H×W×C`` (C in 1, 3, 4; 4 = RGBA). Read-only: assign a new array
        to change it (the canvas cache is dropped on assignment).
    name : str
        Shown in the layers panel.
    visible : bool
        Hidden layers are skipped by compositing and export.
    opacity : float
        0–1, applied on top of the layer's own alpha.
    recipe : dict or None
        ``{"op", "params", "engine"}`` (plus ``"mask_bbox"``) for a result layer.
    id : str
        A uuid hex that never changes, also across an .ora round trip.
    source_id : str or None
        For a result layer, the ``id`` of the layer the op read (it may since have moved, or
        been deleted); None for other layers. Kept across an .ora round trip.
    """

    pixels: np.ndarray
    name: str
    visible: bool = True
    opacity: float = 1.0
    recipe: dict[str, Any] | None = None
    id: str = field(default_factory=_new_id)
    source_id: str | None = None
    _display: np.ndarray | None = field(default=None, init=False, repr=False)

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "pixels":
            value = check_pixels(value)
            object.__setattr__(self, "_display", None)
        elif key == "opacity":
            value = float(min(max(float(value), 0.0), 1.0))
        elif key == "visible":
            value = bool(value)
        object.__setattr__(self, key, value)

    # ------------------------------------------------------------------ shape and depth

    @property
    def height(self) -> int:
        """Rows."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Columns."""
        return int(self.pixels.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def channels(self) -> int:
        """Colour channels: 1 (gray) or 3 (RGB); alpha not counted."""
        return 3 if self.pixels.shape[2] >= 3 else 1

    @property
    def has_alpha(self) -> bool:
        """True for RGBA pixels."""
        return self.pixels.shape[2] == 4

    @property
    def bit_depth(self) -> int:
        """8 or 16."""
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def dtype(self) -> np.dtype:
        """``uint8`` or ``uint16``."""
        return self.pixels.dtype

    @property
    def nbytes(self) -> int:
        """Memory held by the pixels."""
        return int(self.pixels.nbytes)

    # ------------------------------------------------------------------ views

    def colour(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """The colour channels (alpha dropped) at the stored depth, as a read-only view."""
        return split_alpha(self.pixels[rows, cols])[0]

    def colour_float(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Colour channels as float32 ``h×w×C`` in [0, 1] (the engine pixel contract).

        Parameters
        ----------
        rows, cols : slice
            The region; the whole layer by default.
        """
        return to_float(self.colour(rows, cols))

    def alpha(self) -> np.ndarray | None:
        """The alpha plane at the stored depth (read-only ``H×W×1`` view), or None."""
        return split_alpha(self.pixels)[1]

    def alpha_float(self, rows: slice = slice(None),
                    cols: slice = slice(None)) -> np.ndarray | None:
        """Alpha as float32 ``h×w×1`` in [0, 1], or None for an opaque layer."""
        alpha = split_alpha(self.pixels[rows, cols])[1]
        return None if alpha is None else to_float(alpha)

    def display_rgba8(self) -> np.ndarray:
        """Straight (not premultiplied) ``uint8`` ``H×W×4`` for the canvas, C-contiguous.

        Computed once and cached; the cache is dropped when ``pixels`` is replaced. Opacity and
        visibility are not applied (the canvas item does that). Do not write into the result.
        """
        if self._display is None:
            out = np.empty((self.height, self.width, 4), np.uint8)
            # Row bands keep the 16→8-bit temporaries small on a 50 MP layer.
            for top in range(0, self.height, _BAND):
                band = to_uint8(self.pixels[top:top + _BAND])
                target = out[top:top + _BAND]
                target[:, :, :3] = band[:, :, :3] if band.shape[2] >= 3 else band
                target[:, :, 3] = band[:, :, 3] if band.shape[2] == 4 else 255
            object.__setattr__(self, "_display", out)
        return self._display

    def copy(self, **changes: Any) -> Layer:
        """A new layer (new id) sharing the immutable pixels, with ``changes`` applied."""
        changes.setdefault("id", _new_id())
        if self.recipe is not None and "recipe" not in changes:
            changes["recipe"] = dict(self.recipe)
        copy = replace(self, **changes)
        if copy.pixels is self.pixels:
            object.__setattr__(copy, "_display", self._display)  # same pixels, same canvas image
        return copy
