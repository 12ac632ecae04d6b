"""The command-line flags every training recipe has, and the body of a recipe's ``main``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_export_arguments", "add_run_arguments", "add_schedule_arguments", "run_main"]


def add_run_arguments(parser: argparse.ArgumentParser, *, configs: Sequence[str],
                      run_dir_help: str, data: Path, data_help: str) -> None:
    """``--config``, ``--run-dir``, ``--data``."""
    parser.add_argument("--config", choices=sorted(configs), default="cpu")
    parser.add_argument("--run-dir", type=Path, default=None, help=run_dir_help)
    parser.add_argument("--data", type=Path, default=data, help=data_help)


def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    """``--steps``, ``--minutes``, ``--resume``, ``--device``, ``--threads``, ``--seed``,
    ``--init-from``."""
    parser.add_argument("--steps", type=int, default=None, help="override the schedule length")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop cleanly after this many minutes and save")
    parser.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start a new run from these weights (.pt checkpoint or exported "
                             ".safetensors) instead of random ones")


def add_export_arguments(parser: argparse.ArgumentParser, model_name: str | None, *,
                         default_help: str | None = None) -> None:
    """``--export``, ``--checkpoint``, ``--name``, ``--out``, ``--quality``.

    ``model_name`` is the default ``--name``; ``None`` leaves the choice to the recipe's export
    (described by ``default_help``)."""
    parser.add_argument("--export", action="store_true",
                        help="export the run's best checkpoint to resources/models and exit")
    parser.add_argument("--checkpoint", default="best.pt", help="checkpoint to export")
    parser.add_argument("--name", default=model_name,
                        help=f"manifest name of the exported model (default: "
                             f"{default_help or model_name})")
    parser.add_argument("--out", type=Path, default=None, help="models folder to export into")
    parser.add_argument("--quality", type=Path, default=None,
                        help="JSON of measured benchmark figures to put in the manifest")


def run_main(args: argparse.Namespace, run_dir: Path, export: Callable[..., dict[str, Any]],
             train: Callable[[], dict[str, Any]]) -> int:
    """The common body of a recipe's ``main``: set threads, then export or train and print.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed flags (see the ``add_*_arguments`` functions).
    run_dir : Path
        The run folder.
    export : callable
        The recipe's ``export(run_dir, out_dir, *, name, checkpoint, quality)``.
    train : callable
        Trains with the parsed flags and returns the summary.
    """
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.export:
        quality = json.loads(args.quality.read_text()) if args.quality else None
        entry = export(run_dir, args.out, name=args.name, checkpoint=args.checkpoint,
                       quality=quality)
        print(json.dumps(entry, indent=2))
        return 0
    print(json.dumps(train()))
    return 0
