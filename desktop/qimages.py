"""numpy ↔ QImage in one place: qimage2ndarray where a copy is fine, a shared buffer where not.

qimage2ndarray gives numpy views of a ``QImage``'s memory (``rgb_view``, ``alpha_view``) and
builds 32-bit ``QImage``\\ s from arrays (``array2qimage``, a copy that reorders the channels
into Qt's ARGB32 layout). It is used for:

* :func:`array_from_qimage` — a ``QImage`` from Qt (the clipboard, a grabbed widget) as
  ``uint8`` RGB or RGBA pixels;
* :func:`qimage_from_array` — a small image for the screen (an op's live preview).

Two places wrap numpy memory in a ``QImage`` by hand, without a copy, and must stay that way:

* :func:`pixmap_from_pixels` (canvas layers): the ``QImage`` borrows the layer's own ``uint8``
  buffer in its own channel layout and ``QPixmap.fromImage`` makes the one copy the canvas
  keeps. ``array2qimage`` would first copy a 24 MP layer into a new 96 MB ARGB32 image with a
  strided numpy shuffle (about 200 ms against 63 ms for the wrap and Qt's own conversion, measured
  here) before the pixmap is made. Either way it happens once per change of a layer's pixels,
  never per repaint.
* :func:`wrap_indexed8` (the mask overlay): the ``QImage`` *is* the live coverage array, so a brush
  dab written into the array shows at the next repaint of its rectangle. ``gray2qimage`` copies,
  and would have to copy the whole mask again after every dab.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtGui import QImage, QPixmap

# qimage2ndarray picks its Qt binding when it is first imported: PySide6, whatever else is
# installed or loaded.
os.environ.setdefault("QT_DRIVER", "PySide6")
import qimage2ndarray  # noqa: E402

__all__ = ["array_from_qimage", "pixmap_from_pixels", "qimage_from_array", "wrap_indexed8"]

_WRAP_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
                 4: QImage.Format.Format_RGBA8888}


def array_from_qimage(image: QImage, *, keep_alpha: bool = True) -> np.ndarray:
    """``image`` as ``uint8`` ``H×W×3`` RGB, or ``H×W×4`` RGBA when it has transparent pixels.

    The result is a copy (the ``QImage`` may go); ``keep_alpha=False`` always gives RGB.
    """
    argb = image.convertToFormat(QImage.Format.Format_ARGB32)
    rgb = qimage2ndarray.rgb_view(argb)
    alpha = qimage2ndarray.alpha_view(argb)
    if keep_alpha and (alpha < 255).any():
        return np.dstack([rgb, alpha])
    return np.ascontiguousarray(rgb)


def qimage_from_array(array: np.ndarray) -> QImage:
    """A new 32-bit ``QImage`` (a copy) of ``uint8`` gray ``H×W`` / ``H×W×1``, RGB or RGBA."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {array.dtype}")
    return qimage2ndarray.array2qimage(array)


def pixmap_from_pixels(pixels: np.ndarray, *, opaque: bool = False) -> QPixmap:
    """A ``QPixmap`` of ``uint8`` ``H×W×C`` pixels (C = 1, 3 or 4) in one copy.

    The ``QImage`` wraps ``pixels``' buffer (made C-contiguous first if it is a strided view)
    and is dropped as soon as ``QPixmap.fromImage`` has made the pixmap's own copy. ``opaque``
    ignores a fourth channel (the layer has no alpha), which lets Qt keep a cheaper pixmap.
    """
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    fmt = _WRAP_FORMATS[channels]
    if channels == 4 and opaque:
        fmt = QImage.Format.Format_RGBX8888
    image = QImage(array, width, height, width * channels, fmt)
    pixmap = QPixmap.fromImage(image)
    del image  # the pixmap owns its pixels now; the wrapper must not outlive ``array``
    return pixmap


def wrap_indexed8(coverage: np.ndarray, colours: list[int]) -> QImage:
    """A ``Format_Indexed8`` ``QImage`` that shares ``coverage``'s memory (no copy).

    ``coverage`` must be ``uint8 H×W`` and C-contiguous, and must outlive the image (keep a
    reference beside it); ``colours`` is the 256-entry ARGB colour table.
    """
    if coverage.dtype != np.uint8 or coverage.ndim != 2 or not coverage.flags.c_contiguous:
        raise ValueError("mask coverage must be a C-contiguous uint8 H×W array")
    height, width = coverage.shape
    image = QImage(coverage, width, height, width, QImage.Format.Format_Indexed8)
    image.setColorTable(colours)
    return image
