"""What every ``pixelmend`` command shares: the program name, exit codes, the one-line usage
errors, error messages that name the file, and Ctrl+C as a cancel."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "PROG", "Parser",
           "UsageError", "ctrl_c_cancels", "describe_error", "expected_errors", "print_error"]

PROG = "pixelmend"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """The command line asks for something impossible; exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argparse parser that reports a mistake as one line instead of a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def print_error(message: str, stream: TextIO | None = None) -> None:
    """Print ``pixelmend: error: message`` on stderr."""
    print(f"{PROG}: error: {message}", file=stream or sys.stderr)



def describe_error(error: BaseException, source: Path | None = None) -> str:
    """One line for an expected error, naming the file when the message does not."""
    if isinstance(error, OSError) and error.strerror:
        where = error.filename or source
        message = f"{where}: {error.strerror}" if where else error.strerror
    else:
        message = str(error) or type(error).__name__
    message = " ".join(message.split())
    if source is not None and str(source) not in message and source.name not in message:
        message = f"{source}: {message}"
    return message


@contextlib.contextmanager
def ctrl_c_cancels(cancel: Any) -> Iterator[None]:
    """First Ctrl+C asks the running op to stop at its next check; a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors a file's run reports as one line without "unexpected": bad input, I/O, a
    missing device, damaged or missing model weights."""
    from engine.core.device import DeviceError
    from engine.models.weights import WeightsError

    return (ValueError, OSError, DeviceError, WeightsError)


