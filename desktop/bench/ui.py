"""``pixelmend bench ui``: how the editor feels on a big photo, measured through the real window.

Generates a synthetic photo (24 MP by default), saves it as JPEG in a temporary folder, and
measures in the real :class:`~desktop.main_window.MainWindow` (offscreen is fine):

* open: load + document + the window's first paint;
* brush dab: mean over ~200 mouse-move events sent to the canvas viewport (the same code path a
  drag takes: tool → ``Mask.line`` → overlay update of the dirty rect → repaint of that rect);
* repaint: ``viewport().repaint()`` at fit and at 100 % zoom;
* memory: the process's resident set size with three layers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["main", "make_photo", "rss_mb"]


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size in MB (Linux ``/proc``; ``resource`` elsewhere)."""
    try:
        fields = dict(line.split(":", 1) for line in
                      Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = peak / 1024 / (1024 if sys.platform == "darwin" else 1)
        return peak_mb, peak_mb


def make_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB image (smooth shapes, texture and noise), 3:2 aspect."""
    width = max(round((megapixels * 1e6 * 1.5) ** 0.5), 16)
    height = max(round(width / 1.5), 16)
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    image = np.empty((height, width, 3), np.uint8)
    for channel, phase in enumerate((0.0, 1.3, 2.6)):
        plane = 0.5 + 0.25 * np.sin(7 * x + phase) * np.cos(5 * y - phase) + 0.2 * (x - y)
        plane += rng.normal(0, 0.03, (height, 1)).astype(np.float32)
        image[:, :, channel] = np.clip(plane * 255, 0, 255).astype(np.uint8)
    return image


class _Clock:
    """Wall-clock and process CPU time together: on a busy machine the CPU time is the one
    that says what the editor itself costs."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _timed(action: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Median (wall, cpu) seconds of ``repeat`` calls."""
    laps = []
    for _ in range(repeat):
        clock = _Clock()
        action()
        laps.append(clock.lap())
    return (statistics.median(lap[0] for lap in laps), statistics.median(lap[1] for lap in laps))


def _drag_dabs(window, app, count: int) -> tuple[float, float]:
    """Mean seconds per mouse-move dab, including the overlay's repaint of the dirty rect."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    view = window.view
    viewport = view.viewport()
    left, nothing = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind: QEvent.Type, point: QPointF, button, buttons) -> None:
        global_point = QPointF(viewport.mapToGlobal(point.toPoint()))
        event = QMouseEvent(kind, point, global_point, button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        app.sendEvent(viewport, event)

    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    send(QEvent.Type.MouseButtonPress, centre, left, left)
    app.processEvents()
    clock = _Clock()
    for i in range(count):
        angle = i / count * 2 * np.pi
        point = centre + QPointF(np.cos(angle), np.sin(angle)) * viewport.height() * 0.3
        send(QEvent.Type.MouseMove, point, nothing, left)
        app.processEvents()  # the overlay's update(rect) is painted here
    wall, cpu = clock.lap()
    send(QEvent.Type.MouseButtonRelease, centre, left, nothing)
    app.processEvents()
    return wall / count, cpu / count


def run(megapixels: float, dabs: int = 200) -> dict[str, object]:
    """Measure; return the figures by name: (wall, cpu) seconds, MB, counts."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from desktop.app import create_application
    from desktop.main_window import MainWindow
    from engine import io

    app = create_application()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pixelmend-bench-ui-") as folder:
        # The benchmark must not touch the person's settings, recent files or crash copies.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        old_state_dir = os.environ.get("PIXELMEND_STATE_DIR")
        os.environ["PIXELMEND_STATE_DIR"] = str(Path(folder) / "state")
        path = Path(folder) / "photo.jpg"
        photo = make_photo(megapixels)
        io.save(path, photo, quality=92)
        figures["pixels"] = photo.shape[0] * photo.shape[1]
        del photo
        window = MainWindow(look_up_device=False)
        window.resize(1600, 1000)
        window.show()
        app.processEvents()

        def open_and_paint() -> None:
            window.files.open_path(path, ask=False)
            window.view.viewport().repaint()

        figures["open_s"] = _timed(open_and_paint)
        doc = window.document
        window.brush.set(size=60, hardness=0.8)
        window.set_tool("brush")
        window.view.fit()
        app.processEvents()
        figures["dab_fit_s"] = _drag_dabs(window, app, dabs)
        window.view.actual_pixels()
        app.processEvents()
        figures["dab_100_s"] = _drag_dabs(window, app, dabs)
        window.view.fit()
        figures["repaint_fit_s"] = _timed(window.view.viewport().repaint, 10)
        window.view.actual_pixels()
        figures["repaint_100_s"] = _timed(window.view.viewport().repaint, 10)
        figures["rss_one_layer_mb"] = rss_mb()[0]
        image = doc.layers[0].colour_float()
        changed = np.clip(image * 0.9 + 0.05, 0, 1).astype(np.float32)
        del image
        recipe = {"op": "bench", "params": {}, "engine": ""}

        def add_layer(image: np.ndarray = changed) -> None:
            doc.add_result_layer(doc.layers[-1], image, recipe, doc.mask.snapshot(),
                                 name="Benchmark result")
            app.processEvents()  # the canvas builds the new layer's pixmap here

        for _ in range(2):
            figures["add_layer_s"] = _timed(add_layer)
        del add_layer, changed
        window.view.fit()
        figures["repaint_fit_3_layers_s"] = _timed(window.view.viewport().repaint, 10)
        figures["rss_three_layers_mb"], figures["peak_rss_mb"] = rss_mb()
        figures["layers"] = len(doc.layers)
        doc.mark_saved()
        window.shutdown()
        window.close()
        if old_state_dir is None:
            os.environ.pop("PIXELMEND_STATE_DIR", None)
        else:
            os.environ["PIXELMEND_STATE_DIR"] = old_state_dir
    return figures


def format_table(figures: dict[str, object]) -> str:
    """The figures as an aligned table: wall-clock and CPU milliseconds, then memory."""

    def ms(key: str, digits: int = 1) -> tuple[str, str]:
        wall, cpu = figures[key]
        return f"{wall * 1e3:.{digits}f}", f"{cpu * 1e3:.{digits}f}"

    rows = [
        ("open (load + document + first paint)", *ms("open_s", 0)),
        ("brush dab, fit zoom (mean of a drag)", *ms("dab_fit_s", 2)),
        ("brush dab, 100 % zoom (mean of a drag)", *ms("dab_100_s", 2)),
        ("repaint at fit", *ms("repaint_fit_s")),
        ("repaint at 100 %", *ms("repaint_100_s")),
        ("repaint at fit, 3 layers", *ms("repaint_fit_3_layers_s")),
        ("add a result layer (blend + pixmap)", *ms("add_layer_s", 0)),
    ]
    width = max(len(name) for name, *_ in rows)
    lines = [f"{figures['pixels'] / 1e6:.1f} MP JPEG, {os.cpu_count()} CPU cores",
             f"{'':<{width}}  {'wall ms':>9}  {'cpu ms':>9}"]
    lines += [f"{name:<{width}}  {wall:>9}  {cpu:>9}" for name, wall, cpu in rows]
    lines += [f"{'RSS, 1 layer':<{width}}  {figures['rss_one_layer_mb']:>9.0f} MB",
              f"{'RSS, ' + str(figures['layers']) + ' layers':<{width}}  "
              f"{figures['rss_three_layers_mb']:>9.0f} MB",
              f"{'peak RSS':<{width}}  {figures['peak_rss_mb']:>9.0f} MB"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``[--megapixels N] [--dabs N]``, measure and print the table."""
    parser = argparse.ArgumentParser(prog="pixelmend bench ui",
                                     description="Measure the editor on a synthetic photo.")
    parser.add_argument("--megapixels", type=float, default=24.0,
                        help="size of the synthetic photo (default 24)")
    parser.add_argument("--dabs", type=int, default=200, help="brush dabs to average (200)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.megapixels <= 0 or args.dabs < 1:
        parser.error("--megapixels must be positive and --dabs at least 1")
    figures = run(args.megapixels, args.dabs)
    print(format_table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
