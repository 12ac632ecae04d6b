"""What an op's or a recipe's results become in a document: layers, hidden extra layers, a mask.

A recipe run (:func:`add_recipe_results`) leaves every step editable, as if the person had run
the steps one by one: the mask a detector proposed becomes the document's mask (brush it, then
run the inpainting again), and each step that made an image becomes a result layer named after
the step's op, holding that step's one-step recipe and the id of the layer it read (the
previous step's layer, or the layer the recipe ran on), so "Run again" works on it. Extra
images of a step (a detector's map of what it found) go on top, hidden. Everything
lands in one undo step named after the recipe; each layer can still be hidden or deleted on its
own. Steps that did nothing (a detector found nothing, so the inpainting had no mask) are listed
in the summary, not added. A recipe whose last image has another size than the document (it
ends by upscaling) gives that image back in the summary, for the controller to open as a new
document (:func:`resized_document`); the steps before it still land as layers.

No Qt here: the controllers call these functions when a job's result arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop.document.document import Document
from desktop.document.layer import Layer
from engine.core.params import resolve_params
from engine.core.pixels import from_float, join_alpha, to_float
from engine.core.recipe import Recipe
from engine.core.resample import resize_plane
from engine.ops import get_op

__all__ = ["RecipeSummary", "add_extra_layers", "add_recipe_results", "resized_document"]


@dataclass
class RecipeSummary:
    """What a recipe run added, and what it left out."""

    layers: list[Layer] = field(default_factory=list)
    mask_from: str = ""
    """Title of the step whose proposal is now the document's mask ("" when none)."""
    mask_pixels: int = 0
    mask_used_by: str = ""
    """Name of the first layer made on that mask (the one to run again after brushing it)."""
    skipped: list[str] = field(default_factory=list)
    """"Inpaint: its mask is empty …" for each step that did not run."""
    new_image: np.ndarray | None = None
    """The run's last image when it has another size than the document (an upscale): it is
    no layer of this document; the controller opens it as a new one."""
    resampled: bool = False
    """A step resampled the whole image (``info["resampled"]``), so its alpha follows."""
    notes: list[str] = field(default_factory=list)
    """Fallbacks the steps took (a smaller tile, the CPU …)."""


def add_extra_layers(doc: Document, above: Layer, images: dict[str, np.ndarray],
                     title: str) -> None:
    """An op's extra images ("damage kinds", "match score") as hidden layers above ``above``;
    images of another size than the document are left out."""
    index = doc.index_of(above) + 1
    for name, image in images.items():
        if image.shape[:2] != doc.shape:
            continue
        dtype = np.uint16 if doc.bit_depth == 16 else np.uint8
        layer = Layer(from_float(image, dtype), name=f"{title}: {name}", visible=False)
        doc.add_layer(layer, index)
        index += 1


def add_recipe_results(doc: Document, source: Layer, steps: Sequence[Any], *, title: str,
                       start_image: np.ndarray, given_mask: np.ndarray | None = None,
                       coverage: np.ndarray | None = None) -> RecipeSummary:
    """Turn a recipe's step results into edits of ``doc``, as one undo step called ``title``.

    Parameters
    ----------
    doc : Document
        Where the results land.
    source : Layer
        The layer the recipe ran on (the first step's source).
    steps : sequence of engine.ops.pipeline.StepResult
        The results, in order (those of the steps that finished).
    title : str
        The recipe's title: the undo step's name.
    start_image : ndarray
        The image the recipe started from: a step whose image is still this one (or the
        previous step's) made no new image.
    given_mask : ndarray of bool, optional
        The mask given with the run; a step that worked on it blends through ``coverage``.
    coverage : ndarray of uint8, optional
        The document's soft mask when the run started.

    Raises
    ------
    ValueError
        The document refused a layer (its source is gone); nothing is added then.
    """
    summary = RecipeSummary()
    previous, above = start_image, source
    extras: list[tuple[str, dict[str, np.ndarray]]] = []
    with doc.edit_group(title):
        for step in steps:
            op = get_op(step.step.op)
            result = step.result
            if step.skipped:
                summary.skipped.append(f"{op.title}: {result.info['skipped']}")
                continue
            summary.notes.extend(str(note) for note in result.info.get("fallbacks") or ())
            if result.mask is not None:
                proposal = np.asarray(result.mask, dtype=bool)
                doc.apply_mask_edit("set", mask=proposal)
                summary.mask_from, summary.mask_pixels = op.title, int(proposal.sum())
            made_image = step.image is not previous
            previous = step.image
            layer = above
            if made_image and step.image.shape[:2] != doc.shape:
                # Later steps work on this image, so the last one of the run holds them all.
                summary.new_image = step.image
                summary.resampled |= bool(result.info.get("resampled"))
            elif made_image:
                recipe = Recipe(op=step.step.op,
                                params=resolve_params(op.params, step.step.params)).to_dict()
                blend = step.mask
                if blend is not None and given_mask is not None and blend is given_mask:
                    blend = coverage  # the person's soft edge, as for a single op
                layer = doc.add_result_layer(above, step.image, recipe, blend, name=op.title)
                summary.layers.append(layer)
                if summary.mask_from and step.mask is not None and not summary.mask_used_by:
                    summary.mask_used_by = layer.name
            if result.layers:
                extras.append((op.title, result.layers))
            above = layer
        for op_title, images in extras:
            add_extra_layers(doc, doc.layers[-1], images, op_title)
    if summary.layers:
        doc.active_index = doc.index_of(summary.layers[-1])
    return summary


def resized_document(image: np.ndarray, *, source_doc: Document, source: Layer, title: str,
                     recipe: dict[str, Any], resampled: bool) -> Document:
    """A new, unsaved document holding a result of another size than ``source_doc`` (a
    generated texture, an upscaled photo) and the recipe that made it.

    The layer records ``source`` as what it was made from and the document keeps the source's
    colour profile; a ``resampled`` result (the whole photo enlarged) keeps the source layer's
    transparency, resampled to the new size with Lanczos.
    """
    doc = Document.from_float(image, name=title, bit_depth=source_doc.bit_depth, recipe=recipe,
                              title=f"{title} result")
    layer = doc.layers[0]
    alpha = source.alpha()
    if alpha is not None and resampled:
        plane = resize_plane(alpha, image.shape[:2])
        if plane.dtype != layer.pixels.dtype:  # the source layer's depth is not the document's
            plane = from_float(to_float(plane), layer.pixels.dtype)
        layer.pixels = join_alpha(layer.pixels, plane)
    layer.source_id = source.id
    doc.icc_profile = source_doc.icc_profile  # the same colour space as its source
    doc.mark_unsaved()  # nothing on disk holds it yet
    return doc
