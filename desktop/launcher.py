"""The ``pixelmend`` console entry point: the engine's command line or the editor.

``pixelmend ops|run|bench|--version|--help ...`` goes to :func:`engine.cli.main`, except the
editor's own benchmarks: ``pixelmend bench ui`` (speed, :mod:`desktop.bench.ui`), ``bench chaos``
(random actions, :mod:`desktop.bench.chaos`) and ``bench crash`` (kill -9 and recovery,
:mod:`desktop.bench.crash`). Anything else opens
the editor with the arguments as image paths. ``pixelmend --self-test`` loads every shipped model
and runs every op on a small image (the packaged app's check). PySide6 is imported only on the
editor path, so the command line does not pay for Qt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["CLI_COMMANDS", "DESKTOP_BENCHES", "main"]

CLI_COMMANDS = frozenset({"ops", "run", "batch", "bench", "--version", "-h", "--help"})
DESKTOP_BENCHES = {"ui": "desktop.bench.ui", "chaos": "desktop.bench.chaos",
                   "crash": "desktop.bench.crash"}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch the command line and return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name; ``sys.argv[1:]`` when omitted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "bench" and args[1] in DESKTOP_BENCHES:
        import importlib

        return importlib.import_module(DESKTOP_BENCHES[args[1]]).main(args[2:])
    if args and args[0] in CLI_COMMANDS:
        from engine.cli import main as cli_main

        return cli_main(args)
    if args[:1] == ["--self-test"]:
        from engine.cli.selftest import run_selftest

        return run_selftest()
    if args[:1] == ["--"]:
        args = args[1:]
    problem = _why_no_editor()
    if problem:
        print(f"pixelmend: error: {problem}", file=sys.stderr)
        return 2
    from desktop.app import main as app_main

    return app_main(args)


def _why_no_editor() -> str | None:
    """A one-line reason the editor cannot start here, or None when it can."""
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        return ("no display to open the editor on (DISPLAY and WAYLAND_DISPLAY are unset); "
                "use 'pixelmend run ...' for files, or see 'pixelmend --help'")
    try:
        import desktop.app  # noqa: F401
    except ImportError as error:
        return f"the editor is not available in this installation: {error}"
    return None
