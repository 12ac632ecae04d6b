"""Image saving (PNG, JPEG, TIFF, WebP, BMP): encoding in memory, then an atomic write.

* Saving 16-bit pixels as JPEG, WebP or BMP reduces them to 8 bits with rounding, ``(x+128)//257``.
* JPEG and BMP cannot keep transparency: an RGBA image with any non-opaque pixel raises
  :class:`ImageWriteError` unless ``flatten_alpha=True`` (composite onto white). A fully opaque
  alpha channel is dropped silently. WebP is lossless when ``quality >= 100``.
* ICC profiles and EXIF are embedded where the format has room for them (not BMP).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from engine.core.atomic import atomic_write
from engine.io.formats import ALIASES, BY_NAME, SUPPORTED_EXTENSIONS, ImageWriteError, format_of
from engine.io.metadata import EXIF_HEADER, TIFF_TEXT_TAGS

__all__ = ["encode", "save"]


def _normalise(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8 or uint16 array H×W or H×W×C (C = 1-4), got "
                         f"{arr.dtype} {arr.shape}")
    if arr.shape[2] == 2:
        arr = np.concatenate([arr[..., :1]] * 3 + [arr[..., 1:]], axis=2)
    return np.ascontiguousarray(arr)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR of an encoded PNG."""
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif.removeprefix(EXIF_HEADER))
    ihdr_end = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _tiff_bytes(px: np.ndarray, icc: bytes | None, exif: bytes | None) -> bytes:
    """Encode TIFF with tifffile (any depth); ICC as tag 34675, EXIF's main text tags carried."""
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    extratags = [(34675, 7, len(icc), icc, True)] if icc else []
    extratags += [(t, "s", 0, str(tags[t]), True) for t in TIFF_TEXT_TAGS
                  if isinstance(tags.get(t), str)]
    extra = {"description": tags.get(270), "software": tags.get(305) or False,
             "datetime": tags.get(306)}
    buf = io.BytesIO()
    tifffile.imwrite(buf, px[..., 0] if px.shape[2] == 1 else px,
                     photometric="minisblack" if px.shape[2] == 1 else "rgb",
                     extrasamples=("unassalpha",) if px.shape[2] == 4 else None,
                     compression="zlib", predictor=True, metadata=None,
                     extratags=extratags, **{k: v for k, v in extra.items() if v is not None})
    return buf.getvalue()


