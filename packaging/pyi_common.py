"""What the three PyInstaller specs share: inputs, hidden imports, excludes and the trimming.

The specs (``pixelmend.spec`` for Linux, ``pixelmend-windows.spec``, ``pixelmend-macos.spec``)
import this module; it holds no PyInstaller objects itself, so it can be read and tested alone.

Trimming keeps the bundle lean without breaking torch: PyInstaller's torch hook collects every
torch submodule and data file; most of torch's Python is needed at run time (the optimisers
import ``torch._dynamo``, which imports ``torch._inductor`` and ``sympy``), so the savings are in
files nothing in the app can load: C++ headers and static libraries, CMake files, torch's test
binaries, test-only shared libraries, the protobuf compiler, and unused Qt translations and
plugins. Set ``PIXELMEND_LEAN=0`` to build without trimming (to measure what it saves).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ENTRY = PACKAGING / "entry.py"
ICONS = ROOT / "resources" / "icons"
APP_NAME = "pixelmend"
APP_ID = "io.pixelmend.PixelMend"
DISPLAY_NAME = "PixelMend"

LEAN = os.environ.get("PIXELMEND_LEAN", "1") != "0"

# Python modules the app never needs. PySide6 modules are only collected when imported, but
# naming the unused ones keeps a stray import (or a hook) from dragging in QML/Quick/WebEngine.
EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib", "test", "lib2to3", "pydoc_data",
    "IPython", "matplotlib", "pandas", "scipy", "PyQt5", "PyQt6", "PySide2",
    "PyInstaller", "pytest", "_pytest", "pytestqt", "ruff", "importlinter", "grimp", "pip",
    "setuptools", "pkg_resources", "wheel", "bm3d",
    "torch.utils.tensorboard", "torch.utils.model_dump",
    "torch.utils.bottleneck", "torch.utils.benchmark.examples", "tensorboard", "torchvision",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQmlFeatures", "PySide6.QtQuick",
    "PySide6.QtQuickControls2", "PySide6.QtQuickTest", "PySide6.QtQuickWidgets",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPrintSupport", "PySide6.QtSql",
    "PySide6.QtTest", "PySide6.QtXml", "PySide6.QtDBus", "PySide6.QtConcurrent",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtLabsStyleKit",
    "PySide6.QtSvgWidgets", "PySide6.QtMultimedia", "PySide6.QtWebEngineCore",
    "PySide6.Qt3DCore", "PySide6.QtCharts", "PySide6.QtDataVisualization",
]

# Path patterns (as the file will sit inside the bundle, with forward slashes) dropped from
# the collected binaries and data files.
TRIM_PATTERNS = [
    # torch: headers, build files, tests, test-only libraries and tools no app code runs
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/bin/*Test", "torch/bin/test_*",
    "torch/bin/protoc*", "torch/bin/*.pt", "torch/bin/*.ptl", "torch/bin/upgrader_models/*",
    "torch/lib/*.a",
    "torch/lib/*.lib", "torch/lib/libjitbackend_test.*", "torch/lib/libbackend_with_compiler.*",
    "torch/lib/libaoti_custom_ops.*", "torch/lib/libshm_windows/*", "torch/_inductor/codegen/*.h",
    "torch/_inductor/codegen/aoti_runtime/*", "torch/_inductor/kernel/*.cpp",
    "torch/utils/model_dump/*", "torch/utils/benchmark/examples/*",
    "caffe2/*", "*/caffe2/*", "torch/*.pyi", "torch/**/*.pyi", "functorch/include/*",
    "torchgen/packaged/autograd/templates/*",
    # Qt: translations other than Qt's own widgets strings, and plugins a photo editor on a
    # desktop does not load (QML tooling, virtual keyboards, network/TLS, printing, sensors)
    "PySide6/Qt/translations/qtwebengine*", "PySide6/Qt/translations/qtdeclarative*",
    "PySide6/Qt/translations/qtmultimedia*", "PySide6/Qt/translations/qtserialport*",
    "PySide6/Qt/translations/qtwebsockets*", "PySide6/Qt/translations/qtconnectivity*",
    "PySide6/Qt/translations/qtlocation*", "PySide6/Qt/translations/designer*",
    "PySide6/Qt/translations/assistant*", "PySide6/Qt/translations/linguist*",
    "PySide6/Qt/translations/qt_help*",
    "PySide6/Qt/plugins/qmltooling/*", "PySide6/Qt/plugins/platforminputcontexts/*virtualkey*",
    "PySide6/Qt/plugins/tls/*", "PySide6/Qt/plugins/networkinformation/*",
    "PySide6/Qt/plugins/printsupport/*", "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/generic/*", "PySide6/Qt/plugins/platforms/libqvnc*",
    "PySide6/Qt/plugins/platforms/libqlinuxfb*", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay*",
    "PySide6/Qt/plugins/platforms/libqeglfs*", "PySide6/Qt/plugins/platforms/libqminimalegl*",
    "PySide6/Qt/plugins/egldeviceintegrations/*",
    # the GTK3 theme plugin would bundle the build machine's GTK, GLib, Cairo and Pango, which
    # then clash with the user's GTK modules; Qt uses the XDG portal theme plugin instead
    "PySide6/Qt/plugins/platformthemes/libqgtk3*",
    "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Qml*", "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/lib/libQt6Network*",
    # repository-only files under resources/
    "resources/models/*.md~", "resources/**/.gitkeep",
]

HIDDEN_PACKAGES = ("engine", "desktop")


def data_files() -> list[tuple[str, str]]:
    """``(source, destination folder)`` pairs: the whole ``resources/`` folder as ``resources``."""
    return [(str(ROOT / "resources"), "resources")]


def excludes() -> list[str]:
    """:data:`EXCLUDES` when lean, else nothing."""
    return list(EXCLUDES) if LEAN else []


def hidden_imports() -> list[str]:
    """Every module of our packages: ops are found by ``pkgutil`` at run time, not by import.

    Read from the file tree (nothing is imported), so it works without PyInstaller installed.
    """
    names: set[str] = set()
    for package in HIDDEN_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "__pycache__" in parts or parts[-1] == "__main__" or "tests" in parts:
                continue
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def _trimmed(dest: str) -> bool:
    path = dest.replace("\\", "/")
    return any(fnmatch.fnmatch(path, pattern) for pattern in TRIM_PATTERNS)


def trim(toc: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Drop the TOC entries whose destination matches :data:`TRIM_PATTERNS` (when lean)."""
    entries = list(toc)
    if not LEAN:
        return entries
    return [entry for entry in entries if not _trimmed(entry[0])]


