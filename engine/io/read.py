"""Image loading (PNG, JPEG, TIFF, WebP, BMP).

Pixels come back at the source bit depth (uint8 or uint16), ``H×W×C`` with C in {1, 3, 4},
upright (EXIF orientation applied), with the ICC profile and EXIF block kept for saving.

Decisions worth knowing:

* 16-bit RGB/RGBA (and gray+alpha) PNG is decoded with OpenCV and 16-bit multi-channel TIFF with
  tifffile, because Pillow reduces those to 8 bits. Gray+alpha always becomes RGBA.
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
* Truncated files are errors: this module relies on ``ImageFile.LOAD_TRUNCATED_IMAGES`` being False.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, UnidentifiedImageError

from engine.io.formats import ALIASES, BY_NAME, ImageReadError
from engine.io.metadata import EXIF_HEADER, ORIENTATION, TIFF_EXIF_TAGS

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


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield (type, body) of each PNG chunk; raise EOFError if the stream stops before IEND."""
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > len(data):
            break
        yield ctype, data[pos + 8:pos + 8 + length]
        if ctype == b"IEND":
            return
        pos += 12 + length
    raise EOFError("image file is truncated (no IEND chunk)")


def _icc_matches(icc: bytes | None, channels: int) -> bool:
    space = icc[16:20] if icc and len(icc) >= 128 else b""
    return space == (b"GRAY" if channels == 1 else b"RGB ")


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H×W×C array, like ``ImageOps.exif_transpose``."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def _to_uint16(values: np.ndarray, is_float: bool) -> np.ndarray:
    """Scale 32-bit gray data to uint16 (see the module docstring for the rule)."""
    v = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if is_float and lo >= 0.0 and hi <= 1.0:
        v = v * 65535.0
    elif not (lo >= 0.0 and hi <= 65535.0 and not is_float):
        v = (v - lo) * (65535.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(v), 0, 65535).astype(np.uint16)


