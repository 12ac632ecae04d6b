"""The frozen app's entry script and the shared PyInstaller settings."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import pyi_common  # noqa: E402


def _load_entry():
    spec = importlib.util.spec_from_file_location("pixelmend_entry", ROOT / "packaging/entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_self_test_flag_reaches_run_selftest(monkeypatch):
    import engine.cli.selftest

    calls = []
    monkeypatch.setattr(engine.cli.selftest, "run_selftest",
                        lambda stream: calls.append(stream) or 7)
    entry = _load_entry()
    assert entry.main(["--self-test"]) == 7
    assert calls == [sys.stdout]


def test_other_arguments_go_to_the_launcher(monkeypatch):
    import desktop.launcher

    seen = []
    monkeypatch.setattr(desktop.launcher, "main", lambda args: seen.append(args) or 3)
    entry = _load_entry()
    assert entry.main(["ops", "--json"]) == 3
    assert entry.main(["photo.png"]) == 3
    assert seen == [["ops", "--json"], ["photo.png"]]


def test_entry_does_not_import_torch_or_qt_before_dispatch(monkeypatch):
    # the probe and the self-test import what they need; the dispatch itself stays light
    import subprocess

    code = ("import runpy, sys; sys.argv=['pixelmend']; "
            "ns = runpy.run_path('packaging/entry.py', run_name='not_main'); "
            "print(sorted(m for m in ('torch', 'PySide6', 'cv2') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("dest", "trimmed"), [
    ("torch/include/ATen/core/Tensor.h", True),
    ("torch/test/test_api", True),
    ("torch/bin/protoc-3.13.0.0", True),
    ("torch/bin/test_jit", True),
    ("torch/lib/libjitbackend_test.so", True),
    ("torch\\include\\c10\\macros.h", True),
    ("torch/lib/libtorch_cpu.so", False),
    ("torch/lib/libgomp.so.1", False),
    ("torch/bin/torch_shm_manager", False),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", True),
    ("PySide6/Qt/translations/qtbase_de.qm", False),
    ("resources/models/manifest.json", False),
    ("resources/icons/pixelmend-256.png", False),
])
def test_trim_drops_only_what_the_app_cannot_load(dest, trimmed):
    entry = (dest, "/nowhere", "DATA")
    assert (pyi_common.trim([entry]) == []) is (trimmed and pyi_common.LEAN)


def test_resources_ship_under_resources_and_ops_are_hidden_imports():
    assert pyi_common.data_files() == [(str(ROOT / "resources"), "resources")]
    hidden = pyi_common.hidden_imports()
    assert "engine.cli.selftest" in hidden and "desktop.launcher" in hidden
    ops = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                 for p in (ROOT / "engine" / "ops").glob("*/*_op.py"))
    assert ops and all(name in hidden for name in ops)
    assert "tkinter" in pyi_common.EXCLUDES
    assert pyi_common.version() == __import__("engine.version").version.__version__


def test_windowed_stdout_none_gets_a_stream(monkeypatch):
    entry = _load_entry()
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    entry._attach_parent_console()
    stream = sys.stdout
    assert stream.name == os.devnull and sys.stderr is stream
    print("ignored", file=stream)
    stream.close()
