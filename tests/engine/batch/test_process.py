"""One file through a recipe: bit depth, alpha, metadata, proposals, never over the input."""

from dataclasses import replace

import numpy as np
import pytest

from engine import io
from engine.batch.plan import FileJob
from engine.batch.process import MaskCache, process_file
from engine.core.recipe import Recipe, Step
from engine.ops import Op, OpResult, register


@register
class _HalfSize(Op):
    """A test op that resamples the image to half its size, as an upscaler would enlarge it."""

    name = "test_half_size"
    title = "Half size (test)"
    mask_use = "ignore"
    generates = True

    def run(self, image, mask, params, progress, cancel, device):
        return OpResult(image=np.ascontiguousarray(image[::2, ::2]), info={"resampled": True})


def _job(tmp_path, name="in.png", target="out.png", pixels=None):
    source = io.save(tmp_path / name, pixels if pixels is not None else
                     np.full((20, 30, 3), 100, np.uint8))
    return FileJob(source, source.relative_to(tmp_path), tmp_path / target)


def test_sixteen_bit_rgba_with_icc_keeps_depth_alpha_and_profile(tmp_path):
    pixels = np.zeros((16, 24, 4), np.uint16)
    pixels[..., :3] = np.arange(24, dtype=np.uint16)[None, :, None] * 2000
    pixels[..., 3] = 40000
    job = _job(tmp_path, pixels=pixels)
    result = process_file(job, Recipe("median", {"size": 3}))
    written = io.load(result.path)
    assert written.pixels.dtype == np.uint16 and written.has_alpha
    assert np.array_equal(written.pixels[..., 3], pixels[..., 3])


def test_a_detector_writes_its_proposal_and_a_resampling_op_carries_alpha(tmp_path):
    pixels = np.full((32, 40, 3), 128, np.uint8)
    pixels[10:12, 5:35] = 255
    job = _job(tmp_path, pixels=pixels, target="found.jpg")
    result = process_file(job, Recipe("detect_defects"))
    assert result.path.suffix == ".png" and "mask proposal" in result.note
    edges = process_file(job, Recipe("canny"), overwrite=True)       # an edge map is a picture
    assert edges.path.suffix == ".jpg" and io.load(edges.path).pixels[8:14, 20].max() > 200
    rgba = np.concatenate([pixels, np.full((32, 40, 1), 255, np.uint8)], axis=2)
    rgba[:16, :, 3] = 0
    job = _job(tmp_path, "rgba.png", "small.png", rgba)
    small = io.load(process_file(job, Recipe("test_half_size")).path).pixels
    assert small.shape == (16, 20, 4)
    assert small[:6, :, 3].max() < 40 and small[10:, :, 3].min() > 200


def test_skipped_steps_are_noted_and_the_image_still_written(tmp_path):
    job = _job(tmp_path)
    recipe = Recipe(steps=[Step("canny"), Step("inpaint", {"method": "telea"}, "proposal")])
    result = process_file(job, recipe)
    assert result.path == tmp_path / "out.png" and "inpaint skipped" in result.note
    assert np.array_equal(io.load(result.path).pixels, io.load(job.source).pixels)


def test_never_over_the_input_nor_an_existing_file_and_masks_must_fit(tmp_path):
    job = _job(tmp_path)
    with pytest.raises(FileExistsError, match="input file itself"):
        process_file(replace(job, target=job.source), Recipe("median"))
    io.save(job.target, np.zeros((4, 4), np.uint8))
    with pytest.raises(FileExistsError, match="--overwrite"):
        process_file(job, Recipe("median"))
    process_file(job, Recipe("median"), overwrite=True)
    mask = io.save(tmp_path / "mask.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(io.ImageReadError, match="5×5 but the image is 30×20"):
        process_file(job, Recipe("median"), masks=MaskCache(mask), overwrite=True)
