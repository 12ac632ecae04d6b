"""Mutations of image files for ``pixelmend bench fuzz``.

Each mutation takes the bytes of a seed file, its format and a random generator, and returns new
bytes: :data:`MUTATIONS` names them. They are chosen to reach the places where loaders break:

``bit_flip``
    1-8 bits flipped, half the time inside the first 256 bytes (the headers).
``truncate``
    The file cut short, a third of the time inside its first 128 bytes.
``byte_run``
    A run of bytes overwritten (or inserted) with zeros, 0xFF, one random value or noise.
``header_size``
    The width and/or height in the format's header set to a boundary value (0, 1, 32766,
    15800, 65535, 2**31-1, ...), sometimes the bit depth or channel count too; PNG chunk CRCs
    are recomputed so the edit reaches the decoder.
``repeat_chunk``
    A PNG or WebP chunk, or a JPEG marker segment, written twice; in TIFF and BMP a slice of
    bytes repeated.
``stacked``
    Two or three of the above, one after another.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["MUTATIONS", "mutate"]

_SIZES = (0, 1, 2, 255, 256, 4096, 7324, 15800, 32766, 32767, 65535, 65536, 2**20, 2**24 - 1,
          2**31 - 1, 2**32 - 1)


def _size(rng: np.random.Generator, bits: int) -> int:
    """A boundary value (or a random one) that fits in ``bits`` bits."""
    value = int(rng.integers(1, 70_000)) if rng.random() < 0.2 else int(rng.choice(_SIZES))
    return min(value, 2**bits - 1)


def _bit_flip(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        end = min(len(out), 256) if rng.random() < 0.5 else len(out)
        out[int(rng.integers(0, end))] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _truncate(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    end = min(len(data) - 1, 128) if rng.random() < 1 / 3 else len(data) - 1
    return data[:int(rng.integers(1, max(2, end + 1)))]


def _byte_run(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    length = int(rng.integers(1, 65)) if rng.random() < 0.8 else int(rng.integers(1, len(data)))
    fill = int(rng.integers(0, 4))
    run = (bytes(length), b"\xff" * length, bytes([int(rng.integers(0, 256))]) * length,
           rng.integers(0, 256, length, dtype=np.uint8).tobytes())[fill]
    where = int(rng.integers(0, min(len(data), 128) if rng.random() < 0.5 else len(data)))
    if rng.random() < 0.25:
        return data[:where] + run + data[where:]
    return data[:where] + run + data[where + length:]


# ------------------------------------------------------------------------------ header fields

def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of each whole PNG chunk."""
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if pos + 12 + length > len(data):
            break
        chunks.append((pos, 12 + length))
        pos += 12 + length
    return chunks


def _fix_png_crc(out: bytearray, pos: int) -> None:
    length = struct.unpack(">I", out[pos:pos + 4])[0]
    crc = zlib.crc32(out[pos + 4:pos + 8 + length])
    out[pos + 8 + length:pos + 12 + length] = struct.pack(">I", crc)


def _png_header(out: bytearray, rng: np.random.Generator) -> None:
    if len(out) < 33:
        return
    width = _size(rng, 31)
    height = width if rng.random() < 0.3 else _size(rng, 31)
    which = int(rng.integers(0, 3))
    if which != 1:
        out[16:20] = struct.pack(">I", width)
    if which != 0:
        out[20:24] = struct.pack(">I", height)
    if rng.random() < 0.2:  # bit depth or colour type
        out[24 + int(rng.integers(0, 2))] = int(rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 255]))
    if rng.random() < 0.9:
        _fix_png_crc(out, 8)


