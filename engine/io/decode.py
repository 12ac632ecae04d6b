"""Pixel decoding for :mod:`engine.io.read`: Pillow images and 16-bit multi-channel data to
``H×W×C`` uint8/uint16 arrays, EXIF orientation, and what an image will cost in memory.

The rules for each source mode are in :mod:`engine.io.read`'s docstring.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms

from engine.io.metadata import EXIF_HEADER, ORIENTATION, TIFF_EXIF_TAGS

__all__ = ["array_pixels", "decoded_layout", "exif_block", "icc_matches", "needed_bytes",
           "orient", "pillow_pixels", "png_chunks", "tiff_header", "to_uint16"]

_BLOCK = 1 << 18
"""Values converted at a time from 32-bit gray to uint16, so the float64 work stays small."""
_PILLOW_BYTES = {"1": 1, "L": 1, "P": 1, "I": 4, "F": 4}
"""Bytes per pixel Pillow stores for a mode: 2 for ``I;16*``, 4 for all the others."""


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
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


def icc_matches(icc: bytes | None, channels: int) -> bool:
    """True when the profile's colour space is that of pixels with ``channels`` channels."""
    space = icc[16:20] if icc and len(icc) >= 128 else b""
    return space == (b"GRAY" if channels == 1 else b"RGB ")


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H×W×C array, like ``ImageOps.exif_transpose``."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def to_uint16(values: np.ndarray, is_float: bool) -> np.ndarray:
    """Scale 32-bit gray data to uint16 (see :mod:`engine.io.read` for the rule).

    The work is done :data:`_BLOCK` values at a time, so the float64 copies never hold the
    whole image (and a tall, narrow image is as quick as a square one).
    """
    flat = values.reshape(-1)

    def clean(start: int) -> np.ndarray:
        block = flat[start:start + _BLOCK].astype(np.float64)
        return np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    lo = hi = 0.0
    if flat.size:
        ranges = [(float(b.min()), float(b.max()))
                  for b in map(clean, range(0, flat.size, _BLOCK))]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    out = np.empty(flat.size, np.uint16)
    for start in range(0, flat.size, _BLOCK):
        v = clean(start)
        if is_float and lo >= 0.0 and hi <= 1.0:
            v *= 65535.0
        elif not (lo >= 0.0 and hi <= 65535.0 and not is_float):
            if hi > lo:
                v -= lo
                v *= 65535.0 / (hi - lo)
            else:
                v[:] = 0.0
        out[start:start + _BLOCK] = np.clip(np.rint(v, out=v), 0, 65535, out=v)
    return out.reshape(values.shape)


