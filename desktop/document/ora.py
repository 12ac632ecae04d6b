"""Layered documents as OpenRaster (``.ora``), readable by GIMP and Krita.

The archive follows OpenRaster 0.0.x: the first entry is ``mimetype`` (stored, uncompressed,
``image/openraster``), then ``stack.xml`` (``<image w h>`` → ``<stack>`` → one ``<layer>`` per
layer, top-most first), ``data/<layer id>.png`` per layer (16-bit PNG for 16-bit layers),
``Thumbnails/thumbnail.png`` (at most 256 px) and ``mergedimage.png``. PixelMend adds
``pixelmend/mask.png`` (8-bit coverage) and ``pixelmend/document.json`` (recipes by layer
``src``, layer ids, the ids of result layers' source layers, the active layer, bit depth, source
path, title, ICC profile and EXIF as base64), which other programs ignore.

Reading also accepts plain files from GIMP or Krita: layers smaller than the canvas or placed
with ``x``/``y`` offsets are put on a transparent canvas-size layer, nested stacks are flattened
into the list (their opacity multiplies, their visibility ands, their offsets add), and
composite modes other than normal are read as normal.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from desktop.document.composite import flatten_pixels
from desktop.document.document import Document
from desktop.document.layer import Layer
from engine.core.atomic import atomic_write

__all__ = ["MIMETYPE", "OraError", "OraSnapshot", "load_ora", "save_ora", "snapshot"]

MIMETYPE = b"image/openraster"
_THUMBNAIL = 256
_PNG_LEVEL = 3  # zlib level for layer PNGs: close to the best size at a fraction of level 9's time
_EXTRAS = "pixelmend/document.json"
_MASK = "pixelmend/mask.png"
_FORMAT_VERSION = 1
_DEFAULT_MAX_PIXELS = 250_000_000


class OraError(ValueError):
    """An .ora file cannot be read or written; the message names the file."""


@dataclass
class OraSnapshot:
    """What :func:`save_ora` writes, captured cheaply so that the writing can run on a worker
    thread while the person keeps editing (layer pixels are immutable, so they are shared)."""

    width: int
    height: int
    layers: list[Layer]
    coverage: np.ndarray
    active_index: int = 0
    bit_depth: int = 8
    source_path: str | None = None
    title: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    save_path: str | None = None
    """Where the document itself was saved (kept for autosave markers, not written)."""
    extra: dict[str, Any] = field(default_factory=dict)


def snapshot(doc: Document) -> OraSnapshot:
    """Capture ``doc`` for :func:`save_ora` (copies the mask and the layer properties only)."""
    return OraSnapshot(
        width=doc.width, height=doc.height,
        layers=[layer.copy(id=layer.id) for layer in doc.layers],
        coverage=doc.mask.snapshot(), active_index=doc.active_index, bit_depth=doc.bit_depth,
        source_path=str(doc.source_path) if doc.source_path else None, title=doc.title,
        icc_profile=doc.icc_profile, exif=doc.exif,
        save_path=str(doc.save_path) if doc.save_path else None)


# ---------------------------------------------------------------------------------- PNG codec

def _encode_png(pixels: np.ndarray) -> bytes:
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    if channels == 1:
        array = pixels.reshape(pixels.shape[:2])
    else:
        code = cv2.COLOR_RGB2BGR if channels == 3 else cv2.COLOR_RGBA2BGRA
        array = cv2.cvtColor(np.ascontiguousarray(pixels), code)
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(array),
                              [cv2.IMWRITE_PNG_COMPRESSION, _PNG_LEVEL])
    if not ok:
        raise OraError("the PNG encoder failed")
    return buffer.tobytes()


def _decode_png(data: bytes) -> np.ndarray | None:
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype not in (np.uint8, np.uint16):
        return None
    if array.ndim == 2:
        return array[:, :, None]
    if array.shape[2] == 2:  # gray + alpha: our layers are gray, RGB or RGBA
        gray, alpha = array[:, :, :1], array[:, :, 1:]
        return np.concatenate([gray, gray, gray, alpha], axis=2)
    code = cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    return cv2.cvtColor(array, code)


# --------------------------------------------------------------------------------------- save

def save_ora(doc: Document | OraSnapshot, path: str | Path) -> Path:
    """Write ``doc`` (or a :func:`snapshot` of it) to ``path`` atomically.

    The archive is written to a hidden temporary file in the same folder and renamed over the
    target, so a failure never leaves a half-written file or damages an existing one. The
    document itself is not changed (call ``doc.mark_saved(path)`` after a real save).

    Raises
    ------
    OraError
        The file cannot be written; the message names it.
    """
    snap = doc if isinstance(doc, OraSnapshot) else snapshot(doc)
    target = Path(path)
    if not target.parent.is_dir():
        raise OraError(f"Cannot save {target.name}: the folder {target.parent} does not exist")
    try:
        with atomic_write(target) as handle:
            _write_archive(handle, snap)
    except OSError as error:
        raise OraError(f"Cannot save {target.name}: {error.strerror or error}") from error
    return target


def _entry(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _write_archive(handle: Any, snap: OraSnapshot) -> None:
    sources = {layer.id: f"data/{layer.id}.png" for layer in snap.layers}
    workers = max(1, min(4, os.cpu_count() or 1))
    # PNG encoding dominates on big images and releases the GIL: encode the layers on a few
    # threads while this one composites the merged image, then write in OpenRaster order.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ora-png") as pool:
        encoded = {sources[layer.id]: pool.submit(_encode_png, layer.pixels)
                   for layer in snap.layers}
        encoded[_MASK] = pool.submit(_encode_png, snap.coverage)
        merged = flatten_pixels(snap.layers, np.uint8)
        encoded["mergedimage.png"] = pool.submit(_encode_png, merged)
        encoded["Thumbnails/thumbnail.png"] = pool.submit(_encode_png, _thumbnail(merged))
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(_entry("mimetype", zipfile.ZIP_STORED), MIMETYPE)
            archive.writestr(_entry("stack.xml", zipfile.ZIP_DEFLATED),
                             _stack_xml(snap, sources))
            for name, future in encoded.items():
                archive.writestr(_entry(name, zipfile.ZIP_STORED), future.result())
            archive.writestr(_entry(_EXTRAS, zipfile.ZIP_DEFLATED), _extras_json(snap, sources))


def _stack_xml(snap: OraSnapshot, sources: dict[str, str]) -> bytes:
    image = ET.Element("image", {"version": "0.0.6", "w": str(snap.width),
                                 "h": str(snap.height)})
    stack = ET.SubElement(image, "stack")
    for layer in reversed(snap.layers):  # OpenRaster lists the top-most layer first
        ET.SubElement(stack, "layer", {
            "name": layer.name, "src": sources[layer.id],
            "visibility": "visible" if layer.visible else "hidden",
            "opacity": repr(float(layer.opacity)), "x": "0", "y": "0",
            "composite-op": "svg:src-over"})
    return ET.tostring(image, encoding="UTF-8", xml_declaration=True)


def _thumbnail(merged: np.ndarray) -> np.ndarray:
    height, width = merged.shape[:2]
    scale = min(1.0, _THUMBNAIL / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(merged, size, interpolation=cv2.INTER_AREA) if scale < 1 else merged
    return small if small.ndim == 3 else small[:, :, None]


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _extras_json(snap: OraSnapshot, sources: dict[str, str]) -> bytes:
    extras = {
        "pixelmend": _FORMAT_VERSION,
        "bit_depth": snap.bit_depth,
        "active_index": snap.active_index,
        "source_path": snap.source_path,
        "title": snap.title,
        "icc_profile": _b64(snap.icc_profile),
        "exif": _b64(snap.exif),
        "layers": {sources[layer.id]: {"id": layer.id, "recipe": layer.recipe,
                                       "source": layer.source_id}
                   for layer in snap.layers},
        **snap.extra,
    }
    return json.dumps(extras, indent=1, sort_keys=True).encode("utf-8")


# --------------------------------------------------------------------------------------- load

def load_ora(path: str | Path) -> Document:
    """Read an .ora written by PixelMend, GIMP or Krita.

    Returns
    -------
    Document
        With ``save_path`` set to ``path``, the history empty and the document clean.

    Raises
    ------
    OraError
        Not a zip, no ``stack.xml``, a missing or unreadable layer image, a damaged archive;
        the message names the file.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").strip()
                if mimetype != MIMETYPE:
                    raise OraError(f"{path.name} is not an OpenRaster file (its mimetype is "
                                   f"{mimetype[:40].decode('ascii', 'replace')!r})")
            if "stack.xml" not in names:
                raise OraError(f"{path.name} is not an OpenRaster file: it has no stack.xml")
            width, height, entries = _parse_stack(archive.read("stack.xml"), path)
            extras = _read_extras(archive, names, path)
            described = extras.get("layers") if isinstance(extras.get("layers"), dict) else {}
            layers = []
            for entry in entries:
                if entry["src"] not in names:
                    raise OraError(f"{path.name} is damaged: layer “{entry['name']}” points to "
                                   f"{entry['src']}, which is missing from the archive")
                pixels = _decode_png(archive.read(entry["src"]))
                if pixels is None:
                    raise OraError(f"{path.name} is damaged: {entry['src']} (layer "
                                   f"“{entry['name']}”) is not a readable PNG")
                info = described.get(entry["src"], {}) if isinstance(described, dict) else {}
                layers.append(_make_layer(entry, pixels, width, height, info))
            coverage = None
            if _MASK in names:
                mask = _decode_png(archive.read(_MASK))
                if mask is not None and mask.shape == (height, width, 1):
                    coverage = mask[:, :, 0] if mask.dtype == np.uint8 else None
    except OraError:
        raise
    except FileNotFoundError:
        raise OraError(f"{path.name} does not exist ({path})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise OraError(f"{path.name} is damaged or not an OpenRaster (zip) file ({error})"
                       ) from None
    except OSError as error:
        raise OraError(f"{path.name} cannot be read: {error.strerror or error}") from None
    if not layers:
        raise OraError(f"{path.name} has no layers")

    bit_depth = extras.get("bit_depth")
    if bit_depth not in (8, 16):
        bit_depth = 16 if any(layer.bit_depth == 16 for layer in layers) else 8
    doc = Document(layers, source_path=extras.get("source_path") or None,
                   icc_profile=_unb64(extras.get("icc_profile")),
                   exif=_unb64(extras.get("exif")), bit_depth=bit_depth, title=path.name)
    doc.save_path = path
    if isinstance(extras.get("active_index"), int):
        doc.active_index = extras["active_index"]
    if coverage is not None:
        doc.mask.reset(coverage)
    return doc


