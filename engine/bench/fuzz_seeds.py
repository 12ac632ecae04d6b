"""Seed files for ``pixelmend bench fuzz``: one small image of every format, mode and bit depth
the loader reads, made here so the fuzz run needs no data folder.

PNG files are written by a small encoder of this module (every colour type and bit depth,
Adam7 interlacing, tRNS), the rest by :func:`engine.io.encode`, Pillow and tifffile. Each seed is
a few kilobytes, so a random mutation often lands in a header or a chunk table.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tifffile
from PIL import Image, ImageCms

from engine.io import encode

__all__ = ["Seed", "seed_files"]

_H, _W = 23, 37
"""Odd sizes, so rows need padding in BMP and partial bytes in low-depth PNG."""


@dataclass(frozen=True)
class Seed:
    """One seed file: its name (``format-mode``), the file extension and the bytes."""

    name: str
    ext: str
    data: bytes

    @property
    def format(self) -> str:
        return self.name.split("-", 1)[0]


def _pixels(channels: int, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    """Gradients with a little noise: compressible, but not to nothing."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:_H, 0:_W]
    planes = [x / (_W - 1), y / (_H - 1), (x + y) / (_H + _W - 2), 1 - x / (_W - 1)]
    base = np.stack(planes[:channels], axis=2) * 0.9 + rng.random((_H, _W, channels)) * 0.1
    return np.rint(base * top).astype(dtype)


# ----------------------------------------------------------------------------------------- PNG

