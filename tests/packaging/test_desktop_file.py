"""The Linux desktop entry, MIME file, icons and the user-level install/uninstall scripts."""

import configparser
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
ICONS = ROOT / "resources" / "icons"
APP_ID = "io.pixelmend.PixelMend"
DESKTOP = LINUX / f"{APP_ID}.desktop"
MIME_XML = LINUX / f"{APP_ID}.xml"
MIME_TYPES = {"image/png", "image/jpeg", "image/tiff", "image/webp", "image/bmp",
              "image/openraster"}
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

sys.path.insert(0, str(ROOT / "packaging"))
import build  # noqa: E402
import pyi_common  # noqa: E402


def _entry(path=DESKTOP):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _validate(path):
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in done.stdout + done.stderr, (
        done.stdout + done.stderr)


def test_desktop_file_validates():
    _validate(DESKTOP)


def test_desktop_entry_matches_the_app_and_its_icons():
    entry = _entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "PixelMend"
    assert entry["Terminal"] == "false"
    # the executable the spec builds, taking any number of files
    assert entry["Exec"] == f"{pyi_common.APP_NAME} %F"
    assert set(entry["Categories"].rstrip(";").split(";")) >= {
        "Graphics", "RasterGraphics", "Photography"}
    listed = entry["MimeType"].rstrip(";").split(";")
    assert set(listed) == MIME_TYPES and len(listed) == len(MIME_TYPES)
    # the icon is a theme name equal to the app id (and the file name); every size exists
    assert entry["Icon"] == APP_ID == DESKTOP.stem == pyi_common.APP_ID
    for size in ICON_SIZES:
        with Image.open(ICONS / f"pixelmend-{size}.png") as icon:
            assert icon.size == (size, size) and icon.mode == "RGBA"
            alpha = icon.getchannel("A")
            assert alpha.getpixel((0, 0)) == 0  # rounded, transparent corner
            assert alpha.getpixel((size // 2, size // 2)) == 255
    svg = ET.parse(ICONS / "pixelmend.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"


def test_openraster_mime_definition():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(MIME_XML).getroot()
    types = {node.get("type"): node for node in root.findall("m:mime-type", ns)}
    assert set(types) == {"image/openraster"}
    globs = [glob.get("pattern") for glob in types["image/openraster"].findall("m:glob", ns)]
    assert globs == ["*.ora"]


def test_windows_and_macos_icons_hold_every_size():
    with Image.open(ICONS / "pixelmend.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(ICONS / "pixelmend.icns") as icns:
        assert icns.size == (1024, 1024)
        assert {(16, 16, 2), (512, 512, 2)} <= set(icns.info["sizes"])


def _exec_argv(exec_value, files):
    """Expand an Exec value as a launcher does (the Desktop Entry spec's quoting rules)."""
    text = exec_value.replace("\\\\", "\\")  # the string-level escape: \\ is one backslash
    words, word, quoted, index, started = [], "", False, 0, False
    while index < len(text):
        char = text[index]
        if quoted and char == "\\" and text[index + 1] in '"`$\\':
            word += text[index + 1]
            index += 1
        elif char == '"':
            quoted, started = not quoted, True
        elif char == " " and not quoted:
            if started or word:
                words.append(word)
            word, started = "", False
        else:
            word += char
        index += 1
    if started or word:
        words.append(word)
    argv = []
    for word in words:
        if word == "%F":
            argv.extend(files)
        else:
            argv.append(word.replace("%%", "%"))
    return argv


def test_archive_install_and_uninstall_round_trip(tmp_path, monkeypatch):
    # a stand-in for the frozen app: prints its arguments
    app = tmp_path / "dist" / "pixelmend"
    (app / "_internal").mkdir(parents=True)
    exe = app / "pixelmend"
    exe.write_text('#!/bin/sh\nprintf "%s\\n" "started" "$@"\n')
    exe.chmod(0o755)
    monkeypatch.setattr(build, "DIST", tmp_path / "dist")
    monkeypatch.setattr(build, "WORK", tmp_path / "work")
    archive = build.make_archive(app, "9.9", "x86_64")
    assert archive.name == "PixelMend-9.9-linux-x86_64.tar.gz"

    # unpack into a folder whose name needs quoting in Exec: a space, a dollar and a percent
    place = tmp_path / "my apps $HOME 100%"
    place.mkdir()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert all(info.uid == 0 for info in tar.getmembers())
        tar.extractall(place, filter="tar")
    top = place / "PixelMend-9.9-linux-x86_64"
    assert {"pixelmend", "_internal", "install.sh", "uninstall.sh", "README.txt", "share"} <= {
        Path(name).parts[1] for name in names if len(Path(name).parts) > 1}
    assert "./install.sh" in (top / "README.txt").read_text()
    assert os.access(top / "install.sh", os.X_OK) and os.access(top / "pixelmend", os.X_OK)

    data, bin_dir = tmp_path / "data", tmp_path / "bin"
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    subprocess.run([str(top / "install.sh"), "--data-dir", str(data), "--bin-dir", str(bin_dir)],
                   check=True, capture_output=True, env=env)
    installed = data / "applications" / f"{APP_ID}.desktop"
    entry = _entry(installed)
    if shutil.which("desktop-file-validate"):
        _validate(installed)
    argv = _exec_argv(entry["Exec"], ["/tmp/a b.png"])
    assert argv == [str((top / "pixelmend").resolve()), "/tmp/a b.png"]
    launched = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert launched.stdout.splitlines() == ["started", "/tmp/a b.png"]
    for size in ICON_SIZES:
        assert (data / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png").is_file()
    assert (data / f"icons/hicolor/scalable/apps/{APP_ID}.svg").is_file()
    assert (data / f"mime/packages/{APP_ID}.xml").is_file()
    assert (bin_dir / "pixelmend").resolve() == (top / "pixelmend").resolve()

    done = subprocess.run([str(top / "uninstall.sh"), "--data-dir", str(data), "--bin-dir",
                           str(bin_dir)], check=True, capture_output=True, text=True, env=env)
    assert "still there" in done.stdout
    leftovers = [p for p in data.rglob("*") if p.is_file() and APP_ID in p.name]
    assert leftovers == []
    assert not (bin_dir / "pixelmend").exists()
    assert (top / "pixelmend").is_file()  # the app folder itself is kept
