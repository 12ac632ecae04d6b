"""Tests for desktop.document.ora: OpenRaster round trips, foreign files, damaged files."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import cv2
import numpy as np
import pytest

from desktop.document import (
    Document,
    Layer,
    OraError,
    load_ora,
    open_document,
    save_ora,
    snapshot,
)
from desktop.document import ora as ora_module

RNG = np.random.default_rng(5)


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, size=(h, w, c), endpoint=True, dtype=dtype)


def png(pixels: np.ndarray) -> bytes:
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return buffer.tobytes()


def make_doc() -> Document:
    layers = [
        Layer(noise(40, 30, 3, np.uint16), "Original"),
        Layer(noise(40, 30, 1), "gray <&> “quoted”", visible=False),
        Layer(noise(40, 30, 4, np.uint16), "Inpaint", opacity=0.35,
              recipe={"op": "inpaint_telea", "params": {"radius": 5}, "engine": "0.1.0",
                      "mask_bbox": [2, 3, 20, 30]}),
        Layer(noise(40, 30, 3), "Top 8-bit", opacity=0.123456789),
    ]
    layers[2].source_id = layers[0].id
    doc = Document(layers, source_path="/photos/in.tif", icc_profile=b"\x00icc\xff" * 10,
                   exif=b"Exif\x00\x00MM\x00*", bit_depth=16, title="in.tif")
    doc.active_index = 2
    doc.mask.dab(15.0, 20.0, 8.0, 0.2)
    doc.mask.end_stroke()
    return doc


def test_round_trip_is_exact(tmp_path):
    doc = make_doc()
    path = save_ora(doc, tmp_path / "work.ora")
    back = load_ora(path)
    assert len(back.layers) == len(doc.layers)
    for old, new in zip(doc.layers, back.layers, strict=True):
        assert (new.name, new.visible, new.opacity, new.id, new.source_id) == (
            old.name, old.visible, old.opacity, old.id, old.source_id)
        assert new.recipe == old.recipe
        assert new.pixels.dtype == old.pixels.dtype
        np.testing.assert_array_equal(new.pixels, old.pixels)
    np.testing.assert_array_equal(back.mask.coverage, doc.mask.coverage)
    assert int(back.mask.coverage.max()) > 0 and len(np.unique(back.mask.coverage)) > 10
    assert back.bit_depth == 16 and back.active_index == 2
    assert back.icc_profile == doc.icc_profile and back.exif == doc.exif
    assert str(back.source_path) == "/photos/in.tif"
    assert back.save_path == path and back.title == "work.ora"
    assert not back.dirty and back.history.entries() == []


def test_archive_layout_follows_openraster(tmp_path):
    doc = make_doc()
    path = save_ora(doc, tmp_path / "work.ora")
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"image/openraster"
        root = ET.fromstring(archive.read("stack.xml"))
        assert (root.tag, root.get("w"), root.get("h")) == ("image", "30", "40")
        entries = root.find("stack").findall("layer")
        assert [e.get("name") for e in entries] == [layer.name for layer in doc.layers[::-1]]
        assert [e.get("visibility") for e in entries] == ["visible", "visible", "hidden",
                                                          "visible"]
        for entry in entries:
            data = np.frombuffer(archive.read(entry.get("src")), np.uint8)
            assert cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None
        sixteen = cv2.imdecode(np.frombuffer(archive.read(entries[-1].get("src")), np.uint8),
                               cv2.IMREAD_UNCHANGED)
        assert sixteen.dtype == np.uint16  # the 16-bit bottom layer is a 16-bit PNG
        thumb = cv2.imdecode(np.frombuffer(archive.read("Thumbnails/thumbnail.png"), np.uint8),
                             cv2.IMREAD_UNCHANGED)
        merged = cv2.imdecode(np.frombuffer(archive.read("mergedimage.png"), np.uint8),
                              cv2.IMREAD_UNCHANGED)
        assert merged.shape[:2] == (40, 30) and max(thumb.shape[:2]) <= 256
        extras = json.loads(archive.read("pixelmend/document.json"))
        assert extras["layers"][entries[1].get("src")]["recipe"]["op"] == "inpaint_telea"


def test_thumbnail_is_at_most_256_px(tmp_path):
    doc = Document([Layer(noise(300, 520, 3), "big")])
    with zipfile.ZipFile(save_ora(doc, tmp_path / "big.ora")) as archive:
        thumb = cv2.imdecode(np.frombuffer(archive.read("Thumbnails/thumbnail.png"), np.uint8),
                             cv2.IMREAD_UNCHANGED)
    assert thumb.shape[:2] == (148, 256)


def write_zip(path, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compress)


def test_minimal_foreign_file_with_offsets(tmp_path):
    small = np.full((4, 5, 4), [10, 20, 30, 255], np.uint8)
    gray = np.full((3, 3), 99, np.uint8)
    full = noise(10, 12, 3)
    stack = b"""<?xml version="1.0"?>
