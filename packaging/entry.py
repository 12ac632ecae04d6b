"""Entry script of the frozen PixelMend app (PyInstaller runs this as ``pixelmend``).

It adds two things in front of :func:`desktop.launcher.main`:

* ``pixelmend --self-test`` runs :func:`engine.cli.selftest.run_selftest` (whether or not the
  launcher knows the flag), so a built app can check itself without a display;
* ``PIXELMEND_STARTUP_PROBE=1`` measures start-up: when the first top-level window is exposed it
  prints one line ``PIXELMEND_STARTUP_PROBE shown_at=<epoch> process_age=<s> torch=<0|1>`` to
  stderr, names the module that first imported torch (if any), and exits. Used by
  ``packaging/measure_startup.py``.

On Windows a windowed (no-console) app has no ``sys.stdout``; when it is started from a
terminal with a command-line subcommand, it attaches to that terminal's console so the output
is visible.
"""

from __future__ import annotations

import os
import sys
import time

PROBE_ENV = "PIXELMEND_STARTUP_PROBE"


def _attach_parent_console() -> None:
    """Give a windowed Windows build the parent terminal's console, or a null stream."""
    if sys.platform == "win32" and (sys.stdout is None or sys.stderr is None):
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                sys.stdout = open("CONOUT$", "w", encoding="utf-8")  # noqa: SIM115
                sys.stderr = sys.stdout
        except OSError:
            pass
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = sys.stdout


def _process_age() -> float:
    """Seconds since this process was started (Linux /proc; -1 elsewhere)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return -1.0


def _install_startup_probe() -> None:
    """Patch QApplication so the first exposed top-level window reports the time and exits."""
    torch_importer: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "import" and args and args[0] == "torch" and not torch_importer:
            import traceback

            frames = [frame for frame in traceback.extract_stack()[:-1]
                      if "importlib" not in frame.filename and "<frozen" not in frame.filename]
            torch_importer.extend(f"{frame.filename}:{frame.lineno}" for frame in frames[-4:])

    sys.addaudithook(audit)

    from PySide6 import QtWidgets
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QWindow

    class _Watcher(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if (event.type() == QEvent.Type.Expose and isinstance(watched, QWindow)
                    and watched.isExposed() and watched.transientParent() is None):
                shown_at = time.time()
                QTimer.singleShot(0, lambda: self._report(shown_at, watched.title()))
                QtWidgets.QApplication.instance().removeEventFilter(self)
            return False

        @staticmethod
        def _report(shown_at: float, title: str) -> None:
            has_torch = int("torch" in sys.modules)
            print(f"{PROBE_ENV} shown_at={shown_at:.4f} process_age={_process_age():.3f} "
                  f"torch={has_torch} title={title!r}", file=sys.stderr)
            if torch_importer:
                print(f"{PROBE_ENV} torch imported from: {' <- '.join(torch_importer[::-1])}",
                      file=sys.stderr)
            sys.stderr.flush()
            os._exit(0)

    base = QtWidgets.QApplication

    class ProbeApplication(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._startup_watcher = _Watcher()
            self.installEventFilter(self._startup_watcher)

    QtWidgets.QApplication = ProbeApplication


def main(argv: list[str] | None = None) -> int:
    """Run the self-test, or hand over to the launcher (editor or command line)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _attach_parent_console()
    if args[:1] == ["--self-test"]:
        from engine.cli.selftest import run_selftest

        return run_selftest(sys.stdout)
    if os.environ.get(PROBE_ENV):
        _install_startup_probe()
    from desktop.launcher import main as launcher_main

    return launcher_main(args)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
