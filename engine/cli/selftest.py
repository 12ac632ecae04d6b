"""A quick check that an installed PixelMend works: ``pixelmend --self-test``.

It loads every shipped model (verifying its checksum), then runs every registered op once on a
small synthetic image with the op's default parameters, shortened where a default would make
the check slow (training budgets at their minimum, generated images small). Each op gets one
line with its time; the exit code is 0 only if every model loaded and every op gave a finite
result in [0, 1]. A frozen app runs the same code, so this is also the packaging smoke test.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from engine.core.params import Float, Int
from engine.core.resources import resources_dir
from engine.ops.registry import Op, OpError, all_ops, run_op
from engine.version import __version__

__all__ = ["SIZE", "run_selftest", "selftest_image", "selftest_mask", "selftest_params"]

SIZE = 64
"""Side of the synthetic test image, in pixels."""

OP_TIME_LIMIT = 120.0
"""Seconds after which a single op is cancelled and counted as failed."""

_BUDGET = re.compile(
    r"(^|_)(seconds|secs|minutes|time_limit|budget|iterations|iters|iter|steps|epochs|rounds)($|_)"
)
_SIZE_NAMES = {"width", "height", "size", "out_width", "out_height", "out_size", "output_width",
               "output_height", "output_size"}
_SMALL = 32


def selftest_image(channels: int = 3, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A deterministic float32 test image: gradients, a disc, a checker patch and mild noise.

    Parameters
    ----------
    channels : int
        1 or 3.
    size : int
        Height and width in pixels.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray
        float32 ``size×size×channels`` in [0, 1].
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    disc = ((xx - 0.35) ** 2 + (yy - 0.4) ** 2) < 0.04
    checker = ((np.arange(size)[:, None] // 4 + np.arange(size)[None, :] // 4) % 2).astype(
        np.float32)
    rgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 + 0.3 * checker * (xx > 0.6)], axis=-1)
    rgb[disc] = (0.85, 0.45, 0.2)
    rgb += np.random.default_rng(seed).normal(0.0, 0.02, rgb.shape).astype(np.float32)
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    if channels == 1:
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.ascontiguousarray(gray[..., None], dtype=np.float32)
    return rgb


def selftest_mask(size: int = SIZE, side: int = 12) -> np.ndarray:
    """A bool ``size×size`` mask with a ``side``-pixel square in the centre."""
    mask = np.zeros((size, size), dtype=bool)
    start = (size - side) // 2
    mask[start:start + side, start:start + side] = True
    return mask


def _lowest(spec: Int | Float) -> Any:
    """The smallest positive value of a budget spec.

    A budget's minimum is used when it is positive; a minimum of 0 (or none) often means
    "automatic" or "unlimited", so the self-test asks for 1 (second, iteration, step) instead.
    """
    minimum = spec.minimum
    if minimum > 0 and math.isfinite(minimum):
        return minimum
    return 1 if isinstance(spec, Int) else min(float(spec.default), 1.0) or 1.0


def _small(spec: Int | Float) -> Any:
    """A small output size for a generating op, within the spec's bounds."""
    value = min(max(_SMALL, spec.minimum), spec.maximum)
    return spec.validate(int(value) if isinstance(spec, Int) else float(value))


def selftest_params(op: type[Op]) -> dict[str, Any]:
    """The parameter overrides the self-test uses for ``op``.

    Training and iteration budgets (names such as ``train_seconds``, ``iterations``, ``steps``)
    go to their minimum, or to 1 where the minimum is 0 (often "automatic"); a generating op's
    width/height/size go to a small size. Everything else keeps its default.
    """
    overrides: dict[str, Any] = {}
    for spec in op.params:
        if not isinstance(spec, Int | Float):
            continue
        name = spec.name.lower()
        if op.generates and name in _SIZE_NAMES:
            overrides[spec.name] = _small(spec)
        elif _BUDGET.search(name):
            value = _lowest(spec)
            try:
                overrides[spec.name] = spec.validate(value)
            except ValueError:
                continue
    return overrides


