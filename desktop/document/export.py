"""Export a document as a flat image, one layer, or the mask, through :mod:`engine.io`.

Decisions:

* 16-bit documents export 16-bit to PNG and TIFF; JPEG, WebP and BMP get 8 bits, rounded from
  the float composite (not truncated from 16 bits).
* Transparency is kept in PNG, TIFF and WebP. JPEG and BMP cannot store it: the image is
  flattened onto white (:func:`keeps_alpha` lets the UI warn before). Fully opaque results
  never carry an alpha channel.
* The ICC profile and EXIF block of the source travel with the export (BMP has no metadata).
* Writing is atomic (``io.save``); ``overwrite=False`` raises :class:`FileExistsError`
  before any pixel work when the file exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.document.composite import flatten_pixels
from engine import io
from engine.io.formats import keeps_16_bit, keeps_alpha

if TYPE_CHECKING:
    from desktop.document.document import Document

__all__ = ["export_flat", "export_layer", "export_mask", "keeps_alpha", "keeps_16_bit"]

def _check_target(path: Path, overwrite: bool) -> None:
    if not io.is_supported(path):
        raise io.ImageWriteError(
            f"Cannot save {path.name}: unknown extension {path.suffix!r}; use one of "
            f"{', '.join(io.SUPPORTED_EXTENSIONS)}", path)
    if not overwrite and path.exists():
        raise FileExistsError(f"Cannot save {path.name}: the file already exists ({path}) and "
                              "overwriting was not allowed")


def export_flat(doc: Document, path: str | Path, *, overwrite: bool = False,
                quality: int = 95) -> Path:
    """Write the visible stack flattened to one image.

    Parameters
    ----------
    doc : Document
        The document.
    path : path
        Target; the extension picks the format (.png .tif .tiff .jpg .jpeg .webp .bmp).
    overwrite : bool
        Replace an existing file.
    quality : int
        JPEG/WebP quality (WebP at 100 is lossless).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    FileExistsError
        ``overwrite`` is False and the file exists.
    engine.io.ImageWriteError
        Unknown extension, missing folder, or a write failure.
    """
    path = Path(path)
    _check_target(path, overwrite)
    deep = doc.bit_depth == 16 and keeps_16_bit(path)
    pixels = flatten_pixels(doc.layers, np.uint16 if deep else np.uint8)
    return io.save(path, pixels, icc_profile=doc.icc_profile, exif=doc.exif,
                        quality=quality, overwrite=overwrite,
                        flatten_alpha=not keeps_alpha(path))


def export_layer(doc: Document, index: int, path: str | Path, *, overwrite: bool = False,
                 quality: int = 95) -> Path:
    """Write one layer's pixels as they are (its opacity and visibility are not applied).

    16-bit layers stay 16-bit where the format allows; alpha is flattened onto white for JPEG
    and BMP. Raises as :func:`export_flat`.
    """
    path = Path(path)
    _check_target(path, overwrite)
    layer = doc.layers[index]
    return io.save(path, layer.pixels, icc_profile=doc.icc_profile, exif=doc.exif,
                        quality=quality, overwrite=overwrite,
                        flatten_alpha=not keeps_alpha(path))


def export_mask(doc: Document, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the mask as an 8-bit gray image (white = repair, soft edges kept).

    PNG is the natural choice; any supported lossless format works. Raises as
    :func:`export_flat`.
    """
    path = Path(path)
    _check_target(path, overwrite)
    return io.save(path, doc.mask.coverage, overwrite=overwrite)
