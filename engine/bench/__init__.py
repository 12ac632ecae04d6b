"""Benchmarks behind ``pixelmend bench``: the quality and speed of ops on a folder of images.

A suite is a function ``suite(args) -> int`` that takes the parsed ``pixelmend bench`` arguments
(``data``, ``limit``, ``ops``, ``json``, ``seed``, ``device``, ``threads``, ``quiet``, plus any
the suite adds), prints a table and returns an exit code. :data:`SUITES` maps each suite's name
to a :class:`Suite` naming ``"module:function"``, so a new suite lives in its own small module
of this package and is imported only when it runs: write the module, add one line to
:data:`SUITES`. Suites share :mod:`engine.bench.common` (images, seeds, the report).

Benchmarks may import anything in the runtime engine; nothing in the runtime imports them.
Importing this package has no side effects.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2

from engine.bench.common import BenchError

__all__ = ["SUITES", "BenchError", "Suite", "add_arguments", "cpu_threads", "get_suite",
           "run_suite", "suite_names"]


@dataclass(frozen=True)
class Suite:
    """Where a suite lives: ``"module:function"`` strings (imported only when used) or callables.

    Attributes
    ----------
    run : str or callable
        ``run(args) -> int``: runs the suite on the parsed arguments, prints, returns the exit
        code.
    arguments : str or callable, optional
        ``arguments(parser)``: adds the suite's own options (beyond the common ones) to the
        ``pixelmend bench`` parser.
    needs_data : bool
        ``--data`` is required (the fuzz suite makes its own files and takes it as an option).
    """

    run: str | Callable[[argparse.Namespace], int]
    arguments: str | Callable[[argparse.ArgumentParser], None] | None = None
    needs_data: bool = True


SUITES: dict[str, Suite] = {
    "batch": Suite("engine.bench.batch:suite", "engine.bench.batch:add_suite_arguments"),
    "classical": Suite("engine.bench.classical:classical_suite"),
    "denoise": Suite("engine.bench.denoise:suite", "engine.bench.denoise:add_suite_arguments"),
    "fuzz": Suite("engine.bench.fuzz:suite", "engine.bench.fuzz:add_suite_arguments",
                  needs_data=False),
    "inpaint": Suite("engine.bench.inpaint:suite",
                     "engine.bench.inpaint:add_suite_arguments"),
    "privacy": Suite("engine.bench.privacy:suite", "engine.bench.privacy:add_suite_arguments"),
    "restore": Suite("engine.bench.restore:suite", "engine.bench.restore:add_suite_arguments"),
    "texture": Suite("engine.bench.texture:suite", "engine.bench.texture:add_suite_arguments"),
    "upscale": Suite("engine.bench.upscale:suite", "engine.bench.upscale:add_suite_arguments"),
}


def suite_names() -> list[str]:
    """Names of the known suites."""
    return sorted(SUITES)


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def get_suite(name: str) -> Callable[[argparse.Namespace], int]:
    """Import and return the function that runs the suite registered as ``name``."""
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}")
    return _resolve(SUITES[name].run)


def add_arguments(parser: argparse.ArgumentParser, suite: str | None = None) -> None:
    """Add the arguments every suite understands, and those of ``suite``, to ``parser``."""
    parser.add_argument("suite", metavar="SUITE", help=f"one of: {', '.join(suite_names())}")
    needs_data = SUITES[suite].needs_data if suite in SUITES else True
    parser.add_argument("--data", metavar="DIR", required=needs_data,
                        help="folder of clean images (e.g. ../shared/data/cbsd68)"
                             + ("" if needs_data else "; optional for this suite"))
    parser.add_argument("--limit", type=int, metavar="N", help="use only the first N images")
    parser.add_argument("--ops", metavar="A,B", help="only these ops (or case labels), comma "
                                                    "separated")
    parser.add_argument("--json", metavar="FILE", help="also save the raw numbers as JSON")
    parser.add_argument("--seed", type=int, default=0,
                        help="base seed; each image's degradation seed derives from it and the "
                             "file name (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="device for ops that can use one (default: PIXELMEND_DEVICE or "
                             "the best available)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for OpenCV and torch during the run (default: theirs); "
                             "1 gives steadier timings on a busy machine")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    if suite in SUITES and SUITES[suite].arguments is not None:
        _resolve(SUITES[suite].arguments)(parser.add_argument_group(f"{suite} suite"))


def run_suite(args: argparse.Namespace) -> int:
    """Run the suite named by ``args.suite`` (with ``args.threads`` CPU threads, if given)."""
    suite = get_suite(args.suite)
    with cpu_threads(getattr(args, "threads", None)):
        return suite(args)


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Limit OpenCV's and torch's CPU threads to ``count`` inside the block, then restore them."""
    if count is None:
        yield
        return
    if count < 1:
        raise BenchError("--threads must be at least 1")
    import torch

    before = (cv2.getNumThreads(), torch.get_num_threads())
    cv2.setNumThreads(count)
    torch.set_num_threads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])

