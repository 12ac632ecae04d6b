"""The headless ``pixelmend`` commands: ``ops``, ``run``, ``batch`` and ``bench``.

Synopsis::

    pixelmend --version
    pixelmend ops [--json]                      list every op and its parameters
    pixelmend run OP INPUT... -o OUTPUT [--mask MASK] [--set NAME=VALUE ...] [--overwrite]
                  [--recursive] [--format png|tif|jpg|webp] [--device auto|cpu|cuda|mps]
                  [--max-pixels N] [--quiet] [--debug]
    pixelmend run --recipe FILE INPUT... -o OUTPUT [...]
    pixelmend batch RECIPE INPUT... -o OUT_DIR [--workers N] [--ray ADDRESS|local]
                    [--recursive] [--dry-run]
    pixelmend bench SUITE --data DIR [--limit N] [--ops a,b] [--json FILE] [--threads N]

The ``pixelmend`` console script is :mod:`desktop.launcher`: it sends these commands here and
opens the editor for anything else (no argument, or image paths). This module never imports the
desktop, so the engine's command line works in an installation without Qt.
Exit codes: 0 success, 1 a file failed, 2 a usage error, 130 cancelled (Ctrl+C).
"""


from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.cli.batch_cmd import batch_parser, cmd_batch
from engine.cli.bench_cmd import bench_parser, cmd_bench
from engine.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Parser,
    UsageError,
    print_error,
)
from engine.cli.ops_cmd import cmd_ops, ops_parser
from engine.cli.progress_bar import ProgressBar
from engine.cli.run_cmd import cmd_run, run_parser
from engine.version import __version__

__all__ = ["COMMANDS", "Command", "ProgressBar", "main"]


def _root_parser() -> Parser:
    commands = "\n".join(f"  {PROG} {name:<6} {command.summary}"
                         for name, command in COMMANDS.items())
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [-h] [--version] {{{','.join(COMMANDS)}}} ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="PixelMend repairs images offline. These commands run without the editor;\n"
                    f"'{PROG}' with no command, or with image paths, opens the editor.",
        epilog=f"commands:\n{commands}\n\nRun '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("rest", nargs="*", metavar="COMMAND", help=argparse.SUPPRESS)
    return parser


def cmd_none(args: argparse.Namespace) -> int:
    """No command: the engine has no editor to open (it never imports the desktop)."""
    if args.rest:
        word = args.rest[0]
        raise UsageError(f"unknown command {word!r}; commands are: {', '.join(COMMANDS)} "
                         f"(image paths open the editor, which the '{PROG}' launcher starts)")
    _root_parser().print_help()
    return EXIT_USAGE




@dataclass(frozen=True)
class Command:
    """A subcommand: a one-line summary, its parser (given the command's arguments, to peek at),
    and the function that runs it."""

    summary: str
    parser: Callable[[Sequence[str]], Parser]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "ops": Command("list the ops and their parameters", ops_parser, cmd_ops),
    "run": Command("run an op (or a recipe) on files or folders", run_parser, cmd_run),
    "batch": Command("run a recipe over many files: resumable, parallel, on Ray",
                     batch_parser, cmd_batch),
    "bench": Command("measure the quality and speed of ops", bench_parser, cmd_bench),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; ``sys.argv[1:]`` when omitted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if argv[:1] == ["--debug"] and argv[1:2] and argv[1] in COMMANDS:
        argv = [argv[1], "--debug", *argv[2:]]  # `pixelmend --debug run …` = `run --debug …`
    try:
        if argv and argv[0] in COMMANDS:
            command = COMMANDS[argv[0]]
            return command.run(command.parser(argv[1:]).parse_args(argv[1:]))
        return cmd_none(_root_parser().parse_args(argv))
    except SystemExit as exit_:  # --help and --version
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except UsageError as error:
        print_error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:  # the last resort: one line, the traceback only with --debug
        print_error(f"unexpected {type(error).__name__}: {error}"
               + ("" if debug else " (run with --debug for details)"))
        if debug:
            traceback.print_exc()
        return EXIT_FAILED


def console_main() -> None:  # pragma: no cover - a wrapper for `python -m engine.cli`
    """Entry point that exits with :func:`main`'s code."""
    sys.exit(main())
