"""``pixelmend batch``: a recipe over thousands of files, resumable, on all cores or on Ray."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from engine.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    Parser,
    UsageError,
    print_error,
)

__all__ = ["BatchProgress", "batch_parser", "cmd_batch"]


def batch_parser(argv: Sequence[str] = ()) -> Parser:
    from engine.batch.plan import FORMATS

    parser = Parser(
        prog=f"{PROG} batch",
        usage=f"{PROG} batch RECIPE INPUT... -o OUT_DIR [options]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Run a recipe on every image of the inputs, into OUT_DIR, in parallel.

            RECIPE is a recipe file ({"op": ..., "params": {...}} or {"steps": [...]}) or the
            name of a shipped recipe (restore-old-photo). INPUT are files and folders (all
            levels with --recursive); each output keeps its input's name and sub-folder.
            A journal in OUT_DIR records every finished file: run the same command again after
            a crash, a kill or Ctrl+C and it continues, skipping what is finished, and redoing
            a file whose input or recipe changed. Outputs are written atomically. At the end
            OUT_DIR holds pixelmend-report.json and pixelmend-report.csv (the failures and
            their reasons)."""),
        epilog=f"examples:\n  {PROG} batch restore-old-photo scans/ -o restored/ --recursive\n"
               f"  {PROG} batch denoise.json photos/ -o clean/ --workers 2 --dry-run\n"
               f"  {PROG} batch restore-old-photo /shared/scans -o /shared/out --ray auto",
    )
    parser.add_argument("recipe", metavar="RECIPE", help="recipe file or shipped recipe name")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                        help="output folder (created)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: the CPU cores)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads per worker (default: the cores divided among them)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run each file as a task on a Ray cluster (an address, 'auto', "
                             "or 'local' to start one here); needs pip install "
                             "pixelmend[cluster]")
    parser.add_argument("--gpus-per-task", type=float, default=0.0, metavar="G",
                        help="with --ray: GPUs each file's task asks for (e.g. 0.25)")
    parser.add_argument("--recursive", action="store_true",
                        help="also take images from sub-folders of folder inputs")
    parser.add_argument("--format", choices=sorted(FORMATS),
                        help="output format (default: each input's own)")
    parser.add_argument("--mask", metavar="MASK",
                        help="mask image used for every input of its size (white = repair)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="compute device for ops that can use one")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help="refuse images with more than N pixels (0 = no limit)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be done and why, and change nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return parser


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class BatchProgress:
    """A progress line: files done of all, the rate, the time left and the failures so far.

    Redrawn in place on a terminal (at most twice a second), a plain line every ``interval``
    seconds otherwise.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True,
                 interval: float = 30.0, clock=time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self.interval = 0.5 if self.interactive else interval
        self.clock = clock
        self.started = clock()
        self.last = -float("inf")
        self.failed = 0
        self._drawn = 0

    def line(self, finished: int, total: int) -> str:
        """The text for ``finished`` of ``total`` files."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = finished / elapsed
        left = (total - finished) / rate if rate > 0 else float("inf")
        eta = _duration(left) if left != float("inf") else "?"
        per = f"{rate * 60:.1f} files/min" if rate < 1 else f"{rate:.2f} files/s"
        failed = f", {self.failed} failed" if self.failed else ""
        return f"[{finished}/{total}] {per}, {eta} left{failed}"

    def update(self, finished: int, total: int, failed: bool = False) -> None:
        """Record one more finished (or failed) file and redraw when it is time."""
        self.failed += failed
        if not self.enabled:
            return
        now = self.clock()
        if now - self.last < self.interval and finished < total:
            return
        self.last = now
        text = self.line(finished, total)
        if self.interactive:
            self.stream.write("\r" + text.ljust(self._drawn))
            self._drawn = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """End the in-place line."""
        if self.enabled and self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a recipe over the inputs into OUT_DIR; resumable."""
    import os
    import signal
    import threading

    from engine.batch.journal import BatchLocked
    from engine.batch.plan import PlanError, plan_outputs
    from engine.batch.runner import BatchOptions, PlannedFile, run_batch
    from engine.cli.run_cmd import _checked_device
    from engine.core.params import ParamError
    from engine.core.recipe import RecipeError, load_recipe, shipped_recipes
    from engine.ops import OpError

    try:
        recipe = load_recipe(shipped_recipes().get(args.recipe, Path(args.recipe)))
    except RecipeError as error:
        raise UsageError(str(error)) from None
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.mask and not Path(args.mask).is_file():
        raise UsageError(f"{args.mask}: no such mask file")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: OUT_DIR must be a folder")
    try:
        jobs, _ = plan_outputs(args.inputs, out_dir, recursive=args.recursive,
                               fmt=args.format, folder=True)
    except PlanError as error:
        raise UsageError(str(error)) from None
    options = BatchOptions(workers=args.workers or os.cpu_count() or 1, threads=args.threads,
                           ray=args.ray, gpus_per_task=args.gpus_per_task,
                           device=_checked_device(args.device), overwrite=True,
                           max_pixels=args.max_pixels,
                           mask=Path(args.mask) if args.mask else None)
    progress = BatchProgress(enabled=not args.quiet)

    def show_plan(planned: list[PlannedFile]) -> None:
        todo = sum(entry.action == "do" for entry in planned)
        if args.dry_run:
            for entry in planned:
                print(f"{entry.action:4} {entry.job.source} -> {entry.job.target} "
                      f"({entry.reason})")
        if not args.quiet or args.dry_run:
            where = f"Ray ({args.ray})" if args.ray else f"{options.workers} worker(s) × " \
                f"{options.threads_per_worker()} thread(s)"
            print(f"{recipe.title()}: {todo} to do, {len(planned) - todo} finished before; "
                  f"{where}", file=sys.stderr)

    def show(record, finished: int, total: int) -> None:
        if record.status != "done":
            progress.clear()
            print_error(record.error)
        progress.update(finished, total, record.status != "done")

    stopping = threading.Event()

    def interrupt(signum, frame) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        print(f"\n{PROG}: stopping after the files in progress (Ctrl+C again to abandon "
              "them; the next run continues)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        report = run_batch(jobs, recipe, out_dir, options, dry_run=args.dry_run,
                           on_plan=show_plan, on_record=show, stop=stopping.is_set)
    except (OpError, ParamError, BatchLocked, ImportError) as error:
        raise UsageError(str(error)) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        progress.clear()
    if args.dry_run:
        return EXIT_OK
    failed = len(report.failed)
    print(f"{report.done} written, {failed} failed, {report.skipped} finished before, in "
          f"{_duration(report.seconds)}; report: {out_dir / 'pixelmend-report.csv'}",
          file=sys.stderr)
    if report.stopped:
        return EXIT_CANCELLED
    return EXIT_FAILED if failed else EXIT_OK
