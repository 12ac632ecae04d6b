"""Recipes of several steps: each on the previous image, proposals feed the next step, empty
masks skip, errors name the step."""

import numpy as np
import pytest

from engine.core.params import ParamError
from engine.core.progress import Cancelled, CancelToken
from engine.core.recipe import Recipe, Step
from engine.ops import OpError, run_op
from engine.ops.pipeline import check_recipe, iter_recipe, run_recipe

CLASSICAL = {"method": "classical"}
"""The filters: these tests are about the recipe, not the detector (the network's tests are in
tests/engine/ops/detect)."""


def _scratched(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    clean = np.stack([0.3 + 0.2 * np.sin(xx / 9), 0.4 + 0.1 * np.cos(yy / 7),
                      0.5 + 0.0 * xx], axis=2).astype(np.float32)
    image = clean + rng.normal(0, 0.002, clean.shape).astype(np.float32)
    image[40:43, 10:110] = 0.98                      # a bright scratch
    truth = np.zeros((96, 128), bool)
    truth[40:43, 10:110] = True
    return np.clip(image, 0, 1), truth, clean


def test_a_proposal_feeds_the_next_step_and_each_step_takes_the_last_image():
    image, truth, clean = _scratched()
    recipe = Recipe(steps=[Step("detect_defects", CLASSICAL),
                           Step("inpaint", {"method": "telea"}, "proposal"),
                           Step("median", {"size": 3}, "none")])
    seen = []
    steps = list(iter_recipe(recipe, image, progress=lambda f, m="", p=None: seen.append(f)))
    assert [s.step.op for s in steps] == ["detect_defects", "inpaint", "median"]
    found = steps[0].result.mask
    assert found is not None and (found & truth).sum() > 0.8 * truth.sum()
    assert steps[1].mask is found                        # inpaint worked on the proposal
    assert steps[2].mask is None                         # the median on the whole image
    inpainted = steps[1].image
    assert np.abs(inpainted[41, 20:100] - clean[41, 20:100]).max() < 0.05
    assert np.array_equal(steps[2].image, run_op("median", inpainted, params={"size": 3}).image)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    final = run_recipe(recipe, image)
    assert np.array_equal(final.image, steps[2].image) and final.mask is not None
    assert image[41, 60, 0] == pytest.approx(0.98, abs=0.01)          # the input is untouched


def test_an_empty_proposal_skips_the_step_instead_of_failing():
    clean = np.full((64, 64, 3), 0.5, np.float32)
    recipe = Recipe(steps=[Step("detect_defects", CLASSICAL),
                           Step("inpaint", {"method": "telea"}, "proposal")])
    result = run_recipe(recipe, clean)
    assert result.steps[1].skipped and "empty" in result.steps[1].result.info["skipped"]
    assert np.array_equal(result.image, clean)


def test_the_input_mask_and_auto_and_missing_proposals():
    image, truth, clean = _scratched(1)
    result = run_recipe(Recipe(steps=[Step("inpaint", {"method": "telea"})]), image, truth)
    assert np.abs(result.image[41, 20:100] - clean[41, 20:100]).max() < 0.05
    with pytest.raises(OpError, match=r"step 1 \(inpaint\) works on the proposed mask"):
        run_recipe(Recipe(steps=[Step("inpaint", {}, "proposal"), Step("median")]), image)
    skipped = run_recipe(Recipe(steps=[Step("inpaint", {}), Step("median")]), image)
    assert skipped.steps[0].skipped and "needs a mask" in skipped.steps[0].result.info["skipped"]


def test_bad_recipes_are_refused_before_any_work_naming_the_step():
    with pytest.raises(OpError, match=r"step 2 \(no_such_op\)"):
        check_recipe(Recipe(steps=[Step("median"), Step("no_such_op")]))
    with pytest.raises(ParamError, match=r"step 1 \(median\).*size"):
        check_recipe(Recipe(steps=[Step("median", {"size": 4}), Step("gaussian")]))
    with pytest.raises(OpError, match="takes no mask"):
        check_recipe(Recipe(steps=[Step("canny", {}, "input"), Step("median")]))


def test_cancel_between_steps():
    image, _, _ = _scratched()
    token = CancelToken()
    steps = iter_recipe(Recipe(steps=[Step("median"), Step("gaussian")]), image, cancel=token)
    next(steps)
    token.cancel()
    with pytest.raises(Cancelled):
        next(steps)