def _pillow_pixels(im: Image.Image, fmt: str, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """Decode a Pillow image to H×W×C uint8/uint16; return the pixels and the ICC still valid."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)[..., None], icc
    if mode in ("I", "F"):
        arr = np.asarray(im)
        if fmt == "PNG":  # Pillow's 16-bit gray PNG in older releases
            return np.clip(arr, 0, 65535).astype(np.uint16)[..., None], icc
        return _to_uint16(arr, mode == "F")[..., None], icc
    if mode == "CMYK":
        if icc and icc[16:20] == b"CMYK":
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                return np.asarray(ImageCms.profileToProfile(im, src, dst, outputMode="RGB")), None
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass
        return np.asarray(im.convert("RGB")), None
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"))[..., None], icc
    if mode in ("RGB", "RGBA"):
        return np.asarray(im), icc
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in im.info
        return np.asarray(im.convert("RGBA" if transparent else "RGB")), icc
    if mode in ("LA", "La", "RGBa", "RGBX", "YCbCr"):
        out = im.convert("LA").convert("RGBA") if mode == "La" else im.convert(
            "RGB" if mode in ("RGBX", "YCbCr") else "RGBA")
        return np.asarray(out), icc
    raise ValueError(f"unsupported pixel mode {mode!r}")


def _array_pixels(data: bytes, fmt: str) -> np.ndarray:
    """Decode 16-bit multi-channel PNG/TIFF bytes to H×W×C RGB(A), via tifffile or OpenCV."""
    arr = None
    error: Exception | None = None
    if fmt == "TIFF":
        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages[0]
                arr = page.asarray()
                if page.axes.startswith("S"):
                    arr = np.moveaxis(arr, 0, -1)
        except Exception as exc:  # tifffile raises many types; OpenCV gets a chance next
            error = exc
    if arr is None:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f"the image data is corrupt or could not be decoded ({error})"
                             if error else "the image data is corrupt or could not be decoded")
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    arr = arr[..., None] if arr.ndim == 2 else arr
    if arr.shape[2] == 2:
        arr = np.concatenate([arr[..., :1]] * 3 + [arr[..., 1:]], axis=2)
    if arr.dtype not in (np.uint8, np.uint16) or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported pixel layout {arr.dtype} with {arr.shape[2]} channels")
    return arr


def _exif_block(im: Image.Image, fmt: str, raw: bytes | None) -> tuple[int, bytes | None]:
    """Return (orientation, EXIF bytes with orientation reset to 1, or None)."""
    exif = Image.Exif()
    if fmt == "TIFF":
        exif = im.getexif()
        for tag in [t for t in exif if t not in TIFF_EXIF_TAGS]:
            del exif[tag]
    elif raw:
        exif.load(raw)
    orientation = exif.get(ORIENTATION, 1)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    if not len(exif):
        return orientation, None
    if orientation != 1 or fmt == "TIFF":
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        return orientation, exif.tobytes()
    return orientation, raw if raw.startswith(EXIF_HEADER) else EXIF_HEADER + raw


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}" if pixels >= 1e6 else f"{pixels / 1e6:.2g}"


def _fail(path: Path, cause: str) -> ImageReadError:
    return ImageReadError(f"Cannot open {path.name}: {cause}", path)


def load(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> LoadedImage:
    """Load an image file as upright pixels at its source bit depth.

    Parameters
    ----------
    path
        A PNG, JPEG, TIFF, WebP or BMP file.
    max_pixels
        Refuse images with more pixels than this (checked from the header, before decoding).
        Defaults to ``$PIXELMEND_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`; 0 or less: no limit.

    Returns
    -------
    LoadedImage
        ``pixels`` is H×W×C (C = 1, 3 or 4), uint8 or uint16.

    Raises
    ------
    ImageReadError
        The file is missing, a directory, empty, not an image, truncated, corrupt, too large or
        in an unsupported mode; the message names the file and the cause.
    """
    path = Path(path)
    limit = _pixel_limit(max_pixels)
    if path.is_dir():
        raise _fail(path, "it is a directory, not an image file")
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise _fail(path, f"file not found ({path})") from None
    except OSError as exc:
        raise _fail(path, f"the file could not be opened ({exc.strerror or exc})") from exc
    with fh, _no_pillow_bomb_check():
        head = fh.read(64)
        if not head:
            raise _fail(path, "the file is empty (0 bytes)")
        fh.seek(0)
        sniffed = next((f for sig, f in _SIGNATURES if head.startswith(sig)), None)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            sniffed = "WEBP"
        try:
            im = Image.open(fh)
        except UnidentifiedImageError:
            cause = (f"it looks like a {sniffed} file but its data is corrupt or unsupported"
                     if sniffed else "not an image, or an unknown image format")
            raise _fail(path, cause) from None
        except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
            raise _fail(path, f"the file is corrupt ({exc})") from exc
        fmt = ALIASES.get(im.format or "", im.format or "?")
        if fmt not in BY_NAME:
            raise _fail(path, f"{fmt} images are not supported (use PNG, JPEG, TIFF, WebP or BMP)")
        width, height = im.size
        if 0 < limit < width * height:
            raise _fail(path, (
                f"the image is too large: {width}×{height} = {_mp(width * height)} megapixels,"
                f" above the limit of {_mp(limit)} megapixels. To open it anyway, set"
                f" PIXELMEND_MAX_PIXELS={width * height} or pass --max-pixels {width * height}"
                " on the command line."))
        source_mode = im.mode
        icc = im.info.get("icc_profile") or None
        try:
            use_arrays = False
            if fmt == "PNG":
                use_arrays = head[24] == 16 and head[25] in (2, 4, 6)
            elif fmt == "TIFF":
                bits = im.tag_v2.get(258, (8,))
                bits = bits if isinstance(bits, tuple) else (bits,)
                use_arrays = max(bits) > 8 and im.tag_v2.get(277, 1) >= 2 and \
                    im.tag_v2.get(262) in (1, 2)
            if use_arrays:
                fh.seek(0)
                data = fh.read()
                raw_exif = None
                if fmt == "PNG":
                    raw_exif = next((body for kind, body in _png_chunks(data) if kind == b"eXIf"),
                                    None)
                pixels = _array_pixels(data, fmt)
            else:
                im.load()
                raw_exif = im.info.get("exif")
                pixels, icc = _pillow_pixels(im, fmt, icc)
            orientation, exif = _exif_block(im, fmt, raw_exif)
        except MemoryError:
            raise _fail(path, "not enough memory to decode the image") from None
        except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as exc:
            text = str(exc)
            if isinstance(exc, EOFError) or "truncated" in text.lower():
                raise _fail(path, "the file is truncated (incomplete); it may not have finished "
                                  "copying or downloading") from exc
            if "unsupported" in text:
                raise _fail(path, f"{text} ({source_mode} {fmt})") from exc
            raise _fail(path, f"the image data is corrupt ({text or type(exc).__name__})") from exc
    pixels = np.ascontiguousarray(_orient(pixels, orientation))
    channels = pixels.shape[2]
    if icc is not None and not _icc_matches(icc, channels):
        icc = None
    return LoadedImage(pixels=pixels, bit_depth=16 if pixels.dtype == np.uint16 else 8,
                       has_alpha=channels == 4, icc_profile=icc, exif=exif, format=fmt,
                       path=path, source_mode=source_mode)


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