def _max_pixels() -> int:
    text = os.environ.get("PIXELMEND_MAX_PIXELS", "").strip().replace("_", "")
    try:
        return int(text) if text else _DEFAULT_MAX_PIXELS
    except ValueError:
        return _DEFAULT_MAX_PIXELS


def _number(element: ET.Element, key: str, default: float, path: Path) -> float:
    text = element.get(key)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise OraError(f"{path.name} is damaged: {key}={text!r} in stack.xml is not a number"
                       ) from None
    if not math.isfinite(value):
        raise OraError(f"{path.name} is damaged: {key}={text!r} in stack.xml")
    return value


def _parse_stack(data: bytes, path: Path) -> tuple[int, int, list[dict[str, Any]]]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise OraError(f"{path.name} is damaged: stack.xml is not valid XML ({error})") from None
    if root.tag != "image":
        raise OraError(f"{path.name} is damaged: stack.xml has no <image> root")
    width = int(_number(root, "w", 0, path))
    height = int(_number(root, "h", 0, path))
    if width < 1 or height < 1:
        raise OraError(f"{path.name} is damaged: the image size {width}×{height} is not valid")
    if width * height > _max_pixels():
        raise OraError(f"{path.name} is {width}×{height}, more than the limit of "
                       f"{_max_pixels():,} pixels (PIXELMEND_MAX_PIXELS)")
    stack = root.find("stack")
    if stack is None:
        raise OraError(f"{path.name} is damaged: stack.xml has no <stack>")
    entries: list[dict[str, Any]] = []
    _walk(stack, path, 0, 0, 1.0, True, entries)
    entries.reverse()  # bottom → top
    return width, height, entries


