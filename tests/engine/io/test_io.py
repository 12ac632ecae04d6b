"""Tests for engine.io: round trips, modes, orientation, metadata, limits, errors, saves."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile

from engine.io import (
    SUPPORTED_EXTENSIONS,
    ImageReadError,
    ImageWriteError,
    encode,
    is_supported,
    load,
    read_mask,
    save,
)

RNG = np.random.default_rng(1234)


def make_pixels(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    return RNG.integers(0, top, size=(h, w, c), endpoint=True, dtype=dtype)


def smooth_rgb(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)],
                    axis=2).astype(np.uint8)


@pytest.fixture(scope="module")
def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def exif_make() -> bytes:
    exif = Image.Exif()
    exif[271] = "PixelMend Camera"
    exif[272] = "Model 7"
    return exif.tobytes()


def exif_tag(block: bytes | None, tag: int) -> object:
    assert block is not None
    exif = Image.Exif()
    exif.load(block)
    return exif.get(tag)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------ round trips

@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_lossless_round_trip_exact(tmp_path, ext, dtype, channels):
    px = make_pixels(13, 17, channels, dtype)
    path = save(tmp_path / f"img{ext}", px)
    img = load(path)
    assert img.pixels.dtype == dtype
    assert img.pixels.shape == (13, 17, channels)
    np.testing.assert_array_equal(img.pixels, px)
    assert img.bit_depth == (16 if dtype == np.uint16 else 8)
    assert img.has_alpha == (channels == 4)
    assert img.format == ("PNG" if ext == ".png" else "TIFF")
    assert img.path == path


def test_two_dimensional_array_saves_as_gray(tmp_path):
    px = make_pixels(5, 6, 1, np.uint16)[..., 0]
    img = load(save(tmp_path / "g.png", px))
    np.testing.assert_array_equal(img.pixels[..., 0], px)


@pytest.mark.parametrize("channels", [3, 4])
def test_webp_lossless_exact(tmp_path, channels):
    px = make_pixels(16, 20, channels)
    img = load(save(tmp_path / "a.webp", px, quality=100))
    assert img.format == "WEBP"
    np.testing.assert_array_equal(img.pixels, px)


@pytest.mark.parametrize("channels", [1, 3])
def test_bmp_exact(tmp_path, channels):
    px = make_pixels(9, 11, channels)
    img = load(save(tmp_path / "a.bmp", px))
    assert img.format == "BMP"
    np.testing.assert_array_equal(img.pixels, px)


def test_jpeg_close(tmp_path):
    px = smooth_rgb()
    img = load(save(tmp_path / "a.jpg", px, quality=95))
    assert img.format == "JPEG" and img.pixels.dtype == np.uint8
    assert np.abs(img.pixels.astype(int) - px).mean() < 2.0


def test_sixteen_bit_reduced_to_eight_with_rounding(tmp_path):
    px = make_pixels(7, 9, 3, np.uint16)
    px[0, 0] = [0, 65535, 129]
    img = load(save(tmp_path / "a.bmp", px))
    assert img.bit_depth == 8
    np.testing.assert_array_equal(img.pixels, ((px.astype(np.uint32) + 128) // 257))
    assert img.pixels[0, 0].tolist() == [0, 255, 1]


def test_sixteen_bit_jpeg_is_reduced(tmp_path):
    px = smooth_rgb().astype(np.uint16) * 257
    img = load(save(tmp_path / "a.jpeg", px))
    assert img.pixels.dtype == np.uint8
    assert np.abs(img.pixels.astype(int) - px // 257).mean() < 2.0


def test_bool_mask_saves_as_black_and_white(tmp_path):
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    img = load(save(tmp_path / "m.png", mask))
    np.testing.assert_array_equal(img.pixels[..., 0], mask.astype(np.uint8) * 255)


# -------------------------------------------------------------------------------- source modes

def test_palette_png_with_transparency_loads_as_rgba(tmp_path):
    im = Image.new("P", (4, 2))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    im.putdata([0, 1, 2, 0, 1, 2, 0, 1])
    path = tmp_path / "pal.png"
    im.save(path, transparency=2)
    img = load(path)
    assert img.source_mode == "P" and img.has_alpha and img.pixels.dtype == np.uint8
    assert img.pixels[0, 0].tolist() == [255, 0, 0, 255]
    assert img.pixels[0, 1].tolist() == [0, 255, 0, 255]
    assert img.pixels[0, 2, 3] == 0


def test_palette_without_transparency_loads_as_rgb(tmp_path):
    im = Image.fromarray(smooth_rgb()).convert("P")
    im.save(tmp_path / "pal.png")
    img = load(tmp_path / "pal.png")
    assert img.pixels.shape[2] == 3 and not img.has_alpha


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_cmyk_loads_as_rgb(tmp_path, ext):
    # cyan, magenta, yellow, black blocks
    blocks = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255)]
    arr = np.concatenate([np.full((16, 16, 4), b, np.uint8) for b in blocks], axis=1)
    path = tmp_path / f"cmyk{ext}"
    Image.fromarray(arr, "CMYK").save(path, quality=95) if ext == ".jpg" else \
        Image.fromarray(arr, "CMYK").save(path)
    img = load(path)
    assert img.source_mode == "CMYK" and img.pixels.shape == (16, 64, 3)
    assert img.icc_profile is None
    expected = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0)]
    for i, rgb in enumerate(expected):
        got = img.pixels[8, 16 * i + 8].astype(int)
        assert np.abs(got - rgb).max() < 30, (i, got)


def test_one_bit_loads_as_gray(tmp_path):
    im = Image.new("1", (8, 3))
    im.putpixel((2, 1), 1)
    im.save(tmp_path / "bw.png")
    img = load(tmp_path / "bw.png")
    assert img.source_mode == "1" and img.pixels.shape == (3, 8, 1)
    assert img.pixels.dtype == np.uint8 and img.pixels[1, 2, 0] == 255 and img.pixels.sum() == 255


def test_gray_alpha_becomes_rgba(tmp_path):
    im = Image.new("LA", (3, 2), (100, 50))
    im.save(tmp_path / "la.png")
    img = load(tmp_path / "la.png")
    assert img.has_alpha and img.pixels[0, 0].tolist() == [100, 100, 100, 50]


def test_sixteen_bit_gray_png_from_pillow(tmp_path):
    px = make_pixels(6, 5, 1, np.uint16)[..., 0]
    Image.fromarray(px).save(tmp_path / "g16.png")
    img = load(tmp_path / "g16.png")
    assert img.bit_depth == 16
    np.testing.assert_array_equal(img.pixels[..., 0], px)


def test_big_endian_and_planar_tiff(tmp_path):
    gray = make_pixels(6, 5, 1, np.uint16)[..., 0]
    tifffile.imwrite(tmp_path / "be.tif", gray, byteorder=">", photometric="minisblack")
    np.testing.assert_array_equal(load(tmp_path / "be.tif").pixels[..., 0], gray)
    rgb = make_pixels(6, 5, 3, np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb",
                     planarconfig="separate")
    np.testing.assert_array_equal(load(tmp_path / "planar.tif").pixels, rgb)


def test_float_tiff_in_unit_range_scales_to_uint16(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    img = load(tmp_path / "f.tif")
    assert img.source_mode == "F" and img.bit_depth == 16
    assert img.pixels[..., 0].tolist() == [[0, 32768, 65535]]


def test_float_tiff_out_of_range_is_stretched(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.array([[-2.0, 0.0, 2.0]], np.float32))
    assert load(tmp_path / "f.tif").pixels[..., 0].tolist() == [[0, 32768, 65535]]


def test_int32_tiff_in_range_is_kept(tmp_path):
    tifffile.imwrite(tmp_path / "i.tif", np.array([[0, 1000, 65535]], np.int32))
    img = load(tmp_path / "i.tif")
    assert img.source_mode == "I" and img.pixels[..., 0].tolist() == [[0, 1000, 65535]]


# --------------------------------------------------------------------------------- orientation

@pytest.mark.parametrize(("orientation", "k"), [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_applied(tmp_path, orientation, k):
    px = make_pixels(5, 9, 3)  # asymmetric: 5 rows, 9 columns, random
    im = Image.fromarray(px)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "o.png", exif=exif.tobytes())
    img = load(tmp_path / "o.png")
    np.testing.assert_array_equal(img.pixels, np.rot90(px, k))
    assert exif_tag(img.exif, 0x0112) == 1


def test_exif_orientation_on_sixteen_bit_png(tmp_path):
    px = make_pixels(5, 9, 4, np.uint16)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[271] = "Cam"
    img = load(save(tmp_path / "o16.png", px, exif=exif.tobytes()))
    np.testing.assert_array_equal(img.pixels, np.rot90(px, -1))
    assert exif_tag(img.exif, 0x0112) == 1 and exif_tag(img.exif, 271) == "Cam"


def test_exif_orientation_on_jpeg(tmp_path):
    px = np.zeros((32, 64, 3), np.uint8)
    px[:16, :16] = 255  # bright top-left corner
    im = Image.fromarray(px)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    img = load(tmp_path / "o.jpg")
    assert img.pixels.shape == (64, 32, 3)
    assert img.pixels[8, 24].min() > 200 and img.pixels[56, 8].max() < 50  # now top-right


# ------------------------------------------------------------------------------------ metadata

@pytest.mark.parametrize(("ext", "dtype"), [(".png", np.uint8), (".png", np.uint16),
                                            (".tif", np.uint8), (".tif", np.uint16),
                                            (".jpg", np.uint8), (".webp", np.uint8)])
def test_icc_and_exif_preserved(tmp_path, srgb_icc, exif_make, ext, dtype):
    px = make_pixels(8, 8, 3, dtype)
    img = load(save(tmp_path / f"m{ext}", px, icc_profile=srgb_icc, exif=exif_make))
    assert img.icc_profile == srgb_icc
    assert exif_tag(img.exif, 271) == "PixelMend Camera"
    assert exif_tag(img.exif, 272) == "Model 7"


def test_png_metadata_chunks_follow_ihdr_with_valid_crc(srgb_icc, exif_make):
    data = encode(make_pixels(4, 4, 3, np.uint16), "PNG", icc_profile=srgb_icc, exif=exif_make)
    pos, kinds = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        pos += 12 + length
    assert kinds[:3] == [b"IHDR", b"iCCP", b"eXIf"] and kinds[-1] == b"IEND"
    assert kinds.count(b"iCCP") == 1
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def test_no_metadata_gives_none(tmp_path):
    img = load(save(tmp_path / "plain.png", make_pixels(3, 3, 3)))
    assert img.icc_profile is None and img.exif is None


def test_gray_profile_dropped_when_pixels_become_rgba(tmp_path, srgb_icc):
    # An RGB profile on a gray image does not describe the pixels; it is not kept.
    Image.new("L", (3, 3), 9).save(tmp_path / "g.png", icc_profile=srgb_icc)
    assert load(tmp_path / "g.png").icc_profile is None


# -------------------------------------------------------------------------------- pixel limit

def test_pixel_limit_refuses_before_decoding(tmp_path, monkeypatch):
    path = save(tmp_path / "big.png", make_pixels(40, 50, 3, np.uint16))
    path8 = save(tmp_path / "big8.png", make_pixels(40, 50, 3))

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded an image above the limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    monkeypatch.setattr(cv2, "imdecode", no_decode)
    for p in (path, path8):
        with pytest.raises(ImageReadError) as err:
            load(p, max_pixels=1000)
        msg = str(err.value)
        assert p.name in msg and "too large" in msg and "50×40" in msg
        assert "PIXELMEND_MAX_PIXELS=2000" in msg and "--max-pixels" in msg
        assert "megapixels" in msg


def test_pixel_limit_env_override(tmp_path, monkeypatch):
    path = save(tmp_path / "a.png", make_pixels(10, 10, 3))
    monkeypatch.setenv("PIXELMEND_MAX_PIXELS", "99")
    with pytest.raises(ImageReadError, match="too large"):
        load(path)
    assert load(path, max_pixels=100).pixels.shape == (10, 10, 3)  # argument wins
    monkeypatch.setenv("PIXELMEND_MAX_PIXELS", "100")
    assert load(path).pixels.shape == (10, 10, 3)
    monkeypatch.setenv("PIXELMEND_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="PIXELMEND_MAX_PIXELS"):
        load(path)


def test_pillow_bomb_check_does_not_preempt_ours(tmp_path, monkeypatch):
    path = save(tmp_path / "a.png", make_pixels(30, 30, 3))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would raise above 200 pixels
    assert load(path).pixels.shape == (30, 30, 3)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored
    with pytest.raises(ImageReadError, match="too large"):
        load(path, max_pixels=500)


def test_truncated_images_are_not_padded_globally():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# ------------------------------------------------------------------------------------ bad files

def _noise_bytes(fmt: str, dtype: type = np.uint8) -> bytes:
    return encode(make_pixels(64, 64, 3, dtype), fmt)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_FILES = {
    "missing": (lambda d: d / "missing.png", "not found"),
    "directory": (lambda d: (d / "folder.png").mkdir() or d / "folder.png", "directory"),
    "empty": (lambda d: _write(d / "empty.png", b""), "empty"),
    "text": (lambda d: _write(d / "notes.png", b"hello, this is text\n" * 10), "not an image"),
    "truncated_png": (lambda d: _write(d / "cut.png", _noise_bytes("PNG")[:6000]), "truncated"),
    "truncated_png16": (lambda d: _write(d / "cut16.png", _noise_bytes("PNG", np.uint16)[:9000]),
                        "truncated"),
    "truncated_jpeg": (lambda d: _write(d / "cut.jpg", _noise_bytes("JPEG")[:3000]), "truncated"),
    "garbage_after_signature": (
        lambda d: _write(d / "garbage.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        "corrupt"),
    "corrupt_idat": (lambda d: _write(d / "bad.png", _corrupt_png()), "corrupt"),
    "gif": (lambda d: (Image.new("RGB", (4, 4)).save(d / "a.gif"), d / "a.gif")[1],
            "not supported"),
}


def _corrupt_png() -> bytes:
    data = bytearray(_noise_bytes("PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20:idat + 220] = bytes(200)
    return bytes(data)


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_raise_clear_errors(tmp_path, kind):
    make, cause = BAD_FILES[kind]
    path = make(tmp_path)
    with pytest.raises(ImageReadError) as err:
        load(path)
    msg = str(err.value)
    assert path.name in msg, msg
    assert cause in msg.lower(), msg
    assert isinstance(err.value, ValueError) and err.value.path == path


# ---------------------------------------------------------------------------------------- saving

def test_save_is_atomic_when_encoder_fails(tmp_path, monkeypatch):
    target = save(tmp_path / "keep.png", make_pixels(4, 4, 3))
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise ImageWriteError("the PNG encoder failed (disk on fire)")

    monkeypatch.setattr("engine.io.write.encode", broken)
    with pytest.raises(ImageWriteError, match="keep.png"):
        save(target, make_pixels(4, 4, 3))
    assert target.read_bytes() == before and no_temp_files(tmp_path)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_save_failure_midway_removes_temp_and_keeps_old(tmp_path, monkeypatch, step):
    target = save(tmp_path / "keep.tif", make_pixels(4, 4, 3))
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, step, broken)
    with pytest.raises(ImageWriteError) as err:
        save(target, make_pixels(8, 8, 3))
    assert "keep.tif" in str(err.value) and "No space left" in str(err.value)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tif"]


def test_save_leaves_no_temp_and_normal_permissions(tmp_path):
    target = save(tmp_path / "new.webp", make_pixels(4, 4, 3))
    assert no_temp_files(tmp_path) and target.exists()
    if os.name == "posix":
        assert target.stat().st_mode & 0o044  # readable by others, not a 0600 temp file


def test_overwrite_false_refuses(tmp_path):
    target = save(tmp_path / "x.png", make_pixels(4, 4, 3))
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="x.png"):
        save(target, make_pixels(5, 5, 3), overwrite=False)
    assert target.read_bytes() == before
    assert save(tmp_path / "y.png", make_pixels(5, 5, 3), overwrite=False).exists()


def test_save_errors_name_the_file(tmp_path):
    with pytest.raises(ImageWriteError, match=r"x\.gif.*extension"):
        save(tmp_path / "x.gif", make_pixels(4, 4, 3))
    with pytest.raises(ImageWriteError, match="does not exist"):
        save(tmp_path / "nope" / "x.png", make_pixels(4, 4, 3))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        save(tmp_path / "f.png", np.zeros((4, 4, 3), np.float32))


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_in_jpeg_or_bmp_needs_flatten(tmp_path, ext):
    px = np.zeros((4, 4, 4), np.uint8)
    px[..., 0] = 200
    px[:, :2, 3] = 255  # left half opaque red-ish, right half transparent
    with pytest.raises(ImageWriteError, match="transparency") as err:
        save(tmp_path / f"a{ext}", px)
    assert f"a{ext}" in str(err.value) and no_temp_files(tmp_path)
    img = load(save(tmp_path / f"a{ext}", px, flatten_alpha=True))
    assert img.pixels.shape == (4, 4, 3)
    assert np.abs(img.pixels[1, 3].astype(int) - 255).max() < 8  # transparent → white
    assert abs(int(img.pixels[1, 0, 0]) - 200) < 8 and img.pixels[1, 0, 1] < 10


def test_opaque_alpha_dropped_silently_for_jpeg(tmp_path):
    px = np.dstack([smooth_rgb(), np.full(smooth_rgb().shape[:2], 255, np.uint8)])
    img = load(save(tmp_path / "a.jpg", px))
    assert img.pixels.shape[2] == 3


def test_supported_extensions():
    assert ".png" in SUPPORTED_EXTENSIONS and ".tiff" in SUPPORTED_EXTENSIONS
    assert is_supported("a/B.JPG") and is_supported(Path("x.webp"))
    assert not is_supported("x.gif") and not is_supported("noext")


# ------------------------------------------------------------------------------------------ masks

def test_read_mask_luminance(tmp_path):
    px = np.zeros((6, 8, 3), np.uint8)
    px[2:4, 3:6] = 255
    px[0, 0] = 127
    px[0, 1] = 128
    mask = read_mask(save(tmp_path / "m.png", px), (6, 8))
    assert mask.dtype == bool and mask.shape == (6, 8)
    assert mask[2:4, 3:6].all() and mask.sum() == 7 and mask[0, 1] and not mask[0, 0]


def test_read_mask_uses_alpha_when_not_opaque(tmp_path):
    px = np.zeros((4, 4, 4), np.uint16)  # black everywhere, alpha marks the region
    px[1, 1, 3] = 65535
    mask = read_mask(save(tmp_path / "m.png", px), (4, 4, 3))
    assert mask.sum() == 1 and mask[1, 1]


def test_read_mask_size_mismatch(tmp_path):
    save(tmp_path / "mask.png", np.zeros((80, 100), np.uint8))
    with pytest.raises(ImageReadError) as err:
        read_mask(tmp_path / "mask.png", (160, 200))
    assert str(err.value) == "mask.png is 100×80 but the image is 200×160"


def test_loaded_image_is_frozen(tmp_path):
    img = load(save(tmp_path / "a.png", make_pixels(3, 4, 3)))
    assert (img.height, img.width) == (3, 4)
    with pytest.raises(AttributeError):
        img.bit_depth = 16  # type: ignore[misc]