def _jpeg_header(out: bytearray, rng: np.random.Generator) -> None:
    pos = 2
    while pos + 9 < len(out) and out[pos] == 0xFF:
        marker = out[pos + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            which = int(rng.integers(0, 3))
            if which != 1:
                out[pos + 5:pos + 7] = struct.pack(">H", _size(rng, 16))
            if which != 0:
                out[pos + 7:pos + 9] = struct.pack(">H", _size(rng, 16))
            if rng.random() < 0.2:
                out[pos + 9] = int(rng.choice([0, 1, 2, 3, 4, 5, 255]))
            return
        pos += 2 + struct.unpack(">H", out[pos + 2:pos + 4])[0]


def _tiff_header(out: bytearray, rng: np.random.Generator) -> None:
    if len(out) < 8 or out[:2] not in (b"II", b"MM"):
        return
    order = "<" if out[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", out[4:8])[0]
    if ifd + 2 > len(out):
        return
    count = struct.unpack(order + "H", out[ifd:ifd + 2])[0]
    wanted = {256, 257} if rng.random() < 0.8 else {256, 257, 258, 277, 278}
    for index in range(count):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(out):
            return
        tag, kind = struct.unpack(order + "HH", out[entry:entry + 4])
        if tag in wanted and rng.random() < 0.7:
            if kind == 3:
                out[entry + 8:entry + 10] = struct.pack(order + "H", _size(rng, 16))
            elif kind == 4:
                out[entry + 8:entry + 12] = struct.pack(order + "I", _size(rng, 32))


def _bmp_header(out: bytearray, rng: np.random.Generator) -> None:
    if len(out) < 30:
        return
    which = int(rng.integers(0, 3))
    if which != 1:
        out[18:22] = struct.pack("<I", _size(rng, 31))
    if which != 0:
        height = _size(rng, 31)
        out[22:26] = struct.pack("<i", -height if rng.random() < 0.3 else height)
    if rng.random() < 0.2:
        out[28:30] = struct.pack("<H", int(rng.choice([0, 1, 4, 8, 16, 24, 32, 64, 65535])))


def _riff_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length with padding) of each WebP RIFF chunk."""
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        length = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        total = 8 + length + (length & 1)
        if pos + total > len(data):
            break
        chunks.append((pos, total))
        pos += total
    return chunks


def _webp_header(out: bytearray, rng: np.random.Generator) -> None:
    for pos, _ in _riff_chunks(bytes(out)):
        kind, body = bytes(out[pos:pos + 4]), pos + 8
        if kind == b"VP8X" and body + 10 <= len(out):
            for field in (body + 4, body + 7)[:int(rng.integers(1, 3))]:
                out[field:field + 3] = struct.pack("<I", _size(rng, 24))[:3]
            return
        if kind == b"VP8 " and body + 10 <= len(out):
            field = body + 6 + 2 * int(rng.integers(0, 2))
            out[field:field + 2] = struct.pack("<H", _size(rng, 14))
            return
        if kind == b"VP8L" and body + 5 <= len(out):
            bits = struct.unpack("<I", out[body + 1:body + 5])[0]
            shift = 14 * int(rng.integers(0, 2))
            bits = (bits & ~(0x3FFF << shift)) | ((_size(rng, 14) & 0x3FFF) << shift)
            out[body + 1:body + 5] = struct.pack("<I", bits & 0xFFFFFFFF)
            return


_HEADERS: dict[str, Callable[[bytearray, np.random.Generator], None]] = {
    "png": _png_header, "jpeg": _jpeg_header, "tiff": _tiff_header, "bmp": _bmp_header,
    "webp": _webp_header}


def _header_size(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    _HEADERS[fmt](out, rng)
    return bytes(out)


# ------------------------------------------------------------------------------------ chunks

def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of each marker segment before the scan data."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xD9, 0xDA):
        total = 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if pos + total > len(data):
            break
        segments.append((pos, total))
        pos += total
    return segments


def _repeat_chunk(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    finder = {"png": _png_chunks, "jpeg": _jpeg_segments, "webp": _riff_chunks}.get(fmt)
    spans = finder(data) if finder else []
    if spans:
        pos, length = spans[int(rng.integers(0, len(spans)))]
    else:
        pos = int(rng.integers(0, len(data)))
        length = int(rng.integers(1, max(2, min(len(data) - pos, 512))))
    piece = data[pos:pos + length]
    times = 1 if rng.random() < 0.8 else int(rng.integers(2, 50))
    out = data[:pos + length] + piece * times + data[pos + length:]
    if fmt == "webp" and rng.random() < 0.7:  # keep the RIFF size consistent
        out = out[:4] + struct.pack("<I", len(out) - 8) + out[8:]
    return out


_SINGLE: dict[str, Callable[[bytes, str, np.random.Generator], bytes]] = {
    "bit_flip": _bit_flip, "truncate": _truncate, "byte_run": _byte_run,
    "header_size": _header_size, "repeat_chunk": _repeat_chunk}


def _stacked(data: bytes, fmt: str, rng: np.random.Generator) -> bytes:
    names = list(_SINGLE)
    for _ in range(int(rng.integers(2, 4))):
        data = _SINGLE[names[int(rng.integers(0, len(names)))]](data, fmt, rng)
        if len(data) < 2:
            break
    return data


MUTATIONS: dict[str, Callable[[bytes, str, np.random.Generator], bytes]] = {
    **_SINGLE, "stacked": _stacked}
"""Mutation name → ``mutation(data, fmt, rng) -> bytes`` (``fmt``: png, jpeg, tiff, webp, bmp)."""


def mutate(data: bytes, fmt: str, kind: str, rng: np.random.Generator) -> bytes:
    """Return a mutated copy of ``data``.

    Parameters
    ----------
    data : bytes
        The seed file (at least 2 bytes).
    fmt : str
        Its format: ``"png"``, ``"jpeg"``, ``"tiff"``, ``"webp"`` or ``"bmp"``.
    kind : str
        One of :data:`MUTATIONS`.
    rng : numpy.random.Generator
        The only source of randomness, so a case is reproduced from its seed.

    Returns
    -------
    bytes
        Never empty (an empty file is a case of its own).
    """
    out = MUTATIONS[kind](data, fmt, rng)
    return out or data[:1]
