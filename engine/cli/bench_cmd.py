"""``pixelmend bench``: run a benchmark suite (:mod:`engine.bench`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from engine.cli.common import PROG, Parser, UsageError

__all__ = ["bench_parser", "cmd_bench"]


def bench_parser(argv: Sequence[str] = ()) -> Parser:
    from engine.bench import add_arguments, suite_names

    parser = Parser(prog=f"{PROG} bench",
                     description="Measure the quality and speed of ops on a folder of images. "
                                 f"Suites: {', '.join(suite_names())}.")
    suite = next((arg for arg in argv if arg in suite_names()), None)
    add_arguments(parser, suite)  # the common options, and the named suite's own
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark suite."""
    from engine.bench import BenchError, run_suite

    try:
        return run_suite(args)
    except BenchError as error:
        raise UsageError(str(error)) from None