def _imports(path: str, cache: dict[str, set[str]]) -> set[str]:
    """Real paths of the shared libraries ``path`` links to, transitively."""
    from PyInstaller.depend.bindepend import get_imports

    if path in cache:
        return cache[path]
    cache[path] = found = set()
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            imports = get_imports(current)
        except Exception:  # not an ELF/PE/Mach-O file PyInstaller can read: no imports
            continue
        for _name, full in imports:
            if full:
                real = os.path.realpath(full)
                if real not in found:
                    found.add(real)
                    stack.append(real)
    return found


def _orphans(before: list[tuple[str, str, str]], after: list[tuple[str, str, str]]) -> set[str]:
    """Destinations of the libraries in ``after`` that only the dropped binaries linked to."""
    kept_dests = {entry[0] for entry in after}
    removed = [entry for entry in before if entry[0] not in kept_dests and entry[2] != "SYMLINK"]
    if not removed:
        return set()
    cache: dict[str, set[str]] = {}
    by_real = {os.path.realpath(entry[1]): entry for entry in after if entry[2] != "SYMLINK"}
    candidates: set[str] = set()
    for entry in removed:
        candidates |= _imports(entry[1], cache) & set(by_real)
    needed: set[str] = set()
    for real, entry in by_real.items():
        if real not in candidates:
            needed |= _imports(entry[1], cache)
    return {by_real[real][0] for real in candidates - needed}


