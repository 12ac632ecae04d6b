"""Run a recipe's steps one after another (:class:`engine.core.recipe.Recipe`).

Each step runs through :func:`engine.ops.run_op` on the image the previous step returned, with
the mask its ``mask`` source names (:data:`engine.core.recipe.MASK_SOURCES`): a detector's
proposal feeds the inpainting after it, a denoiser may take the whole image. A step whose mask
is empty (a detector found nothing) is skipped, not failed, so a batch over an archive does not
stop at the first undamaged photo. :func:`iter_recipe` yields every step's result as it
finishes (the editor turns each into a layer); :func:`run_recipe` returns the last image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.core.params import ParamError, resolve_params
from engine.core.progress import CancelToken, Progress, null_progress, sub_range
from engine.core.recipe import Recipe, Step
from engine.ops.registry import OpError, OpResult, get_op, run_op

__all__ = ["RecipeResult", "StepResult", "check_recipe", "iter_recipe", "run_recipe"]


@dataclass
class StepResult:
    """What one step did.

    Attributes
    ----------
    index : int
        1-based position of the step.
    step : Step
        The step.
    result : OpResult
        The op's result (``info["skipped"]`` says why when the step was skipped).
    image : ndarray
        The image after the step (the input's when the step made none).
    mask : ndarray of bool or None
        The mask the step worked on.
    """

    index: int
    step: Step
    result: OpResult
    image: np.ndarray
    mask: np.ndarray | None

    @property
    def skipped(self) -> bool:
        """Whether the step did not run (its mask was empty)."""
        return "skipped" in self.result.info


@dataclass
class RecipeResult:
    """The final image, the last proposed mask, and every step's result."""

    image: np.ndarray
    mask: np.ndarray | None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def info(self) -> dict[str, Any]:
        """One entry per step: op, seconds, skipped reason, fallbacks."""
        return {"steps": [{"op": s.step.op, **{k: v for k, v in s.result.info.items()
                                               if isinstance(v, (int, float, str, list))}}
                          for s in self.steps]}


def check_recipe(recipe: Recipe) -> None:
    """Check every step names a known op with valid params, before any image is touched.

    Raises
    ------
    OpError
        An unknown op, or a mask source the op cannot use; the message names the step.
    ParamError
        A parameter value the op refuses; the message names the step.
    """
    for index, step in enumerate(recipe.steps, 1):
        where = f"step {index} ({step.op})" if len(recipe.steps) > 1 else step.op
        try:
            op = get_op(step.op)
            resolve_params(op.params, step.params)
        except OpError as error:
            raise OpError(f"{where}: {error}") from None
        except ParamError as error:
            raise ParamError(f"{where}: {error}") from None
        if step.mask in ("input", "proposal") and op.mask_use == "ignore":
            raise OpError(f"{where}: this op takes no mask, so its mask cannot be "
                          f"{step.mask!r}")


def _step_mask(step: Step, given: np.ndarray | None, proposal: np.ndarray | None,
               where: str) -> np.ndarray | None:
    """The mask a step works on, from its ``mask`` source."""
    if step.mask == "none":
        return None
    if step.mask == "input":
        return given
    if step.mask == "proposal":
        if proposal is None:
            raise OpError(f"{where} works on the proposed mask, but no step before it "
                          "proposed one")
        return proposal
    return proposal if proposal is not None else given


def iter_recipe(recipe: Recipe, image: np.ndarray, mask: np.ndarray | None = None, *,
                progress: Progress | None = None, cancel: CancelToken | None = None,
                device: str | None = None) -> Iterator[StepResult]:
    """Run ``recipe`` on ``image``, yielding each step's result as it finishes.

    Parameters
    ----------
    recipe : Recipe
        The steps.
    image : ndarray
        float32 H×W×C in [0, 1]; never modified.
    mask : ndarray of bool, optional
        The mask given with the run (``input`` and ``auto`` steps use it).
    progress, cancel, device
        As for :func:`engine.ops.run_op`; each step gets an equal share of the progress.

    Yields
    ------
    StepResult
    """
    progress = progress or null_progress
    cancel = cancel or CancelToken()
    check_recipe(recipe)
    current, proposal, given = image, None, mask
    count = len(recipe.steps)
    for index, step in enumerate(recipe.steps, 1):
        cancel.raise_if_cancelled()
        op = get_op(step.op)
        where = f"step {index} ({step.op})" if count > 1 else step.op
        used = _step_mask(step, given, proposal, where)
        if op.mask_use == "ignore":
            used = None
        share = sub_range(progress, (index - 1) / count, index / count)
        if used is not None and not used.any():
            result = OpResult(info={"skipped": "its mask is empty (nothing was found to "
                                               "work on)"})
        elif used is None and op.needs_mask:
            result = OpResult(info={"skipped": "it needs a mask and none was given or "
                                               "proposed"})
        else:
            try:
                result = run_op(step.op, current, used, step.params, progress=share,
                                cancel=cancel, device=device)
            except OpError as error:
                if count == 1:
                    raise
                raise OpError(f"{where}: {error}") from None
        if result.mask is not None:
            proposal = np.asarray(result.mask, dtype=bool)
        # A detector's picture of what it found (an edge map) is the run's image only when
        # it is the last step; before that its mask is what the next steps use.
        detector = op.mask_use == "ignore" and result.mask is not None
        if result.image is not None and not (detector and index < count):
            if result.image.shape[:2] != current.shape[:2]:
                # A step that resized the image leaves the earlier masks behind.
                given = proposal = None
            current = result.image
        share(1.0, f"{where} done")
        yield StepResult(index, step, result, current, used)


def run_recipe(recipe: Recipe, image: np.ndarray, mask: np.ndarray | None = None, *,
               progress: Progress | None = None, cancel: CancelToken | None = None,
               device: str | None = None) -> RecipeResult:
    """Run every step of ``recipe`` on ``image`` (see :func:`iter_recipe`).

    Returns
    -------
    RecipeResult
        The last image, the last mask any step proposed, and each step's result.
    """
    steps = list(iter_recipe(recipe, image, mask, progress=progress, cancel=cancel,
                             device=device))
    proposal = None
    for step in steps:
        if step.result.mask is not None:
            proposal = np.asarray(step.result.mask, dtype=bool)
    return RecipeResult(image=steps[-1].image, mask=proposal, steps=steps)
