"""Image loading (PNG, JPEG, TIFF, WebP, BMP).

Pixels come back at the source bit depth (uint8 or uint16), ``H×W×C`` with C in {1, 3, 4},
upright (EXIF orientation applied), with the ICC profile and EXIF block kept for saving.

Decisions worth knowing:

* 16-bit RGB/RGBA (and gray+alpha) PNG is decoded with OpenCV and 16-bit multi-channel TIFF with
  tifffile, because Pillow reduces those to 8 bits (or, 16-bit gray+alpha TIFF, does not open
  it). Gray+alpha always becomes RGBA.
* 32-bit TIFF gray: float ("F") data inside [0, 1] is scaled by 65535; integer ("I") data inside
  [0, 65535] is kept as is; anything else is stretched linearly from its min..max onto 0..65535
  (NaN becomes 0). The result is uint16 with ``bit_depth == 16``.
* CMYK is converted to sRGB through its ICC profile when it has one (else Pillow's naive formula),
  and the CMYK profile is dropped. A profile whose colour space no longer matches the pixels
  (a gray profile after gray+alpha → RGBA) is dropped as well.
* Saving 16-bit pixels as JPEG, WebP or BMP reduces them to 8 bits with rounding, ``(x+128)//257``.
* JPEG and BMP cannot keep transparency: an RGBA image with any non-opaque pixel raises
  :class:`ImageWriteError` unless ``flatten_alpha=True`` (composite onto white). A fully opaque
  alpha channel is dropped silently. WebP is lossless when ``quality >= 100``.
* The pixel limit is checked from the header, before any decoding; Pillow's own
  decompression-bomb check is switched off while we open files, so our limit is the one that counts.
* The memory an image needs (the decoder's buffers, the pixels, one float32 working copy; see
  :func:`engine.io.decode.needed_bytes`) is compared with what this process may use
  (:func:`engine.io.memory.memory_budget`) from the header as well; an allocation that still
  fails while decoding gives the same kind of message, never a decoder's own error.
* Only regular files are opened: a directory, a FIFO, a device or a socket is refused at once
  (checked before opening, and again on the open handle, which never waits for a writer).
* Truncated files are errors: this module relies on ``ImageFile.LOAD_TRUNCATED_IMAGES`` being False.
* A damaged EXIF block is dropped (no orientation is applied); the pixels still load.
"""

from __future__ import annotations

import os
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.io.decode import (
    array_pixels,
    exif_block,
    icc_matches,
    orient,
    pillow_pixels,
    png_chunks,
)
from engine.io.formats import ALIASES, BY_NAME, ImageReadError
from engine.io.header import (
    check_memory,
    check_pixels,
    fail,
    memory_error,
    pillow_header,
    tiff_only_header,
)
from engine.io.memory import memory_budget

__all__ = ["DEFAULT_MAX_PIXELS", "LoadedImage", "load", "read_mask"]

