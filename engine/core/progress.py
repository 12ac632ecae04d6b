"""Progress reporting and cooperative cancellation.

An op receives ``progress(fraction, message, preview=None)`` and a :class:`CancelToken`; long
loops call ``cancel.raise_if_cancelled()`` at each tile or iteration, so a cancel takes effect
within a second. Sub-steps get a share of the range through :func:`sub_range`. Whoever shows
progress (the editor's job runner, the command line's bar) passes reports on through one
:class:`Throttle`, so an op may report as often as it likes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

__all__ = ["CancelToken", "Cancelled", "Progress", "Throttle", "null_progress", "sub_range"]


class Cancelled(Exception):
    """Raised inside an op when the person cancelled the run."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class Progress(Protocol):
    """Callable that receives progress reports."""

    def __call__(self, fraction: float, message: str = "", preview: np.ndarray | None = None
                 ) -> None: ...


def null_progress(fraction: float, message: str = "", preview: np.ndarray | None = None) -> None:
    """A progress callback that ignores every report."""


class CancelToken:
    """A thread-safe flag that a worker polls and a user interface sets."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running op to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was asked for."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if a cancel was asked for."""
        if self._event.is_set():
            raise Cancelled()


def sub_range(progress: Progress, start: float, stop: float) -> Progress:
    """Map a sub-step's ``[0, 1]`` progress onto ``[start, stop]`` of ``progress``."""
    span = stop - start

    def report(fraction: float, message: str = "", preview: np.ndarray | None = None) -> None:
        clipped = min(max(float(fraction), 0.0), 1.0)
        progress(start + span * clipped, message, preview)

    return report


class Throttle:
    """Decides which progress reports are worth passing on.

    A report is due when it finishes the run (reaches 1), when the fraction moved by at least
    ``step`` since the last report passed on, or when the fraction or the message changed and
    ``interval`` seconds have passed. Previews are due at most every ``preview_interval``
    seconds.

    Parameters
    ----------
    interval : float
        Least time between two reports that only moved a little.
    step : float, optional
        A move of the fraction that is always worth a report; None: time decides alone.
    preview_interval : float
        Least time between two previews.
    clock : callable
        Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, interval: float, *, step: float | None = None,
                 preview_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.step = step
        self.preview_interval = preview_interval
        self.clock = clock
        self.value = -1.0
        self.message = ""
        self.time = -float("inf")
        self.preview_time = -float("inf")

    def restart(self) -> None:
        """Start a new run: the next report waits ``interval`` from now unless it is due."""
        self.value, self.message, self.time = -1.0, "", self.clock()

    def progress_due(self, value: float, message: str = "") -> bool:
        """Whether the report ``(value, message)`` should be passed on (and remember it)."""
        now = self.clock()
        finished = value >= 1.0 > self.value
        moved = self.step is not None and abs(value - self.value) >= self.step
        changed = value != self.value or message != self.message
        if finished or moved or (changed and now - self.time >= self.interval):
            self.value, self.message, self.time = value, message, now
            return True
        return False

    def preview_due(self) -> bool:
        """Whether a preview should be passed on now (and remember it)."""
        now = self.clock()
        if now - self.preview_time >= self.preview_interval:
            self.preview_time = now
            return True
        return False
