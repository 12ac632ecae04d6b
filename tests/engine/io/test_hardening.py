"""The loader under damaged and hostile input: files that are not files, images that do not fit
in memory, decoders that fail in their own ways, and the layouts fuzzing turned up."""

from __future__ import annotations

import io
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile

from engine.io import ImageReadError, encode, load, memory_budget, parse_size, save
from engine.io import read as read_module
from engine.io.decode import to_uint16
from engine.io.memory import format_size, size_hint

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX special files")
linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")
RNG = np.random.default_rng(19)


def _noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, (h, w, c), endpoint=True, dtype=dtype)


# ------------------------------------------------------------------------ only regular files

@posix_only
def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)

    def unblock() -> None:  # if the loader ever waits for a writer, free it so the test fails
        time.sleep(5)
        with open(fifo, "wb"):
            pass

    threading.Thread(target=unblock, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(ImageReadError) as err:
        load(fifo)
    assert time.monotonic() - started < 2
    assert str(err.value) == "Cannot open photo.png: it is a named pipe (FIFO), not an image file"


@posix_only
def test_a_path_swapped_for_a_fifo_after_the_check_is_still_refused(tmp_path, monkeypatch):
    fifo, regular = tmp_path / "photo.png", tmp_path / "real.png"
    os.mkfifo(fifo)
    save(regular, _noise(4, 4, 3))
    real_stat = os.stat

    def stale_stat(path, *args, **kwargs):  # the check sees the file that was there before
        return real_stat(regular if Path(path) == fifo else path, *args, **kwargs)

    monkeypatch.setattr(read_module.os, "stat", stale_stat)
    started = time.monotonic()
    with pytest.raises(ImageReadError, match="named pipe"):
        load(fifo)
    assert time.monotonic() - started < 2


@posix_only
@pytest.mark.parametrize("kind", ["device", "socket", "directory"])
def test_other_special_files_are_refused(tmp_path, kind):
    if kind == "device":
        path = tmp_path / "zero.png"
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        path = tmp_path / "s.png"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    else:
        path = tmp_path / "d.png"
        path.mkdir()
    with pytest.raises(ImageReadError) as err:
        load(path)
    assert str(err.value) == f"Cannot open {path.name}: it is a {kind}, not an image file"


# ------------------------------------------------------------------------------ memory budget

def _png_header_only(width: int, height: int, depth: int, colour_type: int) -> bytes:
    """A PNG whose IHDR claims a size, with a little image data (not enough for it)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(4096))) + chunk(b"IEND", b""))


def _tiff_with_size(pixels: np.ndarray, width: int, height: int) -> bytes:
    """An uncompressed TIFF of ``pixels`` whose header then claims ``width``×``height``."""
    out = io.BytesIO()
    tifffile.imwrite(out, pixels, photometric="rgb", metadata=None)
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for index in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * index
        tag, kind = struct.unpack("<HH", data[entry:entry + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            data[entry + 8:entry + 12] = struct.pack("<HH" if kind == 3 else "<I",
                                                     *((value, 0) if kind == 3 else (value,)))
    return bytes(data)


def _no_decoding(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("decoded an image that does not fit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", refuse)


def test_a_png_that_will_not_fit_is_refused_from_its_header(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_png_header_only(15800, 15800, 16, 6))  # 16-bit RGBA, below the pixel limit
    _no_decoding(monkeypatch)
    with pytest.raises(ImageReadError) as err:
        load(path, max_memory=4 << 30)
    message = str(err.value)
    assert message.startswith("Cannot open big.png: the image is too large for the memory "
                              "available: a 15800×15800 image (249.6 megapixels, 16-bit RGBA)")
    needed = float(message.split("needs about ")[1].split(" GiB")[0])
    assert 15800 * 15800 * 8 * 2 / 2**30 < needed < 15 and "4.0 GiB is available" in message
    assert "max_memory=" in message and "\n" not in message


def test_a_tiff_whose_header_claims_a_huge_size_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "claims.tif"
    path.write_bytes(_tiff_with_size(_noise(8, 8, 3, np.uint16), 32766, 7324))
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "4G")
    _no_decoding(monkeypatch)
    with pytest.raises(ImageReadError) as err:
        load(path)
    message = str(err.value)
    assert "32766×7324 image (240.0 megapixels, 16-bit RGB)" in message
    assert "(PIXELMEND_MAX_MEMORY). To allow it, set PIXELMEND_MAX_MEMORY=" in message
    hint = message.rsplit("PIXELMEND_MAX_MEMORY=", 1)[1].rstrip(".")
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", hint)  # the value the message gives is enough:
    with pytest.raises(AssertionError, match="decoded"):  # it goes on to decode
        load(path)


def test_the_memory_limit_variable(tmp_path, monkeypatch):
    path = save(tmp_path / "a.png", _noise(500, 600, 3))
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "1M")
    with pytest.raises(ImageReadError, match=r"600×500 image .* and 1\.0 MiB is available"):
        load(path)
    assert load(path, max_memory=0).pixels.shape == (500, 600, 3)  # the argument wins
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "0")
    assert load(path).pixels.shape == (500, 600, 3)
    monkeypatch.setenv("PIXELMEND_MAX_MEMORY", "lots")
    with pytest.raises(ValueError, match="PIXELMEND_MAX_MEMORY"):
        load(path)


@linux_only
def test_the_budget_follows_the_address_space_limit():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30));"
            "from engine.io import memory_budget; print(*memory_budget(), sep='|')")
    env = {k: v for k, v in os.environ.items() if k != "PIXELMEND_MAX_MEMORY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=Path(__file__).parents[3]).stdout.strip()
    budget, source = out.split("|")
    assert source == "this process's address-space limit"
    assert 1 << 30 < int(budget) < 3 << 30


def test_sizes_parse_and_print():
    assert parse_size("8G") == 8 << 30 and parse_size("512m") == 512 << 20
    assert parse_size("1.5GiB") == 3 << 29 and parse_size("4096") == 4096
    with pytest.raises(ValueError, match="not a size"):
        parse_size("eight gigs")
    assert format_size(1997120000) == "1.9 GiB" and format_size(350 << 20) == "350 MiB"
    assert size_hint((7 << 30) + 1) == "8G" and size_hint(350 << 20) == "400M"
    budget, source = memory_budget()
    assert budget is None or budget > 0 and source


_PEAK = """
import sys
from pathlib import Path
from engine.io import load
from engine.io import read

def status(field):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines()
                if l.startswith(field))
    return int(line.split()[1]) * 1024

