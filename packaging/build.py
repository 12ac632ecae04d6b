"""Build the Linux double-click app and its archive: ``make package``.

Steps: run PyInstaller on ``packaging/pixelmend.spec`` (one-folder app in ``dist/pixelmend/``),
then pack ``dist/PixelMend-<version>-linux-<arch>.tar.gz``::

    PixelMend-<version>-linux-<arch>/
        pixelmend            the app (double-click it, or run it from a terminal)
        _internal/           its Python, libraries, Qt, torch and resources
        install.sh           adds the menu entry, file associations and icons for this user
        uninstall.sh         removes them again
        README.txt
        share/applications/io.pixelmend.PixelMend.desktop
        share/mime/packages/io.pixelmend.PixelMend.xml
        share/icons/hicolor/<size>/apps/io.pixelmend.PixelMend.{png,svg}

Usage: ``python packaging/build.py [--skip-build] [--no-archive]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyi_common as common  # noqa: E402

DIST = common.ROOT / "dist"
WORK = common.ROOT / "build" / "pyinstaller"
LINUX = common.PACKAGING / "linux"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

README = """\
PixelMend {version} for Linux ({arch})
=====================================

PixelMend repairs photos offline: brush a mask over a scratch, a tear, dust or noise, pick a
tool, and the result lands as a new layer. Nothing is downloaded and no Python is needed.

1. Unpack this archive where you want to keep the app, for example ~/Applications.
2. Run ./install.sh once (no root needed). It adds PixelMend to your applications menu,
   offers it for PNG, JPEG, TIFF, WebP, BMP and OpenRaster (.ora) files, installs the icons
   and links the `pixelmend` command into ~/.local/bin.
3. Double-click PixelMend in your applications menu, or double-click `pixelmend` in this
   folder. From a terminal: `./pixelmend photo.jpg`, `./pixelmend ops`,
   `./pixelmend run OP INPUT -o OUTPUT`, `./pixelmend --help`.

Check the installation with `./pixelmend --self-test` (loads every model and runs every tool
once on a small test image; prints one line per tool and ends with "self-test passed").

If you move this folder, run ./install.sh again. To remove PixelMend, run ./uninstall.sh and
then delete this folder.

Needs: {arch} Linux with glibc {glibc} or newer and an X11 or Wayland desktop (the usual
libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0 packages of any desktop
install). A GPU is not required.
"""
_GLIBC = re.compile(rb"GLIBC_2\.(\d+)")


def folder_size(path: Path) -> tuple[int, int]:
    """Total bytes and number of files under ``path`` (links not followed)."""
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
                count += 1
    return total, count


def glibc_required(app: Path) -> str:
    """The newest ``GLIBC_2.x`` symbol version any bundled binary asks for (e.g. ``2.36``)."""
    newest = 0
    for root, _dirs, files in os.walk(app):
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not (".so" in name or name == common.APP_NAME):
                continue
            with open(path, "rb") as handle:
                if handle.read(4) != b"\x7fELF":
                    continue
                handle.seek(0)
                versions = {int(v) for v in _GLIBC.findall(handle.read())}
            newest = max(newest, *versions) if versions else newest
    return f"2.{newest}" if newest else "(unknown)"


def run_pyinstaller() -> float:
    """Run PyInstaller on the Linux spec; return the seconds it took."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit("build.py: PyInstaller is not installed; run "
                 "`.venv/bin/python -m pip install pyinstaller pyinstaller-hooks-contrib`")
    started = time.perf_counter()
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--workpath", str(WORK), "--distpath", str(DIST),
               str(common.PACKAGING / "pixelmend.spec")]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=common.ROOT)
    return time.perf_counter() - started


def _owner_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_file(archive: tarfile.TarFile, source: Path, name: str, mode: int = 0o644) -> None:
    info = archive.gettarinfo(str(source), arcname=name)
    info.mode = mode
    with open(source, "rb") as handle:
        archive.addfile(_owner_root(info), handle)


def make_archive(app: Path, version: str, arch: str, glibc: str = "(unknown)") -> Path:
    """Pack the one-folder app and the desktop-integration files into a .tar.gz."""
    top = f"PixelMend-{version}-linux-{arch}"
    target = DIST / f"{top}.tar.gz"
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        for entry in sorted(app.iterdir()):
            archive.add(str(entry), arcname=f"{top}/{entry.name}", filter=_owner_root)
        _add_file(archive, LINUX / "install.sh", f"{top}/install.sh", 0o755)
        _add_file(archive, LINUX / "uninstall.sh", f"{top}/uninstall.sh", 0o755)
        readme = WORK / "README.txt"
        readme.parent.mkdir(parents=True, exist_ok=True)
        readme.write_text(README.format(version=version, arch=arch, glibc=glibc),
                          encoding="utf-8")
        _add_file(archive, readme, f"{top}/README.txt")
        share = f"{top}/share"
        _add_file(archive, LINUX / f"{common.APP_ID}.desktop",
                  f"{share}/applications/{common.APP_ID}.desktop")
        _add_file(archive, LINUX / f"{common.APP_ID}.xml",
                  f"{share}/mime/packages/{common.APP_ID}.xml")
        for size in ICON_SIZES:
            _add_file(archive, common.ICONS / f"{common.APP_NAME}-{size}.png",
                      f"{share}/icons/hicolor/{size}x{size}/apps/{common.APP_ID}.png")
        _add_file(archive, common.ICONS / f"{common.APP_NAME}.svg",
                  f"{share}/icons/hicolor/scalable/apps/{common.APP_ID}.svg")
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line of the build."""
    parser = argparse.ArgumentParser(description="Build the PixelMend Linux app and archive.")
    parser.add_argument("--skip-build", action="store_true", help="reuse dist/pixelmend")
    parser.add_argument("--no-archive", action="store_true", help="do not write the .tar.gz")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        sys.exit("build.py builds the Linux app; see packaging/README.md for Windows and macOS")

    version = common.version()
    arch = platform.machine() or "unknown"
    app = DIST / common.APP_NAME
    seconds = 0.0
    if not args.skip_build:
        seconds = run_pyinstaller()
    if not (app / common.APP_NAME).is_file():
        sys.exit(f"build.py: {app / common.APP_NAME} is missing; build it first")
    size, count = folder_size(app)
    glibc = glibc_required(app)
    print(f"app folder: {app} ({size / 2**20:.0f} MiB, {count} files)"
          + (f", built in {seconds:.0f} s" if seconds else "") + f"; needs glibc >= {glibc}")
    if not args.no_archive:
        started = time.perf_counter()
        archive = make_archive(app, version, arch, glibc)
        print(f"archive:    {archive} ({archive.stat().st_size / 2**20:.0f} MiB, packed in "
              f"{time.perf_counter() - started:.0f} s)")
    if shutil.which("desktop-file-validate") is None:
        print("note: desktop-file-validate is not installed; `make check-package` needs it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
