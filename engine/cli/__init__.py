"""The headless ``pixelmend`` commands: ``ops``, ``run`` and ``bench``.

Synopsis::

    pixelmend --version
    pixelmend ops [--json]                      list every op and its parameters
    pixelmend run OP INPUT... -o OUTPUT [--mask MASK] [--set NAME=VALUE ...] [--overwrite]
                  [--recursive] [--format png|tif|jpg|webp] [--device auto|cpu|cuda|mps]
                  [--max-pixels N] [--quiet] [--debug]
    pixelmend run --recipe FILE INPUT... -o OUTPUT [...]
    pixelmend bench SUITE --data DIR [--limit N] [--ops a,b] [--json FILE] [--threads N]

The ``pixelmend`` console script is :mod:`desktop.launcher`: it sends these commands here and
opens the editor for anything else (no argument, or image paths). This module never imports the
desktop, so the engine's command line works in an installation without Qt.
Exit codes: 0 success, 1 a file failed, 2 a usage error, 130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import signal
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from engine.core.progress import Throttle
from engine.version import __version__

__all__ = ["ProgressBar", "main"]

PROG = "pixelmend"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
FORMATS = {"png": ".png", "tif": ".tif", "jpg": ".jpg", "webp": ".webp"}


class UsageError(Exception):
    """The command line asks for something impossible; exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that reports a mistake as one line instead of a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _error(message: str, stream: TextIO | None = None) -> None:
    print(f"{PROG}: error: {message}", file=stream or sys.stderr)


# --------------------------------------------------------------------------------------------
# Progress bar


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


# --------------------------------------------------------------------------------------------
# No command: help, version, or a pointer to the editor


