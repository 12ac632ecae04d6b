"""What the benchmark suites share: image folders and seeds, the device and log options, the
summary statistics and the JSON report."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from engine import io

__all__ = ["BenchError", "device_from_args", "environment", "image_seed", "jsonable",
           "list_images", "load_truth", "log", "mean", "summarise", "write_json_report"]


class BenchError(ValueError):
    """A benchmark cannot start: unknown suite, missing data folder, unknown op name."""


def list_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """The supported images directly inside ``folder``, sorted, the first ``limit`` of them."""
    path = Path(folder)
    if not path.is_dir():
        raise BenchError(f"{path}: no such data folder")
    if limit is not None and limit < 1:
        raise BenchError("--limit must be at least 1")
    images = io.list_images(path, limit=limit)
    if not images:
        raise BenchError(f"{path}: no supported images in this folder")
    return images


def image_seed(path: Path, base: int = 0) -> int:
    """A seed fixed by the file name (not its position), so ``--limit`` never changes it."""
    return (zlib.crc32(path.name.encode("utf-8")) + 7919 * base) % 2**31


def load_truth(path: Path) -> np.ndarray:
    """The image as float32 ``H×W×C`` in [0, 1], alpha dropped."""
    from engine.core.pixels import split_alpha, to_float
    from engine.io import load

    colour, _ = split_alpha(load(path).pixels)
    return to_float(colour)



def mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def log(args: argparse.Namespace, message: str, stream: TextIO | None = None) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=stream or sys.stderr, flush=True)


def device_from_args(args: argparse.Namespace) -> str | None:
    """The device kind asked for with ``--device`` (validated), or None to let ops choose."""
    wanted = getattr(args, "device", None)
    if not wanted:
        return None
    from engine.core.device import DeviceError, select_device

    try:
        return str(select_device(wanted))
    except DeviceError as error:
        raise BenchError(str(error)) from None


def summarise(records: Sequence[Mapping[str, float]]) -> dict[str, float | None]:
    """Mean of every score over the images; median of the seconds per megapixel."""
    keys = sorted({key for record in records for key in record})
    summary: dict[str, float | None] = {}
    for key in keys:
        values = [record[key] for record in records if key in record]
        summary[key] = float(statistics.median(values)) if key == "s_per_mp" else mean(values)
    return summary


def write_json_report(args: argparse.Namespace, suite: str, rows: Sequence[Mapping[str, Any]],
                      **extra: Any) -> None:
    """Save a suite's raw rows to ``--json FILE`` when it was given (every suite uses this)."""
    if not getattr(args, "json", None):
        return
    report = {"suite": suite, "data": str(args.data), "seed": getattr(args, "seed", 0),
              "environment": environment(), "rows": list(rows), **extra}
    Path(args.json).write_text(json.dumps(report, indent=2, default=jsonable) + "\n",
                               encoding="utf-8")
    log(args, f"raw numbers written to {args.json}")


def environment() -> dict[str, str]:
    from engine.version import __version__

    return {"engine": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "opencv": cv2.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
