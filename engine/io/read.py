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
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.io.decode import (
    array_pixels,
    decoded_layout,
    exif_block,
    icc_matches,
    needed_bytes,
    orient,
    pillow_pixels,
    png_chunks,
    tiff_header,
)
from engine.io.formats import ALIASES, BY_NAME, ImageReadError
from engine.io.memory import MEMORY_ENV, format_size, memory_budget, size_hint

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


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}" if pixels >= 1e6 else f"{pixels / 1e6:.2g}"


def _fail(path: Path, cause: str) -> ImageReadError:
    return ImageReadError(f"Cannot open {path.name}: {cause}", path)


_CORRUPT = (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error,
            TypeError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError,
            RecursionError)
"""What the decoders raise on malformed data. The second line are errors from inside Pillow's
plug-ins when a damaged header gives them values of the wrong kind (a rational where an offset
should be, an index past a table); the input is the file's bytes, so they mean a corrupt file."""
_USUAL = (OSError, SyntaxError, ValueError, EOFError)


def _cause(error: BaseException) -> str:
    """One line for an error, with its type where that is not a usual one for bad data."""
    text = " ".join(str(error).split())
    if isinstance(error, _USUAL) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_NOT_FILES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
              (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")
        raise _fail(path, f"it is {kind}, not an image file")


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
        raise _fail(path, f"file not found ({path})") from None
    except OSError as exc:
        raise _fail(path, f"the file could not be opened ({exc.strerror or exc})") from exc
    try:
        _check_regular(path, os.fstat(fd).st_mode)
        if os.name == "posix":
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass
class _Header:
    """What the header says, before any pixel is decoded."""

    fmt: str
    width: int
    height: int
    source_mode: str
    bits: int
    kind: str
    use_arrays: bool
    channels: int
    sample: int
    decoder: int
    icc: bytes | None = None
    tiff_tags: dict[int, object] = field(default_factory=dict)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def describe(self) -> str:
        return (f"a {self.width}×{self.height} image ({_mp(self.pixels)} megapixels, "
                f"{self.bits}-bit {self.kind})")


def _first_int(value: object, default: int) -> int:
    value = value[0] if isinstance(value, tuple) and value else value
    return value if isinstance(value, int) else default


_KINDS = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}


