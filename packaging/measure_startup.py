"""Measure the editor's start-up: from launching the process to its main window being exposed.

Each run starts the app with ``PIXELMEND_STARTUP_PROBE=1``; ``packaging/entry.py`` then prints
the wall-clock time at which the first top-level window is exposed and exits, so the figure
covers the bootloader, Python, every import, building the window and its first paint. The
script also reports whether torch was imported by then, and from where.

Usage::

    python packaging/measure_startup.py                      # the built app, dist/pixelmend/
    python packaging/measure_startup.py --source             # python packaging/entry.py
    python packaging/measure_startup.py --platform xcb       # under xvfb-run (needs libxcb-*)
    python packaging/measure_startup.py --runs 7 --source --no-device-thread

``--no-device-thread`` (source runs only) stops the status bar's background device look-up,
which imports torch, to show what that costs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = re.compile(r"PIXELMEND_STARTUP_PROBE shown_at=(\S+) process_age=(\S+) torch=(\d)")
IMPORTER = re.compile(r"PIXELMEND_STARTUP_PROBE torch imported from: (.*)")
_NO_DEVICE_THREAD = (
    "import runpy, sys; "
    "import desktop.widgets.status_bar as s; s.StatusBar._look_up_device = lambda self: None; "
    "sys.argv = ['pixelmend']; runpy.run_path('packaging/entry.py', run_name='__main__')"
)


def _command(args: argparse.Namespace) -> list[str]:
    if args.source:
        if args.no_device_thread:
            return [sys.executable, "-c", _NO_DEVICE_THREAD]
        return [sys.executable, str(ROOT / "packaging" / "entry.py")]
    return [str(Path(args.app).resolve())]


def run_once(command: list[str], platform: str, timeout: float) -> dict[str, object]:
    """Start the app once; return the seconds to the shown window and the torch facts."""
    env = {**os.environ, "PIXELMEND_STARTUP_PROBE": "1", "QT_QPA_PLATFORM": platform}
    if command[0] == sys.executable:
        env["PYTHONPATH"] = str(ROOT)
    env.pop("PIXELMEND_RESOURCES", None)
    if platform == "xcb":
        if shutil.which("xvfb-run") is None:
            raise SystemExit("measure_startup.py: --platform xcb needs xvfb-run")
        command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]
    launched = time.time()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    output = done.stdout + done.stderr
    match = PROBE.search(output)
    if not match:
        raise SystemExit(f"measure_startup.py: no probe line (exit {done.returncode}):\n{output}")
    importer = IMPORTER.search(output)
    return {"seconds": float(match.group(1)) - launched, "process_age": float(match.group(2)),
            "torch": match.group(3) == "1",
            "importer": importer.group(1) if importer else ""}


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default=str(ROOT / "dist" / "pixelmend" / "pixelmend"))
    parser.add_argument("--source", action="store_true", help="run packaging/entry.py instead")
    parser.add_argument("--no-device-thread", action="store_true",
                        help="(with --source) skip the status bar's torch-importing look-up")
    parser.add_argument("--platform", default="offscreen", choices=("offscreen", "xcb"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    command = _command(args)
    results = []
    for index in range(args.runs):
        result = run_once(command, args.platform, args.timeout)
        results.append(result)
        print(f"run {index + 1}: window shown after {result['seconds']:.2f} s "
              f"(process age {result['process_age']:.2f} s), torch imported: "
              f"{'yes' if result['torch'] else 'no'}", flush=True)
    seconds = [float(r["seconds"]) for r in results]
    warm = seconds[1:] or seconds
    print(f"first run {seconds[0]:.2f} s; later runs median {statistics.median(warm):.2f} s, "
          f"min {min(warm):.2f} s ({args.platform}, {os.cpu_count()} CPUs, "
          f"{'source' if args.source else 'built app'})")
    importers = {str(r["importer"]) for r in results if r["importer"]}
    for importer in sorted(importers):
        print(f"torch was imported from: {importer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
