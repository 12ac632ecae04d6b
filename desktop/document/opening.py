"""Documents from files: an OpenRaster session (``.ora``) or any image :mod:`engine.io` reads.

The document model itself does not read files; this module and :mod:`~desktop.document.ora`
depend on it, not the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop.document.document import Document
from desktop.document.layer import Layer
from desktop.document.ora import load_ora

if TYPE_CHECKING:
    from engine.io import LoadedImage

__all__ = ["document_from_image", "open_document"]


def document_from_image(loaded: LoadedImage) -> Document:
    """A one-layer document ("Original") from :func:`engine.io.load`'s result."""
    path = getattr(loaded, "path", None)
    layer = Layer(pixels=loaded.pixels, name="Original")
    return Document([layer], source_path=path, icc_profile=loaded.icc_profile, exif=loaded.exif,
                    bit_depth=layer.bit_depth)


def open_document(path: str | Path) -> Document:
    """Open an OpenRaster file (``.ora``) or any image :mod:`engine.io` reads.

    Raises
    ------
    desktop.document.ora.OraError, engine.io.ImageReadError
        With a message naming the file.
    """
    path = Path(path)
    if path.suffix.lower() == ".ora":
        return load_ora(path)
    from engine import io

    doc = document_from_image(io.load(path))
    doc.source_path = path
    doc.title = path.name
    return doc
