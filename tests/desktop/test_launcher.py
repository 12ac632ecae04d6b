"""The console entry point: engine CLI without Qt, the route to ``bench ui``, and the editor."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from desktop import launcher
from desktop.bench import ui as bench_ui

PROBE = textwrap.dedent("""
    import sys, types
    calls = []
    fake = types.ModuleType("engine.cli")
    fake.main = lambda argv: calls.append(list(argv)) or 7
    sys.modules["engine.cli"] = fake
    from desktop.launcher import main
    code = main({argv!r})
    print(code, calls, "PySide6" in sys.modules)
""")


@pytest.mark.parametrize("argv", [["ops"], ["run", "median", "a.png"], ["bench", "classical"],
                                  ["--version"], ["-h"], ["--help"]])
def test_cli_subcommands_go_to_the_engine_without_qt(argv):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                         text=True, env=env, timeout=60, check=True).stdout.split(maxsplit=1)
    assert out[0] == "7"
    assert out[1].strip() == f"[{argv!r}] False"


def test_bench_ui_and_editor_routes(monkeypatch):
    seen = []
    monkeypatch.setattr(bench_ui, "main", lambda argv: seen.append(("bench", argv)) or 3)
    import desktop.app

    monkeypatch.setattr(desktop.app, "main", lambda paths: seen.append(("editor", paths)) or 0)
    assert launcher.main(["bench", "ui", "--megapixels", "1"]) == 3
    assert launcher.main(["photo.png", "scan.tif"]) == 0
    assert launcher.main(["--", "-odd-name.png"]) == 0
    assert launcher.main([]) == 0
    assert seen == [("bench", ["--megapixels", "1"]), ("editor", ["photo.png", "scan.tif"]),
                    ("editor", ["-odd-name.png"]), ("editor", [])]


def test_bench_chaos_and_crash_go_to_the_editor_benches(monkeypatch):
    from desktop.bench import chaos, crash

    seen = []
    monkeypatch.setattr(chaos, "main", lambda argv: seen.append(("chaos", argv)) or 0)
    monkeypatch.setattr(crash, "main", lambda argv: seen.append(("crash", argv)) or 1)
    assert launcher.main(["bench", "chaos", "--actions", "10"]) == 0
    assert launcher.main(["bench", "crash", "--trials", "2"]) == 1
    assert seen == [("chaos", ["--actions", "10"]), ("crash", ["--trials", "2"])]


def test_without_a_display_the_editor_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert launcher.main(["photo.png"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no display" in err[0] and "pixelmend run" in err[0]


def test_self_test_flag_runs_the_engine_self_test(monkeypatch):
    import engine.cli.selftest

    monkeypatch.setattr(engine.cli.selftest, "run_selftest", lambda: 0)
    assert launcher.main(["--self-test"]) == 0