def _check_array(label: str, array: np.ndarray, unit_range: bool) -> str | None:
    if not isinstance(array, np.ndarray):
        return f"{label} is a {type(array).__name__}, not an array"
    if array.size == 0:
        return f"{label} is empty"
    if array.dtype == bool:
        return None
    values = array.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        return f"{label} holds NaN or infinite values"
    if unit_range and (values.min() < 0.0 or values.max() > 1.0):
        return f"{label} leaves [0, 1] (min {values.min():.4g}, max {values.max():.4g})"
    return None


def _check_result(result: Any, shape: tuple[int, ...], generates: bool) -> str | None:
    """Why a result is wrong, or None when it is fine."""
    if result.image is None and result.mask is None and not result.layers:
        return "returned neither an image, a mask nor layers"
    if result.image is not None:
        problem = _check_array("image", result.image, unit_range=True)
        if problem:
            return problem
        if not generates and result.image.shape[:2] != shape[:2]:
            return f"image shape {result.image.shape} differs from the input {shape}"
    if result.mask is not None:
        if not isinstance(result.mask, np.ndarray) or result.mask.dtype != bool:
            return "mask proposal is not a bool array"
        if result.mask.shape != shape[:2]:
            return f"mask proposal shape {result.mask.shape} differs from {shape[:2]}"
    for key, layer in result.layers.items():
        problem = _check_array(f"layer {key!r}", layer, unit_range=False)
        if problem:
            return problem
    return None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:200]


def _run_one(op: type[Op], limit: float, device: str | None) -> tuple[bool, float, str]:
    """Run one op; return (passed, seconds, note)."""
    from engine.core.progress import CancelToken

    channels = 3 if 3 in op.channels else op.channels[0]
    image = selftest_image(channels)
    mask = selftest_mask() if (op.needs_mask or op.mask_use == "hole") else None
    params = selftest_params(op)
    cancel = CancelToken()
    timer = threading.Timer(limit, cancel.cancel)
    timer.daemon = True
    timer.start()
    started = time.perf_counter()
    try:
        try:
            result = run_op(op.name, image, mask, params, cancel=cancel, device=device)
        except OpError:
            # An op that can take a mask may need one with its defaults (find repeats of the
            # masked patch): an OpError asks the person for input, so give it the mask.
            if mask is not None or op.mask_use not in ("blend", "feather"):
                raise
            mask = selftest_mask()
            result = run_op(op.name, image, mask, params, cancel=cancel, device=device)
    except Exception as error:  # every failure is reported, none is fatal
        seconds = time.perf_counter() - started
        if cancel.cancelled:
            return False, seconds, f"took longer than {limit:g} s"
        note = _one_line(error)
        if os.environ.get("PIXELMEND_SELFTEST_TRACEBACK"):
            note += "\n" + traceback.format_exc()
        return False, seconds, note
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    problem = _check_result(result, image.shape, op.generates)
    if problem:
        return False, seconds, problem
    notes = [f"{key}={value}" for key, value in params.items()]
    if mask is not None:
        notes.insert(0, "mask")
    return True, seconds, f"({', '.join(notes)})" if notes else ""


def _check_runtime(stream: TextIO) -> int:
    """Import the native libraries once (so op timings do not include it); report versions."""
    started = time.perf_counter()
    try:
        import cv2
        import PIL
        import torch

        from engine.core.device import describe_device

        device = describe_device()
    except Exception as error:  # a frozen app missing a library fails here, clearly
        print(f"FAIL  {'runtime':<30} {time.perf_counter() - started:7.2f} s  {_one_line(error)}",
              file=stream)
        return 1
    print(f"  ok  {'runtime':<30} {time.perf_counter() - started:7.2f} s  numpy {np.__version__}, "
          f"torch {torch.__version__}, opencv {cv2.__version__}, Pillow {PIL.__version__}; "
          f"device: {device}", file=stream)
    return 0


