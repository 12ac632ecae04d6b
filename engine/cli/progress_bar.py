"""The command line's one-line progress bar for a batch of files."""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

from engine.core.progress import Throttle

__all__ = ["ProgressBar"]


class ProgressBar:
    """A one-line text progress bar for a batch of files, drawn on ``stream`` (stderr).

    On a terminal the line is redrawn in place with ``\\r`` (at most ten times a second);
    otherwise a plain line is printed at most every ``interval`` seconds, so logs stay short.

    Parameters
    ----------
    total : int
        Number of files in the batch.
    stream : file, optional
        Where to draw; ``sys.stderr`` by default.
    enabled : bool
        False draws nothing (``--quiet``).
    interactive : bool, optional
        Redraw in place; defaults to whether ``stream`` is a terminal.
    interval : float
        Seconds between plain lines when not interactive.
    """

    WIDTH = 24

    def __init__(self, total: int, stream: TextIO | None = None, *, enabled: bool = True,
                 interactive: bool | None = None, interval: float = 5.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.interval = interval
        self.index = 0
        self.name = ""
        self._throttle = Throttle(0.1 if interactive else interval)
        self._drawn = 0

    def begin(self, index: int, name: str) -> None:
        """Start reporting on file ``index`` (1-based) called ``name``."""
        self.index, self.name = index, name
        if self.interactive:
            self._throttle = Throttle(0.1)
            self(0.0, "loading")
        else:
            self._throttle.restart()

    def line(self, fraction: float, message: str = "") -> str:
        """The text of the bar for ``fraction`` done."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        filled = int(round(fraction * self.WIDTH))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        text = f"[{self.index}/{self.total}] {self.name} [{bar}] {fraction * 100:3.0f}%"
        return f"{text} {message}".rstrip()

    def __call__(self, fraction: float, message: str = "", preview: Any = None) -> None:
        if not self.enabled or (not self.interactive and fraction >= 1.0):
            return
        self._throttle.interval = 0.1 if self.interactive else self.interval
        if not self._throttle.progress_due(fraction, message):
            return
        if self.interactive:
            width = max(shutil.get_terminal_size((80, 20)).columns - 1, 20)
            text = self.line(fraction, message)[:width]
            self.stream.write("\r" + text.ljust(self._drawn))
            self._drawn = len(text)
        else:
            self.stream.write(self.line(fraction, message) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the in-place line so that other output starts on a clean line."""
        if self.enabled and self.interactive and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