def pillow_pixels(im: Image.Image, fmt: str, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """Decode a Pillow image to H×W×C uint8/uint16; return the pixels and the ICC still valid."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)[..., None], icc
    if mode in ("I", "F"):
        arr = np.asarray(im)
        if fmt == "PNG":  # Pillow's 16-bit gray PNG in older releases
            return np.clip(arr, 0, 65535).astype(np.uint16)[..., None], icc
        return to_uint16(arr, mode == "F")[..., None], icc
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


def array_pixels(data: bytes, fmt: str) -> np.ndarray:
    """Decode 16-bit multi-channel PNG/TIFF bytes to H×W×C RGB(A), via tifffile or OpenCV.

    Raises
    ------
    ValueError
        The data is corrupt, or its layout is not one the loader keeps.
    MemoryError
        An allocation failed (OpenCV's out-of-memory error is raised as one).
    """
    arr = None
    error: Exception | None = None
    if fmt == "TIFF":
        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages[0]
                arr = page.asarray()
                if page.axes.startswith("S"):
                    arr = np.moveaxis(arr, 0, -1)
        except MemoryError:
            raise
        except Exception as exc:  # tifffile raises many types; OpenCV gets a chance next
            error = exc
    if arr is None:
        try:
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            if _out_of_memory(exc):
                raise MemoryError(str(exc)) from exc
            raise ValueError(f"OpenCV refused it: {_first_line(exc)}") from exc
        if arr is None:
            tried = f"neither tifffile ({_first_line(error)}) nor OpenCV" if error else "OpenCV"
            raise ValueError(f"{tried} could decode it")
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    if arr.size == 0:
        raise ValueError("the decoder gave no pixels")
    arr = arr[..., None] if arr.ndim == 2 else arr
    if arr.ndim != 3:
        raise ValueError(f"unsupported pixel layout: an array of shape {arr.shape}")
    if arr.shape[2] == 2:
        arr = np.concatenate([arr[..., :1]] * 3 + [arr[..., 1:]], axis=2)
    if arr.dtype not in (np.uint8, np.uint16) or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported pixel layout {arr.dtype} with {arr.shape[2]} channels")
    return arr


def _first_line(error: BaseException) -> str:
    """One line for a decoder's error; OpenCV's reason without its source location
    (``"Assertion failed: size.width <= ..."``)."""
    text = " ".join(str(error).split())
    match = re.search(r"error: \(-?\d+:([^)]*)\)\s*(.*?)(?: in function .*)?$", text)
    return f"{match.group(1)}: {match.group(2)}" if match else text or type(error).__name__


def _out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("insufficient memory", "failed to allocate",
                                         "out of memory", "outofmemory", "bad_alloc"))


def exif_block(im: Image.Image | None, fmt: str, raw: bytes | None,
               tiff_tags: dict[int, object] | None = None) -> tuple[int, bytes | None]:
    """Return (orientation, EXIF bytes with orientation reset to 1, or None).

    ``im`` gives a TIFF's tags; ``tiff_tags`` stands for it where Pillow could not open the file.
    """
    exif = Image.Exif()
    if fmt == "TIFF":
        tags = dict(im.getexif()) if im is not None else dict(tiff_tags or {})
        for tag, value in tags.items():
            if tag in TIFF_EXIF_TAGS and (im is not None or tag not in (0x8769, 0x8825)):
                exif[tag] = value
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


def tiff_header(handle: BinaryIO, name: str
                ) -> tuple[int, int, int, int, dict[int, object], bytes | None]:
    """Width, height, samples per pixel, bits per sample, descriptive tags and ICC profile of a
    TIFF's first page, read by tifffile from an open file (for files Pillow cannot open)."""
    with tifffile.TiffFile(handle, name=name) as tif:
        page = tif.pages[0]
        bits = page.bitspersample
        tags = {tag.code: tag.value for tag in page.tags.values()
                if tag.code in TIFF_EXIF_TAGS and isinstance(tag.value, (int, str))}
        icc = page.tags.get(34675)
        return (int(page.imagewidth), int(page.imagelength), int(page.samplesperpixel),
                int(max(bits) if isinstance(bits, tuple) else bits), tags,
                bytes(icc.value) if icc is not None and isinstance(icc.value, bytes) else None)


def decoded_layout(mode: str, transparent: bool) -> tuple[int, int]:
    """(channels, bytes per sample) that :func:`pillow_pixels` makes of a Pillow mode."""
    if mode.startswith("I;16") or mode in ("I", "F"):
        return 1, 2
    if mode in ("1", "L"):
        return 1, 1
    if mode in ("RGB", "RGBX", "YCbCr", "CMYK") or (mode == "P" and not transparent):
        return 3, 1
    return 4, 1


def needed_bytes(pixels: int, *, decoder: int, channels: int, sample: int,
                 file_size: int) -> int:
    """Bytes that decoding an image and one float working copy of it take at their peak.

    Parameters
    ----------
    pixels : int
        Width × height.
    decoder : int
        Bytes per pixel the decoders hold besides the result: Pillow's storage and converted
        copies, libwebp's buffer, tifffile's decompressed strips.
    channels, sample : int
        Channels and bytes per sample of the decoded array.
    file_size : int
        The file is read into memory whole on some paths.

    Returns
    -------
    int
        The file, the decoders' buffers, the array and one more array while it is oriented or
        packed, and the float32 colour planes an op works on. Measured on 6-megapixel files of
        every path, the part before the float copy is 1.0 to 1.7 times the peak the loader
        reached (the float copy is the margin).
    """
    colour = 1 if channels == 1 else 3
    return file_size + pixels * (decoder + 2 * channels * sample + 4 * colour)