DEFAULT_MAX_PIXELS = 250_000_000
_SIGNATURES = [(b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"),
               (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"), (b"BM", "BMP")]


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image: upright pixels at source bit depth plus the metadata needed to save it."""

    pixels: np.ndarray
    bit_depth: int
    has_alpha: bool
    icc_profile: bytes | None
    exif: bytes | None
    format: str
    path: Path
    source_mode: str

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


_bomb_lock = threading.Lock()
_bomb_depth = 0
_bomb_saved: int | None = None


@contextmanager
def _no_pillow_bomb_check() -> Iterator[None]:
    """Disable Pillow's decompression-bomb check (ours replaces it), re-entrant across threads."""
    global _bomb_depth, _bomb_saved
    with _bomb_lock:
        if _bomb_depth == 0:
            _bomb_saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _bomb_depth += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        with _bomb_lock:
            _bomb_depth -= 1
            if _bomb_depth == 0:
                Image.MAX_IMAGE_PIXELS = _bomb_saved


def _pixel_limit(max_pixels: int | None) -> int:
    if max_pixels is not None:
        return int(max_pixels)
    env = os.environ.get("PIXELMEND_MAX_PIXELS", "").strip()
    if not env:
        return DEFAULT_MAX_PIXELS
    try:
        return int(env.replace("_", ""))
    except ValueError:
        raise ValueError(f"PIXELMEND_MAX_PIXELS must be a whole number of pixels, "
                         f"not {env!r}") from None


_CORRUPT = (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error,
            TypeError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError,
            RecursionError)
"""What the decoders raise on malformed data. The second line are errors from inside Pillow's
plug-ins when a damaged header gives them values of the wrong kind (a rational where an offset
should be, an index past a table); the input is the file's bytes, so they mean a corrupt file."""
_USUAL = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_TRUNCATED = ("the file is truncated (incomplete); it may not have finished copying or "
              "downloading")


def _cause(error: BaseException) -> str:
    """One line for an error, with its type where that is not a usual one for bad data."""
    text = " ".join(str(error).split())
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror  # "Invalid argument", not "[Errno 22] Invalid argument"
    if isinstance(error, _USUAL) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _is_truncation(error: BaseException, text: str) -> bool:
    return isinstance(error, EOFError) or "truncated" in text.lower()


_NOT_FILES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
              (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")
        raise fail(path, f"it is {kind}, not an image file")


def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; refuse anything else without waiting.

    The kind of file is checked before opening (so a FIFO is never opened) and again on the
    open handle (the path may have been replaced in between); the open itself is non-blocking.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        _check_regular(path, os.stat(path).st_mode)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise fail(path, f"file not found ({path})") from None
    except OSError as exc:
        raise fail(path, f"the file could not be opened ({exc.strerror or exc})") from exc
    try:
        _check_regular(path, os.fstat(fd).st_mode)
        if os.name == "posix":
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load(path: str | os.PathLike[str], *, max_pixels: int | None = None,
         max_memory: int | None = None) -> LoadedImage:
    """Load an image file as upright pixels at its source bit depth.

    Parameters
    ----------
    path
        A PNG, JPEG, TIFF, WebP or BMP file.
    max_pixels
        Refuse images with more pixels than this (checked from the header, before decoding).
        Defaults to ``$PIXELMEND_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`; 0 or less: no limit.
    max_memory
        Refuse images whose decoding and float working copy need more bytes than this (checked
        from the header). Defaults to ``$PIXELMEND_MAX_MEMORY`` or the memory this process may
        still use (:func:`engine.io.memory.memory_budget`); 0: no limit.

    Returns
    -------
    LoadedImage
        ``pixels`` is H×W×C (C = 1, 3 or 4), uint8 or uint16.

    Raises
    ------
    ImageReadError
        The file is missing, not a regular file (a directory, FIFO, device), empty, not an
        image, truncated, corrupt, too large (pixels or memory) or in an unsupported mode; the
        message names the file and the cause.
    ValueError
        ``PIXELMEND_MAX_PIXELS`` or ``PIXELMEND_MAX_MEMORY`` is not a number.
    """
    path = Path(path)
    limit = _pixel_limit(max_pixels)
    fh = _open_regular(path)
    with fh, _no_pillow_bomb_check():
        file_size = os.fstat(fh.fileno()).st_size
        head = fh.read(64)
        if not head:
            raise fail(path, "the file is empty (0 bytes)")
        fh.seek(0)
        sniffed = next((f for sig, f in _SIGNATURES if head.startswith(sig)), None)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            sniffed = "WEBP"
        im: Image.Image | None = None
        try:
            im = Image.open(fh)
        except UnidentifiedImageError:
            if sniffed != "TIFF":
                cause = (f"it looks like a {sniffed} file but its data is corrupt or unsupported"
                         if sniffed else "not an image, or an unknown image format")
                raise fail(path, cause) from None
        except MemoryError:
            raise fail(path, "not enough memory to read the image header") from None
        except _CORRUPT as exc:
            text = _cause(exc)
            raise fail(path, _TRUNCATED if _is_truncation(exc, text)
                       else f"the file is corrupt ({text})") from exc
        if im is None:
            header = tiff_only_header(path, fh)
        else:
            fmt = ALIASES.get(im.format or "", im.format or "?")
            if fmt not in BY_NAME:
                raise fail(path, f"{fmt} images are not supported (use PNG, JPEG, TIFF, WebP "
                                  "or BMP)")
            header = pillow_header(im, fmt, head)
        check_pixels(path, header, limit)
        needed = check_memory(path, header, max_memory, file_size)
        fmt, icc = header.fmt, header.icc
        try:
            if header.use_arrays:
                fh.seek(0)
                data = fh.read()
                raw_exif = None
                if fmt == "PNG":
                    raw_exif = next((body for kind, body in png_chunks(data) if kind == b"eXIf"),
                                    None)
                pixels = array_pixels(data, fmt)
                del data
            else:
                assert im is not None
                im.load()
                raw_exif = im.info.get("exif")
                pixels, icc = pillow_pixels(im, fmt, icc)
            try:
                orientation, exif = exif_block(im, fmt, raw_exif, header.tiff_tags)
            except _CORRUPT:  # a damaged EXIF block: the pixels are still good
                orientation, exif = 1, None
            pixels = np.ascontiguousarray(orient(pixels, orientation))
        except MemoryError:
            raise memory_error(path, header, needed, *memory_budget(), failed=True) from None
        except _CORRUPT as exc:
            text = _cause(exc)
            if _is_truncation(exc, text):
                raise fail(path, _TRUNCATED) from exc
            if text.startswith("unsupported pixel"):
                raise fail(path, f"{text} ({header.source_mode} {fmt})") from exc
            raise fail(path, f"the image data is corrupt ({text})") from exc
    channels = pixels.shape[2]
    if icc is not None and not icc_matches(icc, channels):
        icc = None
    return LoadedImage(pixels=pixels, bit_depth=16 if pixels.dtype == np.uint16 else 8,
                       has_alpha=channels == 4, icc_profile=icc, exif=exif, format=fmt,
                       path=path, source_mode=header.source_mode)


def read_mask(path: str | os.PathLike[str], shape: tuple[int, ...]) -> np.ndarray:
    """Load a mask image as ``bool H×W``, True (white) = repair here.

    Parameters
    ----------
    path
        Any supported image. Its alpha channel is used when present and not fully opaque,
        otherwise its luminance; a pixel is True where the value is at least half (128 of 255).
    shape
        ``(H, W)`` (or ``(H, W, C)``) of the image the mask belongs to.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(H, W)``.

    Raises
    ------
    ImageReadError
        The file cannot be read, or its size differs from ``shape``.
    """
    img = load(path)
    height, width = int(shape[0]), int(shape[1])
    if (img.height, img.width) != (height, width):
        raise ImageReadError(f"{img.path.name} is {img.width}×{img.height} but the image is "
                             f"{width}×{height}", img.path)
    px = img.pixels
    top = 65535 if px.dtype == np.uint16 else 255
    if img.has_alpha and px[..., 3].min() < top:
        value = px[..., 3].astype(np.float32)
    elif px.shape[2] == 1:
        value = px[..., 0].astype(np.float32)
    else:
        value = px[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return value >= 128 * top / 255 - 1e-3
