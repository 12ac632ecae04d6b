"""One file through a recipe: load, run every step, save the result atomically.

Alpha, bit depth (8/16), the ICC profile and EXIF of the input are kept. A result of another
size keeps its alpha only when the op resampled the image (``info["resampled"]``: an
upscaler), which resizes the alpha plane with it; a generated image (a texture) has none. A
recipe that only proposes a mask (a detector) writes it as an 8-bit PNG, white = proposed. An
existing output is never replaced without ``overwrite``, and the input is never written to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import io
from engine.batch.plan import FileJob
from engine.core.pixels import from_float, join_alpha, split_alpha, to_float
from engine.core.progress import CancelToken, Progress, null_progress, sub_range
from engine.core.recipe import Recipe
from engine.core.resample import resize_plane
from engine.ops.pipeline import RecipeResult, run_recipe
from engine.ops.registry import OpError, get_op

__all__ = ["FileResult", "MaskCache", "check_target", "process_file"]


@dataclass(frozen=True)
class FileResult:
    """The file written for one input and a note for the summary."""

    path: Path
    note: str = ""


class MaskCache:
    """The run's mask file, read once per image size (every input of one size shares it)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._masks: dict[tuple[int, int], np.ndarray] = {}

    def for_shape(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The mask for an image of ``shape``; raises :class:`engine.io.ImageReadError` when
        the mask's size differs."""
        if self.path is None:
            return None
        if shape not in self._masks:
            self._masks[shape] = io.read_mask(self.path, shape)
        return self._masks[shape]


def check_target(job: FileJob, target: Path, overwrite: bool) -> None:
    """Refuse to write over the input itself, or over an existing file without ``overwrite``.

    Raises
    ------
    FileExistsError
        With a message that says what to do.
    """
    if target.resolve() == job.source.resolve():
        raise FileExistsError(f"{job.source}: the output is the input file itself; "
                              "write to another file or folder")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; use --overwrite to replace it")


def _alpha_for(alpha: np.ndarray | None, result: RecipeResult) -> np.ndarray | None:
    """The input's alpha plane, made to follow the result's size where it can."""
    if alpha is None or alpha.shape[:2] == result.image.shape[:2]:
        return alpha
    if not any(step.result.info.get("resampled") for step in result.steps):
        return None  # a generated image of another size has no alpha of its own
    return resize_plane(alpha, result.image.shape[:2])


def process_file(job: FileJob, recipe: Recipe, *, masks: MaskCache | None = None,
                 device: str | None = None, overwrite: bool = False,
                 max_pixels: int | None = None, progress: Progress = null_progress,
                 cancel: CancelToken | None = None) -> FileResult:
    """Load ``job.source``, run ``recipe`` on it and save the result to ``job.target``.

    Parameters
    ----------
    job : FileJob
        The input and its output path (the extension sets the format).
    recipe : Recipe
        The steps to run.
    masks : MaskCache, optional
        The run's mask (white = repair here), if one was given.
    device, overwrite, max_pixels
        Compute device, whether an existing output may be replaced, the pixel limit.
    progress, cancel
        Reported and checked through loading, every step and saving.

    Returns
    -------
    FileResult

    Raises
    ------
    engine.io.ImageReadError, engine.io.ImageWriteError, FileExistsError, OpError, ...
        With a message that names the file; nothing is written then.
    """
    cancel = cancel or CancelToken()
    check_target(job, job.target, overwrite)
    loaded = io.load(job.source, max_pixels=max_pixels)
    progress(0.05, "loaded")
    colour, alpha = split_alpha(loaded.pixels)
    image = to_float(colour)
    mask = masks.for_shape(image.shape[:2]) if masks is not None else None
    cancel.raise_if_cancelled()
    result = run_recipe(recipe, image, mask, progress=sub_range(progress, 0.05, 0.95),
                        cancel=cancel, device=device)
    cancel.raise_if_cancelled()
    progress(0.95, "saving")
    # Detectors only propose masks; a recipe with a step that makes an image writes one (the
    # input unchanged when every such step was skipped: nothing was found to repair).
    changed = any(step.result.image is not None
                  or (step.skipped and get_op(step.step.op).mask_use != "ignore")
                  for step in result.steps)
    skipped = [step for step in result.steps if step.skipped]
    note = "; ".join(f"{step.step.op} skipped: {step.result.info['skipped']}"
                     for step in skipped)
    if not changed:
        if result.mask is None:
            raise OpError(f"{recipe.title()} returned neither an image nor a mask")
        target = job.target.with_suffix(".png")
        if target != job.target:
            check_target(job, target, overwrite)
        proposal = np.asarray(result.mask, dtype=bool)
        written = io.save(target, from_float(to_float(proposal), np.uint8), overwrite=overwrite)
        return FileResult(Path(written), "; ".join(filter(None, [
            f"mask proposal, {proposal.mean() * 100:.2f}% marked", note])))
    alpha = _alpha_for(alpha, result)
    pixels = join_alpha(from_float(result.image, loaded.pixels.dtype), alpha)
    flatten = alpha is not None and not io.keeps_alpha(job.target) \
        and bool((alpha < np.iinfo(alpha.dtype).max).any())
    written = io.save(job.target, pixels, icc_profile=loaded.icc_profile, exif=loaded.exif,
                      overwrite=overwrite, flatten_alpha=flatten)
    if flatten:
        note = "; ".join(filter(None, [
            f"transparency flattened onto white ({job.target.suffix} has no alpha)", note]))
    return FileResult(Path(written), note)
