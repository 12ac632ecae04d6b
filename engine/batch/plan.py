"""Where every output goes: inputs (files and folders) → one job per image file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine import io

__all__ = ["FORMATS", "FileJob", "PlanError", "collect_inputs", "plan_outputs"]

FORMATS = {"png": ".png", "tif": ".tif", "jpg": ".jpg", "webp": ".webp"}
"""Output formats a folder run may convert to (``--format``)."""


class PlanError(ValueError):
    """The inputs or the output cannot be planned (a missing file, a clash of names)."""


@dataclass(frozen=True)
class FileJob:
    """One input file, its path relative to the folder it came from, and where its result goes."""

    source: Path
    relative: Path
    target: Path


def collect_inputs(paths: Sequence[str | Path], recursive: bool = False
                   ) -> list[tuple[Path, Path]]:
    """Expand files and folders into ``(file, path relative to its folder)`` pairs.

    A folder contributes the supported images directly inside it (every level with
    ``recursive``), sorted.

    Raises
    ------
    PlanError
        A path does not exist, or a folder holds no supported image.
    """
    found: list[tuple[Path, Path]] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            images = io.list_images(path, recursive=recursive)
            if not images:
                raise PlanError(f"{path}: no supported images in this folder"
                                + ("" if recursive else " (use --recursive for sub-folders)"))
            found.extend((image, image.relative_to(path)) for image in images)
        elif path.exists():
            found.append((path, Path(path.name)))
        else:
            raise PlanError(f"{path}: no such file or folder")
    return found


def _same_format(suffix: str, fmt: str) -> bool:
    return suffix.lower().lstrip(".") in {fmt, {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)}


def plan_outputs(inputs: Sequence[str | Path], output: str | Path, *, recursive: bool = False,
                 fmt: str | None = None, folder: bool | None = None
                 ) -> tuple[list[FileJob], bool]:
    """Decide the output path of every input file; also say whether ``output`` is a folder.

    With one input file and an ``output`` that is not an existing folder, ``output`` is the
    output file (its extension sets the format). Otherwise ``output`` is a folder: each
    output keeps its input's name and sub-folder, with ``fmt``'s extension when given.

    Parameters
    ----------
    inputs : sequence of str or Path
        Image files and folders.
    output : str or Path
        The output file or folder.
    recursive : bool
        Take images from sub-folders of folder inputs too.
    fmt : str, optional
        A key of :data:`FORMATS` for folder output.
    folder : bool, optional
        Force folder output (``pixelmend batch`` always writes a folder).

    Raises
    ------
    PlanError
        Missing inputs, an output that cannot be what is asked, two inputs that would be
        written to the same file.
    """
    files = collect_inputs(inputs, recursive)
    out = Path(output)
    single = (not folder and len(inputs) == 1 and not Path(inputs[0]).is_dir()
              and not out.is_dir())
    if single:
        if fmt and not _same_format(out.suffix, fmt):
            raise PlanError(f"OUTPUT {out} names one file, so its extension sets the format; "
                            "drop --format or change the extension")
        if not out.parent.is_dir():
            raise PlanError(f"{out.parent}: the output's folder does not exist")
        return [FileJob(files[0][0], files[0][1], out)], False
    if out.exists() and not out.is_dir():
        raise PlanError(f"{out}: with several inputs or a folder, OUTPUT must be a folder")
    if not out.exists() and io.is_supported(out):
        raise PlanError(f"{out} looks like a file name, but several inputs or a folder need an "
                        "output folder; name a folder, or give one input file")
    jobs: list[FileJob] = []
    seen: dict[Path, Path] = {}
    for source, relative in files:
        target = out / relative
        if fmt:
            target = target.with_suffix(FORMATS[fmt])
        key = Path(str(target).lower())
        if key in seen:
            raise PlanError(f"{source} and {seen[key]} would both be written to {target}")
        seen[key] = source
        jobs.append(FileJob(source, relative, target))
    return jobs, True