def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _scanlines(samples: np.ndarray, depth: int) -> list[bytes]:
    """Rows of ``H×W×C`` samples packed at ``depth`` bits, each with filter byte 0."""
    if depth == 16:
        return [b"\x00" + row.astype(">u2").tobytes() for row in samples]
    if depth == 8:
        return [b"\x00" + row.astype(np.uint8).tobytes() for row in samples]
    rows = []
    per_byte = 8 // depth
    for row in samples.reshape(samples.shape[0], -1).astype(np.uint8):
        padded = np.zeros(-(-row.size // per_byte) * per_byte, np.uint8)
        padded[:row.size] = row
        groups = padded.reshape(-1, per_byte)
        shifts = np.arange(per_byte - 1, -1, -1) * depth
        rows.append(b"\x00" + (groups << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


def _png(samples: np.ndarray, colour_type: int, depth: int, *, interlace: bool = False,
         extra: bytes = b"") -> bytes:
    """A PNG of ``samples`` (``H×W×C``, values already in range for ``depth``)."""
    height, width = samples.shape[:2]
    rows: list[bytes] = []
    if interlace:
        for x0, y0, dx, dy in _ADAM7:
            part = samples[y0::dy, x0::dx]
            if part.size:
                rows += _scanlines(part, depth)
    else:
        rows = _scanlines(samples, depth)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b""))


def _png_seeds() -> dict[str, bytes]:
    gray8, gray16 = _pixels(1), _pixels(1, np.uint16)
    palette = _chunk(b"PLTE", bytes(np.arange(16 * 3, dtype=np.uint8) * 5))
    indices = (_pixels(1) >> 4).astype(np.uint8)
    return {
        "png-gray1": _png(gray8 >> 7, 0, 1),
        "png-gray2": _png(gray8 >> 6, 0, 2),
        "png-gray4-trns": _png(gray8 >> 4, 0, 4, extra=_chunk(b"tRNS", b"\x00\x03")),
        "png-gray8": _png(gray8, 0, 8),
        "png-gray16": _png(gray16, 0, 16),
        "png-graya8": _png(_pixels(2), 4, 8),
        "png-graya16": _png(_pixels(2, np.uint16), 4, 16),
        "png-rgb8": _png(_pixels(3), 2, 8),
        "png-rgb8-adam7": _png(_pixels(3), 2, 8, interlace=True),
        "png-rgb16": _png(_pixels(3, np.uint16), 2, 16),
        "png-rgb16-adam7": _png(_pixels(3, np.uint16), 2, 16, interlace=True),
        "png-rgba8": _png(_pixels(4), 6, 8),
        "png-rgba16": _png(_pixels(4, np.uint16), 6, 16),
        "png-pal4": _png(indices, 3, 4, extra=palette),
        "png-pal8-trns": _png(indices, 3, 8, extra=palette + _chunk(b"tRNS", bytes(range(0, 160,
                                                                                         10)))),
    }


# ------------------------------------------------------------------------------- the others

def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PixelMend fuzz"
    return exif.tobytes()


def _srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _pillow(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _tiff(pixels: np.ndarray, **options: object) -> bytes:
    out = io.BytesIO()
    tifffile.imwrite(out, pixels, metadata=None, **options)
    return out.getvalue()


def _rgb_image() -> Image.Image:
    return Image.fromarray(_pixels(3))


def _metadata_seeds() -> dict[str, bytes]:
    icc = _srgb()
    return {
        "png-rgb8-meta": encode(_pixels(3), "PNG", icc_profile=icc, exif=_exif(6)),
        "png-rgba16-meta": encode(_pixels(4, np.uint16), "PNG", icc_profile=icc,
                                  exif=_exif(8)),
        "jpeg-rgb-meta": encode(_pixels(3), "JPEG", icc_profile=icc, exif=_exif(6)),
        "tiff-rgb16-meta": encode(_pixels(3, np.uint16), "TIFF", icc_profile=icc, exif=_exif(3)),
        "webp-rgb-meta": encode(_pixels(3), "WEBP", icc_profile=icc, exif=_exif(6)),
    }


def _jpeg_seeds() -> dict[str, bytes]:
    cmyk = Image.fromarray(_pixels(4), "CMYK")
    return {
        "jpeg-gray": encode(_pixels(1), "JPEG", quality=85),
        "jpeg-rgb420": encode(_pixels(3), "JPEG", quality=80),
        "jpeg-rgb444": encode(_pixels(3), "JPEG", quality=95),
        "jpeg-progressive": _pillow(_rgb_image(), "JPEG", progressive=True, quality=85),
        "jpeg-cmyk": _pillow(cmyk, "JPEG", quality=90),
    }


def _tiff_seeds() -> dict[str, bytes]:
    floats = _pixels(1, np.uint16).astype(np.float32)[..., 0] / 65535
    rgb16 = _pixels(3, np.uint16)
    return {
        "tiff-gray8": encode(_pixels(1), "TIFF"),
        "tiff-rgb8": encode(_pixels(3), "TIFF"),
        "tiff-rgba8": encode(_pixels(4), "TIFF"),
        "tiff-gray16": encode(_pixels(1, np.uint16), "TIFF"),
        "tiff-rgb16": encode(rgb16, "TIFF"),
        "tiff-rgba16": encode(_pixels(4, np.uint16), "TIFF"),
        "tiff-float32": _tiff(floats, photometric="minisblack"),
        "tiff-float32-outside": _tiff(floats * 300 - 20, photometric="minisblack"),
        "tiff-int32": _tiff((floats * 60000).astype(np.int32), photometric="minisblack"),
        "tiff-rgb16-planar": _tiff(np.moveaxis(rgb16, 2, 0), photometric="rgb",
                                   planarconfig="separate"),
        "tiff-rgb16-tiled": _tiff(np.pad(rgb16, ((0, 9), (0, 11), (0, 0))), photometric="rgb",
                                  tile=(16, 16), compression="zlib"),
        "tiff-rgb8-bigendian": _tiff(_pixels(3), photometric="rgb", byteorder=">"),
        "tiff-graya16": _tiff(_pixels(2, np.uint16), photometric="minisblack",
                              planarconfig="contig", extrasamples=("unassalpha",)),
        "tiff-5ch16": _tiff(np.dstack([rgb16, rgb16[..., :2]]), photometric="minisblack",
                            planarconfig="contig"),
        "tiff-rgb8-raw": _pillow(_rgb_image(), "TIFF"),
        "tiff-rgb8-lzw": _pillow(_rgb_image(), "TIFF", compression="tiff_lzw"),
        "tiff-rgb8-packbits": _pillow(_rgb_image(), "TIFF", compression="packbits"),
        "tiff-gray1": _pillow(Image.fromarray(_pixels(1)[..., 0] > 128), "TIFF"),
        "tiff-palette": _pillow(_rgb_image().quantize(16), "TIFF"),
        "tiff-cmyk": _pillow(Image.fromarray(_pixels(4), "CMYK"), "TIFF"),
        "tiff-two-pages": _tiff(np.stack([_pixels(1)[..., 0]] * 2), photometric="minisblack"),
    }


def _webp_seeds() -> dict[str, bytes]:
    frames = [_rgb_image(), Image.fromarray(255 - _pixels(3))]
    return {
        "webp-lossy": encode(_pixels(3), "WEBP", quality=80),
        "webp-lossless": encode(_pixels(3), "WEBP", quality=100),
        "webp-alpha": encode(_pixels(4), "WEBP", quality=80),
        "webp-lossless-alpha": encode(_pixels(4), "WEBP", quality=100),
        "webp-animated": _pillow(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                 duration=100, lossless=True),
    }


def _bmp_seeds() -> dict[str, bytes]:
    return {
        "bmp-rgb24": encode(_pixels(3), "BMP"),
        "bmp-gray8": encode(_pixels(1), "BMP"),
        "bmp-rgba32": _pillow(Image.fromarray(_pixels(4)), "BMP"),
        "bmp-1bit": _pillow(Image.fromarray(_pixels(1)[..., 0] > 128), "BMP"),
        "bmp-palette4": _pillow(_rgb_image().quantize(16), "BMP"),
    }


_EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp"}
_MAKERS: tuple[Callable[[], dict[str, bytes]], ...] = (
    _png_seeds, _jpeg_seeds, _tiff_seeds, _webp_seeds, _bmp_seeds, _metadata_seeds)


def seed_files() -> list[Seed]:
    """Every seed file, sorted by name (the same bytes on every run with the same libraries).

    Returns
    -------
    list of Seed
        PNG (1-16 bit gray, gray+alpha, RGB, RGBA, palette, tRNS, Adam7), JPEG (gray, 4:2:0,
        4:4:4, progressive, CMYK), TIFF (8/16-bit gray/RGB/RGBA, 32-bit float and int, planar,
        tiled, big-endian, 16-bit gray+alpha, 5 channels, LZW, PackBits, 1-bit, palette, CMYK,
        two pages), WebP (lossy, lossless, alpha, animated), BMP (24/32-bit, gray, 1-bit,
        4-bit palette), and files with an ICC profile and EXIF orientation.
    """
    seeds = {name: data for make in _MAKERS for name, data in make().items()}
    return [Seed(name, _EXTENSIONS[name.split("-", 1)[0]], seeds[name]) for name in sorted(seeds)]
