"""``pixelmend run``: one op, or a saved recipe, on image files and folders."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from engine.batch.plan import FORMATS
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
from engine.core.recipe import Recipe

__all__ = ["cmd_run", "run_parser"]


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

            With --recipe, the op (or the steps, run one after another) and the params come
            from the recipe file, or a shipped recipe by name (restore-old-photo), and every
            positional argument is an input; --set overrides a one-op recipe's params.
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
                        help='recipe JSON: {"op": ..., "params": {...}}, or {"steps": [...]}; '
                             "or the name of a shipped recipe (restore-old-photo)")
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
                             "PIXELMEND_MAX_PIXELS or 250 million); an image that will not fit "
                             "in the memory available is refused too (PIXELMEND_MAX_MEMORY, "
                             "e.g. 8G, sets that budget)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no per-file summary (errors still show)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return parser


def _resolve_recipe(args: argparse.Namespace) -> tuple[Recipe, list[str]]:
    """The recipe (from ``--recipe``, or the op named first with ``--set``) and the inputs."""
    from engine.core.params import ParamError, parse_param_text, resolve_params
    from engine.core.recipe import RecipeError, Step, load_recipe, shipped_recipes
    from engine.ops import OpError, get_op
    from engine.ops.pipeline import check_recipe

    positionals = list(args.positionals)
    if args.recipe:
        path = shipped_recipes().get(args.recipe, Path(args.recipe))
        try:
            recipe = load_recipe(path)
        except RecipeError as error:
            raise UsageError(str(error)) from None
    elif positionals:
        recipe = Recipe(positionals.pop(0), {})
    else:
        raise UsageError(f"name an op and at least one input (see '{PROG} run --help')")
    if not positionals:
        raise UsageError(f"give at least one input file or folder (see '{PROG} run --help')")
    if args.assignments:
        if len(recipe.steps) != 1:
            raise UsageError("--set changes a one-op recipe; edit a recipe of several steps "
                             "in its file")
        step = recipe.steps[0]
        params = dict(step.params)
        try:
            specs = get_op(step.op).params
            for assignment in args.assignments:
                name, value = parse_param_text(specs, assignment)
                params[name] = value
            resolve_params(specs, params)
        except (OpError, ParamError) as error:
            raise UsageError(f"{step.op}: {error}" if isinstance(error, ParamError)
                             else str(error)) from None
        recipe = Recipe(steps=[Step(step.op, params, step.mask)], name=recipe.name,
                        engine=recipe.engine)
    try:
        check_recipe(recipe)
    except (OpError, ParamError) as error:
        raise UsageError(str(error)) from None
    first = get_op(recipe.steps[0].op)
    if first.needs_mask and not args.mask:
        raise UsageError(f"{first.name} needs a mask: give --mask FILE (white = repair here)")
    return recipe, positionals


def cmd_run(args: argparse.Namespace) -> int:
    """Run one op, or a recipe, on every input and write the results."""
    from engine.batch.plan import PlanError, plan_outputs
    from engine.batch.process import MaskCache, process_file
    from engine.core.progress import Cancelled, CancelToken
    from engine.ops import get_op

    recipe, inputs = _resolve_recipe(args)
    if args.mask and not Path(args.mask).is_file():
        raise UsageError(f"{args.mask}: no such mask file")
    if args.max_pixels is not None and args.max_pixels < 0:
        raise UsageError("--max-pixels must be a number of pixels (0 = no limit)")
    if args.mask and all(get_op(step.op).mask_use == "ignore" for step in recipe.steps) \
            and not args.quiet:
        print(f"{PROG}: note: {recipe.title()} does not use a mask; --mask is ignored",
              file=sys.stderr)
    device = _checked_device(args.device)
    try:
        jobs, to_folder = plan_outputs(inputs, args.output, recursive=args.recursive,
                                       fmt=args.format)
    except PlanError as error:
        raise UsageError(str(error)) from None
    if to_folder:
        Path(args.output).mkdir(parents=True, exist_ok=True)

    bar = ProgressBar(len(jobs), enabled=not args.quiet)
    cancel = CancelToken()
    masks = MaskCache(Path(args.mask) if args.mask else None)
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
                result = process_file(job, recipe, masks=masks, device=device,
                                      overwrite=args.overwrite, max_pixels=args.max_pixels,
                                      progress=bar, cancel=cancel)
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
                extra = f", {result.note}" if result.note else ""
                print(f"wrote {result.path} ({seconds:.2f} s{extra})", flush=True)
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


def _checked_device(wanted: str | None) -> str | None:
    """``--device`` checked against this machine (a missing device is a usage error)."""
    if not wanted:
        return None
    from engine.core.device import DeviceError, select_device

    try:
        return str(select_device(wanted))
    except DeviceError as error:
        raise UsageError(str(error)) from None
