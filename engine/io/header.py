"""What an image file's header says before any pixel is decoded, and whether the image fits:
the pixel limit and the memory budget, with the one-line messages that refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from engine.io.decode import decoded_layout, needed_bytes, tiff_header
from engine.io.formats import ImageReadError
from engine.io.memory import MEMORY_ENV, format_size, memory_budget, size_hint

__all__ = ["Header", "check_memory", "check_pixels", "fail", "memory_error", "pillow_header",
           "tiff_only_header"]


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}" if pixels >= 1e6 else f"{pixels / 1e6:.2g}"


def fail(path: Path, cause: str) -> ImageReadError:
    """``Cannot open NAME: cause``, as an :class:`ImageReadError` that carries the path."""
    return ImageReadError(f"Cannot open {path.name}: {cause}", path)


@dataclass
class Header:
    """What the header says, before any pixel is decoded: the size, the source layout, what
    decoding makes of it and how many bytes per pixel the decoders hold on the way."""

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


def pillow_header(im: Image.Image, fmt: str, head: bytes) -> Header:
    """What Pillow's lazily opened ``im`` (and the file's first bytes) say before decoding."""
    mode = im.mode
    width, height = im.size
    transparent = mode == "PA" or "transparency" in im.info
    icc = im.info.get("icc_profile") or None
    if fmt == "PNG" and len(head) > 25 and head[24] == 16 and head[25] in (2, 4, 6):
        channels = {2: 3, 4: 2, 6: 4}[head[25]]
        return Header(fmt, width, height, mode, 16, _KINDS[channels], True,
                      max(channels, 3), 2, 2 * channels, icc=icc)
    if fmt == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = max((b for b in (bits if isinstance(bits, tuple) else (bits,))
                    if isinstance(b, int)), default=8)
        samples = _first_int(im.tag_v2.get(277, 1), 1)
        if bits > 8 and samples >= 2 and _first_int(im.tag_v2.get(262), -1) in (1, 2):
            channels = 4 if samples == 2 else samples
            kind = _KINDS.get(samples, f"{samples}-channel")
            return Header(fmt, width, height, mode, bits, kind, True, channels, 2,
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
    return Header(fmt, width, height, mode, bits, kind, False, channels, sample, decoder,
                  icc=icc)


def tiff_only_header(path: Path, fh: BinaryIO) -> Header:
    """The header of a TIFF that Pillow does not open (16-bit gray+alpha, for one), by tifffile."""
    try:
        fh.seek(0)
        width, height, samples, bits, tags, icc = tiff_header(fh, path.name)
    except MemoryError:
        raise fail(path, "not enough memory to read the TIFF header") from None
    except Exception as exc:  # tifffile raises many types on a damaged header
        raise fail(path, "it looks like a TIFF file but its data is corrupt or unsupported "
                         f"({type(exc).__name__}: {exc})".replace("\n", " ")[:300]) from exc
    if samples > 4 and bits in (8, 16):
        raise fail(path, f"TIFF files of {samples} channels are not supported (use gray, "
                         "gray+alpha, RGB or RGBA)")
    if not (bits in (16, 32) and 2 <= samples <= 4):  # Pillow reads the others: damaged
        raise fail(path, "it looks like a TIFF file but its data is corrupt or unsupported "
                         f"(its header gives {samples} channel{'s' * (samples != 1)} of "
                         f"{bits} bits)")
    channels = 4 if samples == 2 else samples
    mode = f"{'L' if samples <= 2 else 'RGB'}{'A' if samples in (2, 4) else ''};{bits}"
    return Header("TIFF", width, height, mode, bits, _KINDS[samples], True, channels, 2,
                  2 * samples * -(-bits // 8), icc=icc, tiff_tags=tags)


def check_pixels(path: Path, header: Header, limit: int) -> None:
    """Refuse an image of more than ``limit`` pixels (0 or less: no limit)."""
    count = header.pixels
    if 0 < limit < count:
        raise fail(path, (
            f"the image is too large: {header.width}×{header.height} = {_mp(count)} megapixels,"
            f" above the limit of {_mp(limit)} megapixels. To open it anyway, set"
            f" PIXELMEND_MAX_PIXELS={count} or pass --max-pixels {count} on the command line."))


_ADVICE = {"available memory": "Close other programs to free memory",
           "the memory limit of this process's control group":
               "Raise the memory limit of the container or job",
           "this process's address-space limit": "Raise the address-space limit (ulimit -v)"}


def memory_error(path: Path, header: Header, needed: int, budget: int | None, source: str,
                 failed: bool = False) -> ImageReadError:
    """The one message for an image that does not fit.

    Parameters
    ----------
    path, header
        The file and what its header says (size, depth, layout).
    needed, budget, source
        The bytes it needs, the bytes this process may use (None: no limit) and what set them
        (:func:`engine.io.memory.memory_budget`).
    failed
        The check had let it through and an allocation failed while decoding.

    Returns
    -------
    ImageReadError
        One line: the size, the bytes, the budget and the way to raise it.
    """
    if failed:
        room = f"; {format_size(budget)} was available ({source})" if budget else ""
        return fail(path, (
            f"there is not enough memory to decode it: {header.describe()} needs about"
            f" {format_size(needed)}, and an allocation failed{room}. Close other programs, or"
            " open it on a machine with more memory."))
    if source in _ADVICE:
        fix = f"{_ADVICE[source]}, or set {MEMORY_ENV}={size_hint(needed)} to try anyway."
    elif source == MEMORY_ENV:
        fix = f"To allow it, set {MEMORY_ENV}={size_hint(needed)}."
    else:
        fix = f"To allow it, pass max_memory={needed} or more."
    return fail(path, (
        f"the image is too large for the memory available: {header.describe()} needs about"
        f" {format_size(needed)} to open and edit, and {format_size(budget or 0)} is available"
        f" ({source}). {fix}"))


def check_memory(path: Path, header: Header, max_memory: int | None, file_size: int) -> int:
    """Refuse an image that will not fit; return the bytes it is expected to need.

    ``max_memory`` replaces the budget when given (0: no limit); otherwise
    :func:`engine.io.memory.memory_budget` sets it.
    """
    needed = needed_bytes(header.pixels, decoder=header.decoder, channels=header.channels,
                          sample=header.sample, file_size=file_size)
    if max_memory is not None:
        budget, source = (int(max_memory) or None), "the max_memory argument"
    else:
        budget, source = memory_budget()
    if budget is not None and needed > budget:
        raise memory_error(path, header, needed, budget, source)
    return needed