def encode(pixels: np.ndarray, fmt: str, *, icc_profile: bytes | None = None,
           exif: bytes | None = None, quality: int = 95, flatten_alpha: bool = False) -> bytes:
    """Encode pixels to the bytes of an image file.

    Parameters
    ----------
    pixels
        uint8 or uint16 array, H×W or H×W×C (C = 1, 2, 3, 4; 2 = gray+alpha, saved as RGBA);
        a bool array is saved as 0/255.
    fmt
        "PNG", "JPEG" (or "JPG"), "TIFF" (or "TIF"), "WEBP" or "BMP".
    icc_profile, exif
        Metadata to embed (PNG, JPEG, TIFF, WebP; BMP has none). ``exif`` is the block as
        Pillow gives it (with or without the ``Exif\\0\\0`` header).
    quality
        JPEG/WebP quality 1-100; WebP at 100 is lossless. JPEG at 90 or more uses 4:4:4 chroma.
    flatten_alpha
        For JPEG/BMP: composite transparent pixels onto white instead of raising.

    Returns
    -------
    bytes
        The encoded file.

    Raises
    ------
    ImageWriteError
        The format cannot store these pixels (transparency in JPEG/BMP) or the encoder failed.
    ValueError
        ``pixels`` or ``fmt`` or ``quality`` is not valid.
    """
    fmt = ALIASES.get(fmt.upper(), fmt.upper())
    if fmt not in BY_NAME:
        raise ValueError(f"unknown image format {fmt!r}; use PNG, JPEG, TIFF, WEBP or BMP")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, not {quality}")
    px = _normalise(pixels)
    top = 65535 if px.dtype == np.uint16 else 255
    if fmt in ("JPEG", "BMP") and px.shape[2] == 4:
        if px[..., 3].min() < top and not flatten_alpha:
            raise ImageWriteError(f"{fmt} cannot keep transparency; save as PNG, TIFF or WebP, "
                                  "or flatten the image onto white first")
        alpha = px[..., 3:].astype(np.float32) / top
        px = np.rint(px[..., :3] * alpha + top * (1 - alpha)).astype(px.dtype)
    try:
        if fmt == "TIFF":
            return _tiff_bytes(px, icc_profile, exif)
        if fmt == "PNG" and px.dtype == np.uint16:
            bgr = px if px.shape[2] == 1 else cv2.cvtColor(
                px, cv2.COLOR_RGB2BGR if px.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
            ok, buf = cv2.imencode(".png", bgr)
            if not ok:
                raise ImageWriteError("the PNG encoder failed")
            return _png_with_metadata(buf.tobytes(), icc_profile, exif)
        if px.dtype == np.uint16:
            px = ((px.astype(np.uint32) + 128) // 257).astype(np.uint8)
        if fmt == "WEBP" and px.shape[2] == 1:
            px = np.repeat(px, 3, axis=2)
        im = Image.fromarray(px[..., 0] if px.shape[2] == 1 else px)
        opts: dict[str, object] = {}
        if fmt != "BMP":
            opts.update({k: v for k, v in (("icc_profile", icc_profile), ("exif", exif)) if v})
        if fmt == "JPEG":
            opts.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True)
        elif fmt == "WEBP":
            opts.update(quality=quality, lossless=quality >= 100, exact=True, method=4)
        out = io.BytesIO()
        try:
            im.save(out, fmt, **opts)
        except OSError:
            if not opts.get("optimize"):
                raise
            # Pillow sizes its buffer for an optimised JPEG from the pixel count, and a noisy
            # image at high quality can need more ("Suspension not allowed here"): the plain
            # encoder streams, so the same image is written without the optimised tables.
            out = io.BytesIO()
            im.save(out, fmt, **{**opts, "optimize": False})
        return out.getvalue()
    except ImageWriteError:
        raise
    except (OSError, ValueError, KeyError, cv2.error) as exc:
        raise ImageWriteError(f"the {fmt} encoder failed ({exc})") from exc


def save(path: str | os.PathLike[str], pixels: np.ndarray, *, icc_profile: bytes | None = None,
         exif: bytes | None = None, quality: int = 95, overwrite: bool = True,
         flatten_alpha: bool = False) -> Path:
    """Write pixels to an image file atomically, choosing the format from the extension.

    The file is encoded in memory, written to a hidden temporary file in the same folder,
    flushed to disk and renamed over the target, so a failure never leaves a half-written image
    and never damages an existing file. See :func:`encode` for the parameters.

    Parameters
    ----------
    path
        Target file (.png .jpg .jpeg .tif .tiff .webp .bmp).
    pixels, icc_profile, exif, quality, flatten_alpha
        As for :func:`encode`.
    overwrite
        If False and the target exists, raise :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ImageWriteError
        Unsupported extension, missing folder, format limitation or I/O failure.
    FileExistsError
        ``overwrite=False`` and the file exists.
    """
    target = Path(path)
    known = format_of(target)
    if known is None:
        raise ImageWriteError(f"Cannot save {target.name}: unknown extension "
                              f"{target.suffix!r}; use one of {', '.join(SUPPORTED_EXTENSIONS)}",
                              target)
    if not overwrite and target.exists():
        raise FileExistsError(f"Cannot save {target.name}: the file already exists "
                              f"({target}) and overwriting was not allowed")
    if target.is_dir():
        raise ImageWriteError(f"Cannot save {target.name}: it is a directory", target)
    if not target.parent.is_dir():
        raise ImageWriteError(f"Cannot save {target.name}: the folder {target.parent} does "
                              "not exist", target)
    try:
        data = encode(pixels, known.name, icc_profile=icc_profile, exif=exif, quality=quality,
                      flatten_alpha=flatten_alpha)
    except ImageWriteError as exc:
        raise ImageWriteError(f"Cannot save {target.name}: {exc}", target) from exc
    try:
        with atomic_write(target) as handle:
            handle.write(data)
    except OSError as exc:
        raise ImageWriteError(f"Cannot save {target.name}: {exc.strerror or exc}",
                              target) from exc
    return target