def _root_parser() -> _Parser:
    commands = "\n".join(f"  {PROG} {name:<6} {command.summary}"
                         for name, command in COMMANDS.items())
    parser = _Parser(
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


# --------------------------------------------------------------------------------------------
# pixelmend ops


def _ops_parser(argv: Sequence[str] = ()) -> _Parser:
    parser = _Parser(prog=f"{PROG} ops", description="List every op with its parameters.")
    parser.add_argument("--json", action="store_true",
                        help="print the op descriptions as JSON (a list of objects)")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _format_spec(spec: Mapping[str, Any]) -> str:
    """One line for a parameter: ``name=default  kind, bounds. help``."""
    kind = spec["kind"]
    facts = [kind]
    low, high = spec.get("minimum"), spec.get("maximum")
    has_low = low is not None and not (isinstance(low, float) and math.isinf(low)) \
        and low > -(2**31)
    has_high = high is not None and not (isinstance(high, float) and math.isinf(high)) \
        and high < 2**31 - 1
    if has_low and has_high:
        facts.append(f"{_format_number(low)}…{_format_number(high)}")
    elif has_low:
        facts.append(f">= {_format_number(low)}")
    elif has_high:
        facts.append(f"<= {_format_number(high)}")
    if spec.get("odd"):
        facts.append("odd")
    if spec.get("choices"):
        facts.append("one of " + "|".join(spec["choices"]))
    default = spec["default"]
    default_text = str(default).lower() if isinstance(default, bool) else _format_number(default)
    head = f"{spec['name']}={default_text}"
    tail = f"({', '.join(facts)})"
    if spec.get("help"):
        tail += f" {spec['help']}"
    return f"{head:<22} {tail}"


def cmd_ops(args: argparse.Namespace) -> int:
    """Print every registered op, as text or as JSON."""
    from engine.ops import all_ops

    ops = all_ops()
    if args.json:
        print(json.dumps([op.describe() for op in ops], indent=2))
        return EXIT_OK
    category = None
    for op in ops:
        info = op.describe()
        if info["category"] != category:
            print(f"{info['category']}:" if category is None else f"\n{info['category']}:")
            category = info["category"]
        print(f"  {info['name']} — {info['title']}")
        if info["description"]:
            for line in textwrap.wrap(info["description"], 90):
                print(f"      {line}")
        mask = "needs a mask" if info["needs_mask"] else f"mask: {info['mask']}"
        print(f"      {mask}; devices: {', '.join(info['devices'])}")
        for spec in info["params"]:
            lines = textwrap.wrap(_format_spec(spec), 94, subsequent_indent=" " * 31)
            for line in lines:
                print(f"      --set {line}" if line is lines[0] else f"      {line}")
    print(f"\n{len(ops)} ops. Run one with: {PROG} run OP INPUT -o OUTPUT [--set NAME=VALUE]")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# pixelmend run


def _run_parser(argv: Sequence[str] = ()) -> _Parser:
    parser = _Parser(
        prog=f"{PROG} run",
        usage=f"{PROG} run OP INPUT... -o OUTPUT [options]\n"
              f"       {PROG} run --recipe FILE INPUT... -o OUTPUT [options]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Run one op on image files or folders.

            INPUT is an image file or a folder; a folder contributes the supported images
            directly inside it (all levels with --recursive), in sorted order. With one input
            file, OUTPUT is the output file (or an existing folder to write into). With several
            inputs or a folder, OUTPUT is a folder, created if missing; each output keeps its
            input's name (and sub-folder with --recursive) and extension unless --format is
            given. Alpha, bit depth (8/16), ICC profile and EXIF of each input are kept.
            Ops that propose a mask (defect detection, template matching) write it as an
            8-bit PNG, white = proposed, black = not.

            With --recipe, the op and its params come from the recipe file and every
            positional argument is an input; --set overrides the recipe's params.
            An existing output is never replaced without --overwrite, and an input file is
            never overwritten."""),
        epilog=f"examples:\n  {PROG} run adaptive_median scan.png -o clean.png\n"
               f"  {PROG} run median photos/ -o cleaned/ --set size=5 --format png\n"
               f"  {PROG} run --recipe denoise.json photos/ -o fixed/ --set h=12\n"
               f"  {PROG} run inpaint photo.jpg --mask scratch.png -o fixed.jpg",
    )
    parser.add_argument("positionals", nargs="*", metavar="OP INPUT",
                        help="the op name (omitted with --recipe), then input files or folders")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output file (one input file) or folder")
    parser.add_argument("--mask", metavar="MASK",
                        help="mask image used for every input (white = repair here); it must "
                             "have the input's size")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="NAME=VALUE", help="set a parameter (repeatable); see "
                                                   f"'{PROG} ops'")
    parser.add_argument("--recipe", metavar="FILE",
                        help='recipe JSON {"op": ..., "params": {...}} giving the op and params')
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--recursive", action="store_true",
                        help="also take images from sub-folders of folder inputs")
    parser.add_argument("--format", choices=sorted(FORMATS),
                        help="output format for folder output (default: the input's own)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="compute device for ops that can use one (default: "
                             "PIXELMEND_DEVICE or the best available)")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help="refuse images with more than N pixels (0 = no limit; default: "
                             "PIXELMEND_MAX_PIXELS or 250 million)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no per-file summary (errors still show)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return parser


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes."""

    source: Path
    target: Path


@dataclass(frozen=True)
class RunPlan:
    """Everything ``run`` decided before touching the first file."""

    op: str
    params: dict[str, Any]
    jobs: list[Job]
    mask_path: Path | None
    device: str | None
    overwrite: bool
    max_pixels: int | None


def _resolve_op_and_params(args: argparse.Namespace) -> tuple[str, list[str], dict[str, Any]]:
    """The op name, the input paths and the validated params (recipe, then ``--set``)."""
    from engine.core.params import ParamError, parse_param_text, resolve_params
    from engine.core.recipe import RecipeError, load_recipe
    from engine.ops import OpError, get_op

    positionals = list(args.positionals)
    params: dict[str, Any] = {}
    if args.recipe:
        try:
            recipe = load_recipe(args.recipe)
        except RecipeError as error:
            raise UsageError(str(error)) from None
        op_name, params = recipe.op, dict(recipe.params)
    elif positionals:
        op_name = positionals.pop(0)
    else:
        raise UsageError(f"name an op and at least one input (see '{PROG} run --help')")
    if not positionals:
        raise UsageError(f"give at least one input file or folder (see '{PROG} run --help')")
    try:
        op_cls = get_op(op_name)
        for assignment in args.assignments:
            name, value = parse_param_text(op_cls.params, assignment)
            params[name] = value
        resolve_params(op_cls.params, params)
    except (OpError, ParamError) as error:
        raise UsageError(f"{op_name}: {error}" if isinstance(error, ParamError) else str(error)) \
            from None
    if op_cls.needs_mask and not args.mask:
        raise UsageError(f"{op_name} needs a mask: give --mask FILE (white = repair here)")
    return op_name, positionals, params


def _collect_inputs(paths: Sequence[str], recursive: bool) -> list[tuple[Path, Path]]:
    """Expand files and folders into ``(file, path relative to its folder)`` pairs."""
    from engine.io import is_supported

    found: list[tuple[Path, Path]] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            images = sorted(p for p in pattern if p.is_file() and is_supported(p))
            if not images:
                raise UsageError(f"{path}: no supported images in this folder"
                                 + ("" if recursive else " (use --recursive for sub-folders)"))
            found.extend((image, image.relative_to(path)) for image in images)
        elif path.exists():
            found.append((path, Path(path.name)))
        else:
            raise UsageError(f"{path}: no such file or folder")
    return found


def _plan_jobs(inputs: Sequence[str], output: str, recursive: bool,
               fmt: str | None) -> tuple[list[Job], bool]:
    """Decide the output path of every input file; also say whether OUTPUT is a folder."""
    from engine.io import is_supported

    files = _collect_inputs(inputs, recursive)
    out = Path(output)
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not out.is_dir()
    if single:
        if fmt and out.suffix.lower().lstrip(".") not in {fmt, "jpeg" if fmt == "jpg" else fmt,
                                                          "tiff" if fmt == "tif" else fmt}:
            raise UsageError(f"OUTPUT {out} names one file, so its extension sets the format; "
                             "drop --format or change the extension")
        if not out.parent.is_dir():
            raise UsageError(f"{out.parent}: the output's folder does not exist")
        return [Job(files[0][0], out)], False
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: with several inputs or a folder, OUTPUT must be a folder")
    if not out.exists() and is_supported(out):
        raise UsageError(f"{out} looks like a file name, but several inputs or a folder need an "
                         "output folder; name a folder, or give one input file")
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for source, relative in files:
        target = out / relative
        if fmt:
            target = target.with_suffix(FORMATS[fmt])
        key = Path(str(target).lower())
        if key in seen:
            raise UsageError(f"{source} and {seen[key]} would both be written to {target}")
        seen[key] = source
        jobs.append(Job(source, target))
    return jobs, True


def _check_target(job: Job, target: Path, overwrite: bool) -> None:
    if target.resolve() == job.source.resolve():
        raise FileExistsError(f"{job.source}: the output is the input file itself; "
                              "write to another file or folder")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; use --overwrite to replace it")


def _process(job: Job, plan: RunPlan, bar: ProgressBar, cancel: Any,
             masks: dict[tuple[int, int], Any]) -> tuple[Path, str]:
    """Load, repair and save one file; return the written path and a note for the summary."""
    import numpy as np

    from engine import io
    from engine.core.pixels import from_float, join_alpha, split_alpha, to_float
    from engine.core.progress import sub_range
    from engine.ops import OpError, run_op

    _check_target(job, job.target, plan.overwrite)
    loaded = io.load(job.source, max_pixels=plan.max_pixels)
    bar(0.05, "loaded")
    colour, alpha = split_alpha(loaded.pixels)
    image = to_float(colour)
    mask = None
    if plan.mask_path is not None:
        shape = image.shape[:2]
        if shape not in masks:
            masks[shape] = io.read_mask(plan.mask_path, shape)
        mask = masks[shape]
    cancel.raise_if_cancelled()
    result = run_op(plan.op, image, mask, plan.params, progress=sub_range(bar, 0.05, 0.95),
                    cancel=cancel, device=plan.device)
    cancel.raise_if_cancelled()
    bar(0.95, "saving")
    if result.image is None:
        if result.mask is None:
            raise OpError(f"{plan.op} returned neither an image nor a mask")
        target = job.target.with_suffix(".png")
        if target != job.target:
            _check_target(job, target, plan.overwrite)
        proposal = np.asarray(result.mask, dtype=bool)
        pixels = from_float(to_float(proposal), np.uint8)  # white = proposed
        written = io.save(target, pixels, overwrite=plan.overwrite)
        return Path(written), f"mask proposal, {proposal.mean() * 100:.2f}% marked"
    if alpha is not None and alpha.shape[:2] != result.image.shape[:2]:
        alpha = None  # a generated image of another size has no alpha of its own
    pixels = join_alpha(from_float(result.image, loaded.pixels.dtype), alpha)
    flatten = alpha is not None and job.target.suffix.lower() in (".jpg", ".jpeg", ".bmp") \
        and bool((alpha < np.iinfo(alpha.dtype).max).any())
    written = io.save(job.target, pixels, icc_profile=loaded.icc_profile, exif=loaded.exif,
                           overwrite=plan.overwrite, flatten_alpha=flatten)
    note = f"transparency flattened onto white ({job.target.suffix} has no alpha)" if flatten \
        else ""
    return Path(written), note


def _describe_error(error: BaseException, source: Path | None = None) -> str:
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
def _ctrl_c_cancels(cancel: Any) -> Iterator[None]:
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


def _expected_errors() -> tuple[type[BaseException], ...]:
    from engine.core.device import DeviceError

    return (ValueError, OSError, DeviceError)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one op on every input and write the results."""
    from engine.core.progress import Cancelled, CancelToken
    from engine.ops import get_op

    op_name, inputs, params = _resolve_op_and_params(args)
    if args.mask and not Path(args.mask).is_file():
        raise UsageError(f"{args.mask}: no such mask file")
    if args.max_pixels is not None and args.max_pixels < 0:
        raise UsageError("--max-pixels must be a number of pixels (0 = no limit)")
    op_cls = get_op(op_name)
    if args.mask and op_cls.mask_use == "ignore" and not args.quiet:
        print(f"{PROG}: note: {op_name} does not use a mask; --mask is ignored", file=sys.stderr)
    device = None
    if args.device:
        from engine.core.device import DeviceError, select_device

        try:
            device = str(select_device(args.device))  # a missing device is a usage error
        except DeviceError as error:
            raise UsageError(str(error)) from None
    jobs, to_folder = _plan_jobs(inputs, args.output, args.recursive, args.format)
    if to_folder:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    plan = RunPlan(op_name, params, jobs, Path(args.mask) if args.mask else None, device,
                   args.overwrite, args.max_pixels)

    bar = ProgressBar(len(jobs), enabled=not args.quiet)
    cancel = CancelToken()
    masks: dict[tuple[int, int], Any] = {}
    failed = written = 0
    started = time.perf_counter()
    with _ctrl_c_cancels(cancel):
        for index, job in enumerate(jobs, 1):
            if cancel.cancelled:
                break
            bar.begin(index, job.source.name)
            file_started = time.perf_counter()
            try:
                if to_folder and job.target.parent != Path(args.output):
                    job.target.parent.mkdir(parents=True, exist_ok=True)
                path, note = _process(job, plan, bar, cancel, masks)
            except (Cancelled, KeyboardInterrupt):
                bar.clear()
                cancel.cancel()
                break
            except _expected_errors() as error:
                bar.clear()
                _error(_describe_error(error, job.source))
                failed += 1
                continue
            except Exception as error:
                bar.clear()
                _error(f"{job.source}: unexpected {type(error).__name__}: {error}"
                       + ("" if args.debug else " (run with --debug for details)"))
                if args.debug:
                    traceback.print_exc()
                failed += 1
                continue
            bar.clear()
            written += 1
            if not args.quiet:
                seconds = time.perf_counter() - file_started
                extra = f", {note}" if note else ""
                print(f"wrote {path} ({seconds:.2f} s{extra})", flush=True)
    if cancel.cancelled:
        print(f"{PROG}: cancelled after {written} of {len(jobs)} files; no partial file "
              "was written", file=sys.stderr)
        return EXIT_CANCELLED
    if failed:
        if len(jobs) > 1:
            print(f"{PROG}: {failed} of {len(jobs)} files failed", file=sys.stderr)
        return EXIT_FAILED
    if len(jobs) > 1 and not args.quiet:
        print(f"{len(jobs)} files written in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# pixelmend bench


def _bench_parser(argv: Sequence[str] = ()) -> _Parser:
    from engine.bench import add_arguments, suite_names

    parser = _Parser(prog=f"{PROG} bench",
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


# --------------------------------------------------------------------------------------------
# Dispatch


@dataclass(frozen=True)
class Command:
    """A subcommand: a one-line summary, its parser (given the command's arguments, to peek at),
    and the function that runs it."""

    summary: str
    parser: Callable[[Sequence[str]], _Parser]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "ops": Command("list the ops and their parameters", _ops_parser, cmd_ops),
    "run": Command("run an op (or a recipe) on files or folders", _run_parser, cmd_run),
    "bench": Command("measure the quality and speed of ops", _bench_parser, cmd_bench),
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
        _error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:  # the last resort: one line, the traceback only with --debug
        _error(f"unexpected {type(error).__name__}: {error}"
               + ("" if debug else " (run with --debug for details)"))
        if debug:
            traceback.print_exc()
        return EXIT_FAILED


def console_main() -> None:  # pragma: no cover - a wrapper for `python -m engine.cli`
    """Entry point that exits with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
