"""Progress reporting and cooperative cancellation.

An op receives ``progress(fraction, message, preview=None)`` and a :class:`CancelToken`; long
loops call ``cancel.raise_if_cancelled()`` at each tile or iteration, so a cancel takes effect
within a second. Sub-steps get a share of the range through :func:`sub_range`.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

__all__ = ["CancelToken", "Cancelled", "Progress", "null_progress", "sub_range"]


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
