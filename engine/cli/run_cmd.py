"""``pixelmend run``: one op, or a saved recipe, on image files and folders."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    Parser,
    UsageError,
    ctrl_c_cancels,
    describe_error,
    expected_errors,
    print_error,
)
from engine.cli.progress_bar import ProgressBar

__all__ = ["FORMATS", "cmd_run", "run_parser"]

FORMATS = {"png": ".png", "tif": ".tif", "jpg": ".jpg", "webp": ".webp"}


def run_parser(argv: Sequence[str] = ()) -> Parser:
    parser = Parser(
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
    from engine.io import list_images

    found: list[tuple[Path, Path]] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            images = list_images(path, recursive=recursive)
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
    flatten = alpha is not None and not io.keeps_alpha(job.target) \
        and bool((alpha < np.iinfo(alpha.dtype).max).any())
    written = io.save(job.target, pixels, icc_profile=loaded.icc_profile, exif=loaded.exif,
                           overwrite=plan.overwrite, flatten_alpha=flatten)
    note = f"transparency flattened onto white ({job.target.suffix} has no alpha)" if flatten \
        else ""
    return Path(written), note


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
    with ctrl_c_cancels(cancel):
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
            except expected_errors() as error:
                bar.clear()
                print_error(describe_error(error, job.source))
                failed += 1
                continue
            except Exception as error:
                bar.clear()
                print_error(f"{job.source}: unexpected {type(error).__name__}: {error}"
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