<image w="12" h="10">
  <stack>
    <layer name="patch" src="data/a.png" x="2" y="3" opacity="0.5"/>
    <stack opacity="0.5" visibility="visible" x="8" y="-1">
      <layer name="corner" src="data/b.png" x="1" y="0" visibility="hidden"/>
    </stack>
    <layer src="data/background.png"/>
  </stack>
</image>"""
    path = tmp_path / "gimp.ora"
    write_zip(path, [("mimetype", b"image/openraster"), ("stack.xml", stack),
                     ("data/a.png", png(small)), ("data/b.png", png(gray)),
                     ("data/background.png", png(full))])
    doc = load_ora(path)
    background, corner, patch = doc.layers
    assert (background.name, corner.name, patch.name) == ("background", "corner", "patch")
    np.testing.assert_array_equal(background.pixels, full)
    assert patch.has_alpha and patch.opacity == 0.5
    expected = np.zeros((10, 12, 4), np.uint8)
    expected[3:7, 2:7] = [10, 20, 30, 255]
    np.testing.assert_array_equal(patch.pixels, expected)
    # nested stack: offsets add up (x 8+1, y -1), the part above the canvas is cut off
    assert not corner.visible and corner.opacity == 0.5
    assert (corner.pixels[0:2, 9:12] == [99, 99, 99, 255]).all()
    assert corner.pixels[2:, :, 3].sum() == 0 and corner.pixels[:, :9, 3].sum() == 0
    assert doc.bit_depth == 8 and doc.mask.is_empty() and doc.active_index == 2


@pytest.mark.parametrize("kind", ["truncated", "no stack", "missing layer", "not a zip",
                                  "bad xml", "bad png", "wrong mimetype", "missing file"])
def test_damaged_files_raise_ora_error_naming_the_file(tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '_')}.ora"
    if kind == "truncated":
        save_ora(make_doc(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "no stack":
        write_zip(path, [("mimetype", b"image/openraster"), ("data/a.png", png(noise(2, 2, 3)))])
    elif kind == "missing layer":
        write_zip(path, [("mimetype", b"image/openraster"),
                         ("stack.xml", b'<image w="2" h="2"><stack><layer name="lost" '
                                       b'src="data/lost.png"/></stack></image>')])
    elif kind == "not a zip":
        path.write_bytes(b"this is text, not a zip archive")
    elif kind == "bad xml":
        write_zip(path, [("mimetype", b"image/openraster"), ("stack.xml", b"<image w=")])
    elif kind == "bad png":
        write_zip(path, [("mimetype", b"image/openraster"),
                         ("stack.xml", b'<image w="2" h="2"><stack><layer name="x" '
                                       b'src="data/x.png"/></stack></image>'),
                         ("data/x.png", b"\x89PNG nonsense")])
    elif kind == "wrong mimetype":
        write_zip(path, [("mimetype", b"application/zip"), ("stack.xml", b"<image/>")])
    with pytest.raises(OraError, match=path.name.replace(".", r"\.")) as error:
        load_ora(path)
    assert isinstance(error.value, ValueError)
    if kind == "missing layer":
        assert "lost" in str(error.value)


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    doc = make_doc()
    path = save_ora(doc, tmp_path / "keep.ora")
    before = path.read_bytes()

    def broken(pixels):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ora_module, "_encode_png", broken)
    with pytest.raises(OraError, match="keep.ora"):
        save_ora(doc, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.ora"]
    with pytest.raises(OraError, match="does not exist"):
        save_ora(doc, tmp_path / "nope" / "x.ora")


def test_snapshot_is_independent_of_later_edits(tmp_path):
    doc = make_doc()
    snap = snapshot(doc)
    doc.set_layer_props(0, name="renamed", opacity=0.5)
    doc.apply_mask_edit("invert")
    back = load_ora(save_ora(snap, tmp_path / "snap.ora"))
    assert back.layers[0].name == "Original" and back.layers[0].opacity == 1.0
    np.testing.assert_array_equal(back.mask.coverage, 255 - doc.mask.coverage)


def test_open_document_dispatches_on_ora(tmp_path):
    path = save_ora(make_doc(), tmp_path / "x.ora")
    doc = open_document(path)
    assert len(doc.layers) == 4 and doc.save_path == path


def test_zip_entries_are_readable_by_a_generic_zip_reader(tmp_path):
    path = save_ora(make_doc(), tmp_path / "x.ora")
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert archive.testzip() is None