def _check_models(stream: TextIO, folder: Path | None) -> int:
    """Load every listed model; print one line each; return the number of failures."""
    from engine.models.weights import WeightsError, list_models, load_state_dict

    try:
        names = list_models(folder)
    except WeightsError as error:
        print(f"FAIL  models: {error}", file=stream)
        return 1
    if not names:
        print("  --  models: no models shipped", file=stream)
        return 0
    failures = 0
    for name in names:
        started = time.perf_counter()
        try:
            state, entry = load_state_dict(name, folder=folder)
            count = sum(int(tensor.numel()) for tensor in state.values())
            finite = all(bool(tensor.isfinite().all()) for tensor in state.values()
                         if tensor.is_floating_point())
            if not state:
                raise ValueError("the weights file holds no tensors")
            if not finite:
                raise ValueError("the weights hold NaN or infinite values")
        except Exception as error:
            failures += 1
            print(f"FAIL  model {name:<24} {time.perf_counter() - started:7.2f} s  "
                  f"{_one_line(error)}", file=stream)
            continue
        print(f"  ok  model {name:<24} {time.perf_counter() - started:7.2f} s  "
              f"{entry.architecture}, {count:,} parameters", file=stream)
    return failures


def _installation() -> str:
    """How this copy runs: a frozen app, a source checkout, or an installed package."""
    if getattr(sys, "frozen", False):
        return "frozen app"
    checkout = Path(__file__).resolve().parents[2] / "pyproject.toml"
    return "source checkout" if checkout.is_file() else "installed package"


def run_selftest(stream: TextIO = sys.stdout, *, ops: Iterable[str] | None = None,
                 models_folder: Path | None = None, device: str | None = None,
                 op_time_limit: float = OP_TIME_LIMIT) -> int:
    """Load every shipped model and run every registered op once; print a report.

    Parameters
    ----------
    stream : file
        Where the report goes, one line per model and per op.
    ops : iterable of str, optional
        Only these op names (all registered ops when omitted).
    models_folder : Path, optional
        Models folder; the shipped one when omitted.
    device : str, optional
        Device for the ops (``None`` lets the engine choose).
    op_time_limit : float
        Seconds after which one op is cancelled and counted as failed.

    Returns
    -------
    int
        0 if every model loaded and every op passed, 1 otherwise.
    """
    started = time.perf_counter()
    print(f"PixelMend {__version__} self-test (Python {sys.version.split()[0]}, "
          f"{_installation()}; resources: {resources_dir()})", file=stream)
    failures = _check_runtime(stream)
    failures += _check_models(stream, models_folder)

    try:
        registered = all_ops(builtin_only=ops is None)
    except Exception as error:  # a broken op module must not hide the others
        print(f"FAIL  ops: cannot load the op registry: {_one_line(error)}", file=stream)
        return 1
    wanted: Mapping[str, type[Op]] = {op.name: op for op in registered}
    names = list(wanted) if ops is None else list(ops)
    passed = 0
    for name in names:
        op = wanted.get(name)
        if op is None:
            failures += 1
            print(f"FAIL  {name:<30} {0.0:7.2f} s  not a registered op", file=stream)
            continue
        ok, seconds, note = _run_one(op, op_time_limit, device)
        passed += ok
        failures += not ok
        print(f"{'  ok' if ok else 'FAIL'}  {name:<30} {seconds:7.2f} s  {note}".rstrip(),
              file=stream)
        stream.flush()
    total = time.perf_counter() - started
    verdict = "passed" if failures == 0 else f"FAILED ({failures} failure(s))"
    print(f"self-test {verdict}: {passed}/{len(names)} ops ok in {total:.1f} s", file=stream)
    return 0 if failures == 0 else 1


def main() -> int:
    """``python -m engine.cli.selftest``."""
    return run_selftest()


if __name__ == "__main__":
    sys.exit(main())