def _walk(stack: ET.Element, path: Path, x: int, y: int, opacity: float, visible: bool,
          out: list[dict[str, Any]]) -> None:
    for child in stack:
        child_x = x + int(round(_number(child, "x", 0, path)))
        child_y = y + int(round(_number(child, "y", 0, path)))
        child_opacity = opacity * min(max(_number(child, "opacity", 1.0, path), 0.0), 1.0)
        child_visible = visible and child.get("visibility", "visible") != "hidden"
        if child.tag == "stack":
            _walk(child, path, child_x, child_y, child_opacity, child_visible, out)
        elif child.tag == "layer":
            src = child.get("src")
            if not src:
                raise OraError(f"{path.name} is damaged: a layer in stack.xml has no src")
            out.append({"name": child.get("name") or Path(src).stem, "src": src, "x": child_x,
                        "y": child_y, "opacity": child_opacity, "visible": child_visible})


def _read_extras(archive: zipfile.ZipFile, names: set[str], path: Path) -> dict[str, Any]:
    if _EXTRAS not in names:
        return {}
    try:
        extras = json.loads(archive.read(_EXTRAS).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OraError(f"{path.name} is damaged: {_EXTRAS} is not valid JSON ({error})"
                       ) from None
    return extras if isinstance(extras, dict) else {}


def _unb64(text: Any) -> bytes | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _place(pixels: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """Put a layer image at ``(x, y)`` on a transparent canvas-size RGBA array."""
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if pixels.shape[2] == 3:
        opaque = np.full(pixels.shape[:2] + (1,), np.iinfo(pixels.dtype).max, pixels.dtype)
        pixels = np.concatenate([pixels, opaque], axis=2)
    canvas = np.zeros((height, width, 4), pixels.dtype)
    top, left = max(y, 0), max(x, 0)
    bottom, right = min(y + pixels.shape[0], height), min(x + pixels.shape[1], width)
    if bottom > top and right > left:
        canvas[top:bottom, left:right] = pixels[top - y:bottom - y, left - x:right - x]
    return canvas


def _make_layer(entry: dict[str, Any], pixels: np.ndarray, width: int, height: int,
                info: Any) -> Layer:
    if (entry["x"], entry["y"]) != (0, 0) or pixels.shape[:2] != (height, width):
        pixels = _place(pixels, entry["x"], entry["y"], width, height)
    layer = Layer(pixels, name=entry["name"], visible=entry["visible"],
                  opacity=entry["opacity"])
    if isinstance(info, dict):
        if isinstance(info.get("recipe"), dict):
            layer.recipe = info["recipe"]
        if isinstance(info.get("id"), str) and info["id"]:
            layer.id = info["id"]
        if isinstance(info.get("source"), str) and info["source"]:
            layer.source_id = info["source"]
    return layer