def lean(binaries: Iterable[tuple[str, str, str]], datas: Iterable[tuple[str, str, str]]
         ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Trim the collected binaries and data files; return the new ``(binaries, datas)``.

    Drops what :data:`TRIM_PATTERNS` names, then the libraries that only dropped binaries
    linked to (PyInstaller collected GTK, Cairo and Pango from the build machine for the GTK3
    theme plugin; once the plugin goes, nothing else needs them; a library any kept binary links
    to, directly or not, stays), then the links that point at dropped files.
    """
    binaries, datas = list(binaries), list(datas)
    if not LEAN:
        return binaries, datas
    kept_binaries, kept_datas = trim(binaries), trim(datas)
    orphans = _orphans(binaries, kept_binaries)
    kept_binaries = [entry for entry in kept_binaries if entry[0] not in orphans]
    kept = {entry[0] for entry in kept_binaries + kept_datas}
    dropped = {entry[0] for entry in binaries + datas} - kept
    while True:  # links to dropped files (and links to those links) go too
        links = {entry[0] for entry in kept_binaries + kept_datas
                 if entry[2] == "SYMLINK" and entry[1] in dropped and entry[0] not in dropped}
        if not links:
            break
        dropped |= links
    return ([entry for entry in kept_binaries if entry[0] not in dropped],
            [entry for entry in kept_datas if entry[0] not in dropped])


# Linux libraries shipped with their full symbol tables (not debug info, but ~115 MB of names
# only a debugger reads). ``strip --strip-unneeded`` keeps the dynamic symbols they link by.
STRIP_PATTERNS = [
    "torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so", "torch/lib/libc10.so",
    "torch/lib/libtorch.so", "torch/lib/libshm.so", "libpython3*.so*",
]


def strip_symbols(binaries: Iterable[tuple[str, str, str]], workpath: str
                  ) -> list[tuple[str, str, str]]:
    """Point the :data:`STRIP_PATTERNS` binaries at stripped copies made under ``workpath``.

    Linux only, when lean and ``strip`` exists. Only these named libraries are stripped, not
    everything (``COLLECT(strip=True)``): libraries rewritten by auditwheel/patchelf can break
    when stripped. Copies are cached by source size and mtime.
    """
    import shutil
    import subprocess
    import sys

    entries = list(binaries)
    tool = shutil.which("strip")
    if not (LEAN and sys.platform.startswith("linux") and tool):
        return entries
    folder = Path(workpath) / "stripped"
    result = []
    for dest, source, kind in entries:
        if kind == "SYMLINK" or not any(fnmatch.fnmatch(dest, p) for p in STRIP_PATTERNS):
            result.append((dest, source, kind))
            continue
        stat = os.stat(source)
        target = folder / f"{dest}.{stat.st_size}.{stat.st_mtime_ns}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.copy2(source, partial)
            subprocess.run([tool, "--strip-unneeded", str(partial)], check=True)
            partial.replace(target)
        result.append((dest, str(target), kind))
    return result


def trim_report(before: Iterable[tuple[str, str, str]], after: Iterable[tuple[str, str, str]]
                ) -> str:
    """One line saying how many files and bytes the trimming removed."""
    kept = {entry[0] for entry in after}
    dropped = [entry for entry in before if entry[0] not in kept]
    size = sum(os.path.getsize(entry[1]) for entry in dropped if os.path.isfile(entry[1]))
    return f"pixelmend: trimmed {len(dropped)} files, {size / 2**20:.1f} MiB before compression"


def version() -> str:
    """The engine's version, read without importing the engine (and torch)."""
    namespace: dict[str, str] = {}
    exec((ROOT / "engine" / "version.py").read_text(encoding="utf-8"), namespace)  # noqa: S102
    return namespace["__version__"]
