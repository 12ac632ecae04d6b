"""Image files in and out: load, save, read a mask, list the images of a folder.

The formats and what each keeps are one table, :mod:`~engine.io.formats`; loading is
:mod:`~engine.io.read` (what a header says and whether the image fits in
:mod:`~engine.io.header`, the memory this process may use in :mod:`~engine.io.memory`, pixel
decoding in :mod:`~engine.io.decode`), saving :mod:`~engine.io.write` (always atomic), folder
listing :mod:`~engine.io.folders`. Every failure is an :class:`ImageReadError` or
:class:`ImageWriteError` whose message names the file and says what to do.
"""

from engine.io.folders import list_images
from engine.io.formats import (
    FORMATS,
    SUPPORTED_EXTENSIONS,
    ImageFormat,
    ImageReadError,
    ImageWriteError,
    format_of,
    is_supported,
    keeps_16_bit,
    keeps_alpha,
)
from engine.io.memory import MEMORY_ENV, format_size, memory_budget, parse_size
from engine.io.read import DEFAULT_MAX_PIXELS, LoadedImage, load, read_mask
from engine.io.write import encode, save

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "SUPPORTED_EXTENSIONS",
    "ImageFormat",
    "ImageReadError",
    "ImageWriteError",
    "LoadedImage",
    "MEMORY_ENV",
    "encode",
    "format_of",
    "format_size",
    "is_supported",
    "keeps_16_bit",
    "keeps_alpha",
    "list_images",
    "load",
    "memory_budget",
    "parse_size",
    "read_mask",
    "save",
]