load(sys.argv[2])
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
before = status("VmRSS:")
needed = []
check = read.check_memory
read.check_memory = lambda *a, **k: needed.append(check(*a, **k)) or needed[-1]
image = load(sys.argv[1])
print(status("VmHWM:") - before, needed[0])
"""


@linux_only
@pytest.mark.parametrize("name", ["rgba16.png", "rgb8.jpg", "rgba8.webp", "rgb16.tif",
                                  "float32.tif"])
def test_the_estimate_covers_what_loading_takes(tmp_path, name):
    height, width = 1000, 1500
    if name == "float32.tif":
        tifffile.imwrite(tmp_path / name, RNG.random((height, width), np.float32) * 9,
                         metadata=None)
    else:
        channels = 4 if "rgba" in name else 3
        dtype = np.uint16 if "16" in name else np.uint8
        (tmp_path / name).write_bytes(encode(_noise(height, width, channels, dtype),
                                             name.split(".")[1].replace("jpg", "jpeg"),
                                             quality=100))
    save(tmp_path / "tiny.png", _noise(2, 2, 3))
    out = subprocess.run([sys.executable, "-c", _PEAK, str(tmp_path / name),
                          str(tmp_path / "tiny.png")], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[3]).stdout.split()
    peak, needed = int(out[0]), int(out[1])
    assert peak <= needed < 4 * peak, (peak, needed)


# ---------------------------------------------------------------------- decoders that fail

def test_an_allocation_failure_in_opencv_is_the_memory_error(tmp_path, monkeypatch):
    path = save(tmp_path / "deep.png", _noise(30, 40, 4, np.uint16))

    def out_of_memory(*args, **kwargs):
        raise cv2.error("OpenCV(5.1.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to "
                        "allocate 1997120000 bytes in function 'OutOfMemoryError'")

    monkeypatch.setattr(cv2, "imdecode", out_of_memory)
    with pytest.raises(ImageReadError) as err:
        load(path)
    assert str(err.value).startswith("Cannot open deep.png: there is not enough memory to "
                                     "decode it: a 40×30 image (0.0012 megapixels, 16-bit RGBA)")
    assert "an allocation failed" in str(err.value)


def test_a_memory_error_in_pillow_is_the_memory_error(tmp_path, monkeypatch):
    path = save(tmp_path / "a.jpg", _noise(30, 40, 3))

    def out_of_memory(self):
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", out_of_memory)
    with pytest.raises(ImageReadError, match=r"not enough memory to decode it: a 40×30 image"):
        load(path)


def test_other_opencv_errors_are_corrupt_data(tmp_path, monkeypatch):
    path = save(tmp_path / "deep.png", _noise(30, 40, 3, np.uint16))

    def refuses(*args, **kwargs):
        raise cv2.error("OpenCV(5.1.0) /io/opencv/modules/imgcodecs/src/loadsave.cpp:76: error:"
                        " (-215:Assertion failed) size.width <= CV_IO_MAX_IMAGE_WIDTH in "
                        "function 'validateInputImageSize'\n")

    monkeypatch.setattr(cv2, "imdecode", refuses)
    with pytest.raises(ImageReadError) as err:
        load(path)
    assert str(err.value) == ("Cannot open deep.png: the image data is corrupt (OpenCV refused "
                              "it: Assertion failed: size.width <= CV_IO_MAX_IMAGE_WIDTH)")


def test_a_tiff_tag_of_the_wrong_type_is_corrupt_data(tmp_path):
    """A bit flip made StripOffsets a RATIONAL; Pillow then raised TypeError while decoding."""
    out = io.BytesIO()
    Image.fromarray(_noise(23, 37, 1)[..., 0] > 128).save(out, "TIFF")
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for index in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * index
        if struct.unpack("<H", data[entry:entry + 2])[0] == 273:
            data[entry + 2:entry + 4] = struct.pack("<H", 5)
    path = tmp_path / "flipped.tif"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"flipped\.tif: the image data is corrupt "
                                             r"\(TypeError: "):
        load(path)


# ------------------------------------------------------------------------- layouts and writes

def test_sixteen_bit_gray_alpha_tiff_loads_as_rgba(tmp_path):
    """Pillow does not open it; tifffile reads the header and the pixels."""
    px = _noise(9, 11, 2, np.uint16)
    tifffile.imwrite(tmp_path / "la.tif", px, photometric="minisblack", planarconfig="contig",
                     extrasamples=("unassalpha",), metadata=None)
    img = load(tmp_path / "la.tif")
    assert img.pixels.dtype == np.uint16 and img.has_alpha and img.source_mode == "LA;16"
    np.testing.assert_array_equal(img.pixels, px[..., [0, 0, 0, 1]])


def test_a_tiff_of_five_sixteen_bit_channels_is_a_clear_error(tmp_path):
    tifffile.imwrite(tmp_path / "five.tif", _noise(6, 7, 5, np.uint16), photometric="minisblack",
                     planarconfig="contig", metadata=None)
    with pytest.raises(ImageReadError) as err:
        load(tmp_path / "five.tif")
    assert str(err.value) == ("Cannot open five.tif: TIFF files of 5 channels are not supported "
                              "(use gray, gray+alpha, RGB or RGBA)")


def test_a_tiff_pillow_refuses_for_a_damaged_header_is_not_called_unsupported(tmp_path):
    """Pillow reads 8-bit gray; when it cannot, the file is damaged (here: 0 bits a sample)."""
    out = io.BytesIO()
    tifffile.imwrite(out, _noise(6, 7, 1, np.uint8)[..., 0], photometric="minisblack",
                     metadata=None)
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for index in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * index
        if struct.unpack("<H", data[entry:entry + 2])[0] == 258:  # BitsPerSample
            data[entry + 8:entry + 10] = struct.pack("<H", 0)
    (tmp_path / "zero.tif").write_bytes(bytes(data))
    with pytest.raises(ImageReadError) as err:
        load(tmp_path / "zero.tif")
    assert str(err.value) == ("Cannot open zero.tif: it looks like a TIFF file but its data is "
                              "corrupt or unsupported (its header gives 1 channel of 0 bits)")


def test_a_damaged_exif_block_is_dropped_and_the_pixels_load(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "camera"
    data = encode(_noise(16, 16, 3), "JPEG", exif=exif.tobytes())
    at = data.index(b"Exif\x00\x00") + 6
    data = data[:at] + b"ME\x00*" + data[at + 4:]  # not a TIFF header any more
    (tmp_path / "exif.jpg").write_bytes(data)
    img = load(tmp_path / "exif.jpg")
    assert img.pixels.shape == (16, 16, 3) and img.exif is None


def test_a_tall_narrow_float_tiff_converts_quickly(tmp_path):
    tifffile.imwrite(tmp_path / "tall.tif", RNG.random((2_000_000, 1), np.float32) * 7,
                     metadata=None)
    started = time.perf_counter()
    img = load(tmp_path / "tall.tif")
    assert img.pixels.shape == (2_000_000, 1, 1) and img.pixels.max() == 65535
    assert time.perf_counter() - started < 5  # row blocks of one value took minutes


def test_a_tiff_that_decodes_to_nothing_is_corrupt(tmp_path, monkeypatch):
    save(tmp_path / "deep.tif", _noise(5, 6, 3, np.uint16))
    monkeypatch.setattr(tifffile.TiffPage, "asarray", lambda self, *a, **k: np.zeros((0,)))
    with pytest.raises(ImageReadError) as err:
        load(tmp_path / "deep.tif")
    assert str(err.value) == "Cannot open deep.tif: the image data is corrupt (the decoder gave " \
                             "no pixels)"


def test_thirty_two_bit_gray_is_converted_in_blocks_with_the_same_result():
    values = RNG.normal(3.0, 40.0, (700, 31)).astype(np.float32)
    values[5, 5], values[600, 3] = np.nan, np.inf
    clean = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = clean.min(), clean.max()
    expected = np.clip(np.rint((clean - lo) * (65535.0 / (hi - lo))), 0, 65535)
    np.testing.assert_array_equal(to_uint16(values, True), expected.astype(np.uint16))


@pytest.mark.parametrize("quality", [90, 95, 100])
def test_a_noisy_photo_saves_as_jpeg_at_high_quality(tmp_path, quality):
    """Pillow's buffer for an optimised JPEG was too small for noise at 4:4:4."""
    px = _noise(300, 400, 3)
    img = load(save(tmp_path / "grain.jpg", px, quality=quality))
    assert img.pixels.shape == (300, 400, 3)
    assert np.abs(img.pixels.astype(int) - px).mean() < 12
