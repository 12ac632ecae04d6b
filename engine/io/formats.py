"""The one table of the image formats PixelMend reads and writes, and what each can keep.

Everything that asks "is this an image file?", "does this format keep transparency?" or "does it
keep 16 bits per channel?" (loading, saving, the command line, the editor's export) reads it here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FORMATS", "SUPPORTED_EXTENSIONS", "ImageFormat", "ImageReadError", "ImageWriteError",
           "format_of", "is_supported", "keeps_16_bit", "keeps_alpha"]


@dataclass(frozen=True)
class ImageFormat:
    """One file format.

    Attributes
    ----------
    name : str
        The format's name as the encoders know it (``"PNG"``, ``"JPEG"`` ...).
    extensions : tuple of str
        File extensions, lower case with the dot, the usual one first.
    alpha : bool
        Stores transparency.
    deep : bool
        Stores 16 bits per channel (otherwise 8).
    metadata : bool
        Stores an ICC profile and EXIF.
    """

    name: str
    extensions: tuple[str, ...]
    alpha: bool
    deep: bool
    metadata: bool = True


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("PNG", (".png",), alpha=True, deep=True),
    ImageFormat("JPEG", (".jpg", ".jpeg"), alpha=False, deep=False),
    ImageFormat("TIFF", (".tif", ".tiff"), alpha=True, deep=True),
    ImageFormat("WEBP", (".webp",), alpha=True, deep=False),
    ImageFormat("BMP", (".bmp",), alpha=False, deep=False, metadata=False),
)
SUPPORTED_EXTENSIONS = tuple(ext for fmt in FORMATS for ext in fmt.extensions)
BY_NAME = {fmt.name: fmt for fmt in FORMATS}
BY_EXTENSION = {ext: fmt for fmt in FORMATS for ext in fmt.extensions}
ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "MPO": "JPEG"}
"""Other names Pillow or a person may use for a format."""


class ImageReadError(ValueError):
    """An image could not be read; the message names the file and the cause."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ImageWriteError(OSError):
    """An image could not be written; the message names the file (when known) and the cause."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def format_of(path: str | os.PathLike[str]) -> ImageFormat | None:
    """The format that ``path``'s extension names, or None for an unsupported one."""
    return BY_EXTENSION.get(Path(path).suffix.lower())


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Return True if the file extension is one PixelMend reads and writes."""
    return format_of(path) is not None


def keeps_alpha(path: str | os.PathLike[str]) -> bool:
    """True when the file type of ``path`` stores transparency (PNG, TIFF, WebP)."""
    fmt = format_of(path)
    return fmt is not None and fmt.alpha


def keeps_16_bit(path: str | os.PathLike[str]) -> bool:
    """True when the file type of ``path`` stores 16 bits per channel (PNG, TIFF)."""
    fmt = format_of(path)
    return fmt is not None and fmt.deep
