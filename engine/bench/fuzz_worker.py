"""The loading process of ``pixelmend bench fuzz`` (``python -m engine.bench.fuzz_worker``) and
:class:`Worker`, the side of the bench that drives it.

It loads one file per request and answers with one JSON line, so one process serves many files
and a crash or a hang costs only a restart. The protocol, over its standard input and output:

* on start it answers ``{"ready": true}``;
* for each line read (a file path) it answers ``{"outcome": ..., "detail": ...}``, the outcome
  being ``"loaded"`` (the result keeps the loader's contract), ``"clean"`` (an
  :class:`~engine.io.ImageReadError`), ``"foreign"`` (any other exception) or ``"invalid"``
  (loaded, but the pixels break the contract);
* it exits at the end of its input.

``--memory-limit BYTES`` caps the process's address space (``RLIMIT_AS``, Linux and other
POSIX systems) before anything is loaded. What the libraries print goes to standard error; the
answers use a copy of the original standard output, so nothing else can break a line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Worker", "check_loaded", "main"]

_STARTUP_S = 120.0


def check_loaded(image: Any) -> str | None:
    """What is wrong with a loaded image, measured against :func:`engine.io.load`'s contract."""
    import numpy as np

    pixels = getattr(image, "pixels", None)
    if not isinstance(pixels, np.ndarray):
        return f"pixels is {type(pixels).__name__}, not an array"
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4) or 0 in pixels.shape:
        return f"pixels has shape {pixels.shape}"
    if pixels.dtype not in (np.uint8, np.uint16):
        return f"pixels has dtype {pixels.dtype}"
    if image.bit_depth != (16 if pixels.dtype == np.uint16 else 8):
        return f"bit_depth {image.bit_depth} for {pixels.dtype} pixels"
    if image.has_alpha != (pixels.shape[2] == 4):
        return f"has_alpha {image.has_alpha} with {pixels.shape[2]} channels"
    if not pixels.flags.c_contiguous:
        return "pixels are not contiguous"
    return None


def _loader(target: str) -> Callable[[str], Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _limit_memory(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as error:  # macOS refuses some address-space limits
        print(f"fuzz worker: no memory limit ({error})", file=sys.stderr)


def _answer(path: str, load: Callable[[str], Any], clean: type[BaseException]) -> dict[str, str]:
    try:
        image = load(path)
    except clean as error:
        return {"outcome": "clean", "detail": str(error)}
    except Exception as error:  # the point of the exercise: report what escaped
        return {"outcome": "foreign", "detail": f"{type(error).__name__}: {error}"[:500]}
    problem = check_loaded(image)
    if problem is not None:
        return {"outcome": "invalid", "detail": problem}
    pixels = image.pixels
    return {"outcome": "loaded", "detail": f"{pixels.shape[1]}×{pixels.shape[0]}×"
                                           f"{pixels.shape[2]} {pixels.dtype}"}


class Worker:
    """One loading process driven over the protocol above, started on first use and again
    after it crashes or hangs."""

    def __init__(self, *, memory_limit: int, timeout: float,
                 loader: str = "engine.io:load") -> None:
        self.memory_limit, self.timeout, self.loader = memory_limit, timeout, loader
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = -1
        self._buffer = b""

    def _start(self) -> None:
        command = [sys.executable, "-m", "engine.bench.fuzz_worker", "--memory-limit",
                   str(self.memory_limit), "--loader", self.loader]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, bufsize=0)
        self.restarts += 1
        self._buffer = b""
        line = self._read_line(_STARTUP_S)
        if not line or not json.loads(line).get("ready"):
            self.close()
            raise RuntimeError(f"the fuzz worker did not start ({' '.join(command)})")

    def _read_line(self, timeout: float) -> bytes | None:
        """The next line from the worker; b"" at its end, None after ``timeout`` seconds.

        The end of its output is the sign of a dead worker: its pipe closes while it exits,
        a moment before its exit status can be read.
        """
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        stream = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                return None
            chunk = os.read(stream, 65536)
            if not chunk:
                return b""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ensure_started(self) -> None:
        """Start the process if it is not running (a restart after a crash or a hang)."""
        if self.process is None or self.process.poll() is not None:
            self._start()

    def load(self, path: Path) -> tuple[str, str]:
        """Load ``path`` in the worker: ``(outcome, detail)``."""
        self.ensure_started()
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(os.fsencode(path) + b"\n")
        except BrokenPipeError:
            return self._died()
        line = self._read_line(self.timeout)
        if line is None:
            self.close()
            return "hang", f"no answer in {self.timeout:g} s"
        if not line:
            return self._died()
        answer = json.loads(line)
        return answer["outcome"], answer.get("detail", "")

    def _died(self) -> tuple[str, str]:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:  # its output closed, but it lives on: end it
            self.process.kill()
            code = self.process.wait()
        self.process = None
        if code < 0:
            with contextlib.suppress(ValueError):
                return "crash", f"killed by {signal.Signals(-code).name}"
        return "crash", f"the worker exited with code {code}"

    def close(self) -> None:
        """Stop the process (at once: it may be stuck)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def main(argv: list[str] | None = None) -> int:
    """Serve load requests until the end of standard input."""
    parser = argparse.ArgumentParser(prog="python -m engine.bench.fuzz_worker")
    parser.add_argument("--memory-limit", type=int, default=0, metavar="BYTES")
    parser.add_argument("--loader", default="engine.io:load", metavar="MODULE:FUNCTION")
    args = parser.parse_args(argv)
    if args.memory_limit > 0:
        _limit_memory(args.memory_limit)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints cannot break a line
    from engine.io import ImageReadError

    load = _loader(args.loader)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        path = line.rstrip("\n")
        if path:
            answers.write(json.dumps(_answer(path, load, ImageReadError)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