def _pillow_header(im: Image.Image, fmt: str, head: bytes) -> _Header:
    mode = im.mode
    width, height = im.size
    transparent = mode == "PA" or "transparency" in im.info
    icc = im.info.get("icc_profile") or None
    if fmt == "PNG" and len(head) > 25 and head[24] == 16 and head[25] in (2, 4, 6):
        channels = {2: 3, 4: 2, 6: 4}[head[25]]
        return _Header(fmt, width, height, mode, 16, _KINDS[channels], True,
                       max(channels, 3), 2, 2 * channels, icc=icc)
    if fmt == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = max((b for b in (bits if isinstance(bits, tuple) else (bits,))
                    if isinstance(b, int)), default=8)
        samples = _first_int(im.tag_v2.get(277, 1), 1)
        if bits > 8 and samples >= 2 and _first_int(im.tag_v2.get(262), -1) in (1, 2):
            channels = 4 if samples == 2 else samples
            kind = _KINDS.get(samples, f"{samples}-channel")
            return _Header(fmt, width, height, mode, bits, kind, True, channels, 2,
                           2 * samples * -(-bits // 8), icc=icc)
    channels, sample = decoded_layout(mode, transparent)
    bits = {"1": 1, "I": 32, "F": 32}.get(mode, 16 if mode.startswith("I;16") else 8)
    kind = {"P": "palette", "PA": "palette", "CMYK": "CMYK", "YCbCr": "YCbCr"}.get(
        mode, _KINDS[2 if mode in ("LA", "La") else channels])
    # Pillow's storage, a converted copy (palette, CMYK, gray+alpha ...), the 32-bit array
    # (with the bytes it is made from) before it becomes uint16, libwebp's canvas and frame.
    decoder = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    if mode not in ("L", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
        decoder += 4
    decoder += 12 if mode in ("I", "F") else 8 if fmt == "WEBP" else 0
    return _Header(fmt, width, height, mode, bits, kind, False, channels, sample, decoder,
                   icc=icc)


def _tiff_only_header(path: Path, fh: BinaryIO) -> _Header:
    """The header of a TIFF that Pillow does not open (16-bit gray+alpha, for one), by tifffile."""
    try:
        fh.seek(0)
        width, height, samples, bits, tags, icc = tiff_header(fh, path.name)
    except MemoryError:
        raise _fail(path, "not enough memory to read the TIFF header") from None
    except Exception as exc:  # tifffile raises many types on a damaged header
        raise _fail(path, "it looks like a TIFF file but its data is corrupt or unsupported "
                          f"({type(exc).__name__}: {exc})".replace("\n", " ")[:300]) from exc
    if not (bits > 8 and 2 <= samples <= 4):
        raise _fail(path, f"TIFF files of {samples} channels of {bits} bits are not supported "
                          "(use 1-4 channels of 8 or 16 bits)")
    channels = 4 if samples == 2 else samples
    mode = f"{'L' if samples <= 2 else 'RGB'}{'A' if samples in (2, 4) else ''};{bits}"
    return _Header("TIFF", width, height, mode, bits, _KINDS[samples], True, channels, 2,
                   2 * samples * -(-bits // 8), icc=icc, tiff_tags=tags)


def _check_pixels(path: Path, header: _Header, limit: int) -> None:
    count = header.pixels
    if 0 < limit < count:
        raise _fail(path, (
            f"the image is too large: {header.width}×{header.height} = {_mp(count)} megapixels,"
            f" above the limit of {_mp(limit)} megapixels. To open it anyway, set"
            f" PIXELMEND_MAX_PIXELS={count} or pass --max-pixels {count} on the command line."))


_ADVICE = {"available memory": "Close other programs to free memory",
           "the memory limit of this process's control group":
               "Raise the memory limit of the container or job",
           "this process's address-space limit": "Raise the address-space limit (ulimit -v)"}


def _memory_error(path: Path, header: _Header, needed: int, budget: int | None, source: str,
                  failed: bool = False) -> ImageReadError:
    """The one message for an image that does not fit: its size, the bytes, the budget, the way
    to raise it."""
    if failed:
        room = f"; {format_size(budget)} was available ({source})" if budget else ""
        return _fail(path, (
            f"there is not enough memory to decode it: {header.describe()} needs about"
            f" {format_size(needed)}, and an allocation failed{room}. Close other programs, or"
            " open it on a machine with more memory."))
    if source in _ADVICE:
        fix = f"{_ADVICE[source]}, or set {MEMORY_ENV}={size_hint(needed)} to try anyway."
    elif source == MEMORY_ENV:
        fix = f"To allow it, set {MEMORY_ENV}={size_hint(needed)}."
    else:
        fix = f"To allow it, pass max_memory={needed} or more."
    return _fail(path, (
        f"the image is too large for the memory available: {header.describe()} needs about"
        f" {format_size(needed)} to open and edit, and {format_size(budget or 0)} is available"
        f" ({source}). {fix}"))


def _check_memory(path: Path, header: _Header, max_memory: int | None, file_size: int) -> int:
    """Refuse an image that will not fit; return the bytes it is expected to need."""
    needed = needed_bytes(header.pixels, decoder=header.decoder, channels=header.channels,
                          sample=header.sample, file_size=file_size)
    if max_memory is not None:
        budget, source = (int(max_memory) or None), "the max_memory argument"
    else:
        budget, source = memory_budget()
    if budget is not None and needed > budget:
        raise _memory_error(path, header, needed, budget, source)
    return needed


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
            raise _fail(path, "the file is empty (0 bytes)")
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
                raise _fail(path, cause) from None
        except MemoryError:
            raise _fail(path, "not enough memory to read the image header") from None
        except _CORRUPT as exc:
            raise _fail(path, f"the file is corrupt ({_cause(exc)})") from exc
        if im is None:
            header = _tiff_only_header(path, fh)
        else:
            fmt = ALIASES.get(im.format or "", im.format or "?")
            if fmt not in BY_NAME:
                raise _fail(path, f"{fmt} images are not supported (use PNG, JPEG, TIFF, WebP "
                                  "or BMP)")
            header = _pillow_header(im, fmt, head)
        _check_pixels(path, header, limit)
        needed = _check_memory(path, header, max_memory, file_size)
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
            orientation, exif = exif_block(im, fmt, raw_exif, header.tiff_tags)
            pixels = np.ascontiguousarray(orient(pixels, orientation))
        except MemoryError:
            raise _memory_error(path, header, needed, *memory_budget(), failed=True) from None
        except _CORRUPT as exc:
            text = _cause(exc)
            if isinstance(exc, EOFError) or "truncated" in text.lower():
                raise _fail(path, "the file is truncated (incomplete); it may not have finished "
                                  "copying or downloading") from exc
            if "unsupported" in text:
                raise _fail(path, f"{text} ({header.source_mode} {fmt})") from exc
            raise _fail(path, f"the image data is corrupt ({text})") from exc
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
