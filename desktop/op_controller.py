"""Running ops for one session: document → job → worker thread → result layer or new document.

When Run is pressed, the active layer's colour (the whole layer: ops need the context around the
mask) and a snapshot of the mask are taken on the GUI thread, so strokes painted while the op runs
do not change what it works on. The job carries the document and the source layer object; when the
result comes back it lands above that layer (wherever it has moved meanwhile), blended through the
snapshot's soft coverage, so untouched pixels stay bit-identical. A mask proposal replaces the mask
as one undoable edit; extra result images become hidden layers.

An op that generates a new image (``Op.generates``: texture synthesis, upscaling) may return
another size than its source. Such a result is not a layer of this document: it becomes a new,
unsaved document of its own ("Texture GAN result", holding the recipe; an upscaled photo keeps
its source's transparency, resampled to the new size), announced through
:attr:`OpController.document_generated` for the window to show. A generated result of the
source's size (filling the mask) lands as a layer like any other.

Preview runs the op on a :data:`~desktop.widgets.ops_panel.PREVIEW_SIDE`-px square crop of the
active layer (centred on the mask, or on the image without one) and shows the crop before and
after, side by side, in the ops panel: a quick look at a strength or a size before the whole photo
runs. Nothing is added to the document and nothing is undoable.

"Run again" selects the layer a result was made from (its ``source_id``), wherever the layers
have moved since, and says so when that layer is gone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop import dialogs
from desktop.document.document import Document
from desktop.document.layer import Layer
from desktop.jobs import Job, JobRunner
from desktop.session import Session
from desktop.step_results import add_extra_layers, resized_document
from desktop.widgets.ops_panel import PREVIEW_SIDE, OpsPanel
from engine.core.masks import mask_bbox
from engine.core.params import resolve_params
from engine.core.recipe import Recipe
from engine.ops import get_op

__all__ = ["OpController"]


class OpController(QObject):
    """Connects an :class:`OpsPanel` and "Run again" to one :class:`JobRunner`.

    Parameters
    ----------
    session : Session
        The document ops run on and results land in.
    runner : JobRunner
        Runs the ops off the GUI thread.
    panel : OpsPanel
        Where the op and its parameters are chosen and progress is shown.
    parent : QWidget, optional
        The window the dialogs belong to.

    Signals
    -------
    document_generated(object) : an op made a new image of another size than its source, as a
        new :class:`Document`; show it as a document of its own.
    panel_wanted() : a recipe was loaded into the ops panel; make sure it can be seen.
    """

    document_generated = Signal(object)
    panel_wanted = Signal()

    def __init__(self, session: Session, runner: JobRunner, panel: OpsPanel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.panel = panel
        self._owner = parent
        panel.run_requested.connect(self.run)
        panel.preview_requested.connect(self.preview)
        panel.cancel_requested.connect(runner.cancel)
        runner.started.connect(lambda job: panel.set_busy(True, f"Running {job.op}…"))
        runner.progress.connect(panel.show_progress)
        runner.preview.connect(panel.show_preview)
        runner.finished.connect(self._finished)
        runner.failed.connect(self._failed)
        runner.cancelled.connect(self._cancelled)

    def _prepare(self, op_name: str, params: dict[str, Any], verb: str
                 ) -> tuple[Document, Any, dict[str, Any]] | None:
        """The document, the op and its resolved params; None (after saying why) if the op
        cannot ``verb`` ("run", "preview")."""
        doc = self.session.document
        if doc is None:
            title = "Nothing to run on" if verb == "run" else f"Nothing to {verb}"
            dialogs.show_error(self._owner, title, "Open an image first.")
            return None
        try:
            op = get_op(op_name)
            return doc, op, resolve_params(op.params, params)
        except ValueError as error:
            dialogs.show_error(self._owner, f"Cannot {verb}", str(error))
            return None

    def run(self, op_name: str, params: dict[str, Any], device: str | None = None) -> Job | None:
        """Run ``op_name`` on the active layer inside the mask; None if it cannot start."""
        prepared = self._prepare(op_name, params, "run")
        if prepared is None:
            return None
        doc, op, params = prepared
        coverage = None if op.mask_use == "ignore" or doc.mask.is_empty() else doc.mask.snapshot()
        if op.needs_mask and coverage is None:
            dialogs.show_error(self._owner, f"{op.title} needs a mask",
                               f"{op.title} repairs only the painted area: paint over it with "
                               "the brush (B), lasso (L) or rectangle (M) first.")
            return None
        source = doc.active_layer
        try:
            image = source.colour_float()
        except MemoryError:
            dialogs.show_error(self._owner, "Cannot run", "Not enough memory to prepare the image.")
            return None
        job = Job(op=op_name, image=image, mask=None if coverage is None else coverage > 0,
                  params=params, device=device,
                  context={"doc": doc, "source": source, "coverage": coverage,
                           "title": op.title, "generates": bool(op.generates)})
        self.runner.start(job)
        return job

    def preview(self, op_name: str, params: dict[str, Any],
                device: str | None = None) -> Job | None:
        """Run ``op_name`` on a crop of the active layer and show before | after in the panel."""
        prepared = self._prepare(op_name, params, "preview")
        if prepared is None:
            return None
        doc, op, params = prepared
        painted = not doc.mask.is_empty()
        coverage = doc.mask.snapshot() if painted else None
        box = preview_box(doc.shape, None if coverage is None else coverage > 0)
        mask = None
        if op.mask_use != "ignore" and coverage is not None:
            mask = coverage[box] > 0
            if not mask.any():
                mask = None
        if op.needs_mask and mask is None:
            dialogs.show_error(self._owner, f"{op.title} needs a mask",
                               f"{op.title} repairs only the painted area: paint over it first; "
                               "the preview shows the middle of the painted area.")
            return None
        try:
            image = np.ascontiguousarray(doc.active_layer.colour_float()[box])
        except MemoryError:
            dialogs.show_error(self._owner, "Cannot preview",
                               "Not enough memory to prepare the image.")
            return None
        job = Job(op=op_name, image=image, mask=mask, params=params, device=device,
                  context={"doc": doc, "preview": True, "title": op.title})
        self.runner.start(job)
        return job

    def rerun(self, layer: Layer) -> None:
        """"Run again with other settings": load ``layer``'s recipe and select its source."""
        doc = self.session.document
        if doc is None or not layer.recipe:
            return
        try:
            self.panel.load_recipe(layer.recipe)
        except (KeyError, ValueError) as error:
            dialogs.show_error(self._owner, "Cannot run again", str(error))
            return
        self.panel_wanted.emit()
        if layer.source_id is not None:
            try:
                source = doc.layers[doc.index_of(layer.source_id)]
            except ValueError:
                dialogs.show_error(self._owner, "Run again: the source layer is gone", (
                    f"“{layer.name}” was made from a layer that is no longer in this document "
                    "(it was deleted or merged, or the result was generated from another "
                    "image).\n\nIts recipe is loaded in the Ops panel: select the layer to run it "
                    "on, then press Run."))
                return
            note = f"Recipe loaded and its source “{source.name}” selected"
        else:  # saved before result layers recorded their source: the layer below is a guess
            source = doc.layers[max(doc.index_of(layer) - 1, 0)]
            note = (f"Recipe loaded; “{layer.name}” does not record its source, so the layer "
                    f"below it, “{source.name}”, is selected")
        doc.active_index = doc.index_of(source)
        self.session.show_message(
            f"{note}: change the settings and press Run to make a new result layer", 8000)

    # -- results --------------------------------------------------------------------------

    def _finished(self, result, job: Job) -> None:
        if job.kind != "op":
            return  # a recipe's: the recipe controller's
        doc = job.context["doc"]
        if doc is not self.session.document:
            self.panel.set_busy(False, "The result was dropped: its document was closed.")
            return
        title = job.context["title"]
        if job.context.get("preview"):
            self._show_preview(result, job)
            return
        generated: Document | None = None
        try:
            if result.mask is not None:
                doc.apply_mask_edit("set", mask=result.mask)
            recipe = Recipe(op=job.op, params=job.params).to_dict()
            if (result.image is not None and job.context.get("generates")
                    and result.image.shape[:2] != doc.shape):
                generated = self._generated_document(result, job, recipe)
            elif result.image is not None:
                layer = doc.add_result_layer(job.context["source"], result.image, recipe,
                                             job.context["coverage"], name=title)
                add_extra_layers(doc, layer, result.layers, title)
                doc.active_index = doc.index_of(layer)
            elif result.layers:
                add_extra_layers(doc, job.context["source"], result.layers, title)
        except (ValueError, MemoryError) as error:
            self.panel.set_busy(False, "")
            dialogs.show_error(self._owner, f"{title}: result not added", str(error))
            return
        seconds = result.info.get("seconds")
        note = f"{title} done" + (f" in {seconds:.1f} s" if isinstance(seconds, float) else "")
        if "device" in result.info:
            note += f"; device: {result.info['device']}"
        for fallback in result.info.get("fallbacks") or ():
            note += f"; {fallback}"
        if generated is not None:
            note += (f"; the {generated.width}×{generated.height} image opens as a new document, "
                     f"“{generated.title}”")
        self.panel.set_busy(False, note)
        self.session.show_message(note, 6000)
        if generated is not None:
            self.document_generated.emit(generated)

    def _show_preview(self, result, job: Job) -> None:
        before = _rgb(job.image)
        after = (_rgb(np.asarray(result.image, np.float32)) if result.image is not None
                 else proposal_overlay(before, result.mask))
        seconds = result.info.get("seconds")
        timing = f" in {seconds:.1f} s" if isinstance(seconds, float) else ""
        self.panel.set_busy(False, f"Preview of {job.context['title']}{timing}: before | after "
                                   f"on a {before.shape[1]}×{before.shape[0]} crop; press Run "
                                   "to apply it to the image")
        gap = np.ones((before.shape[0], 4, 3), np.float32)
        self.panel.show_preview(np.concatenate([before, gap, after], axis=1))

    @staticmethod
    def _generated_document(result, job: Job, recipe: dict[str, Any]) -> Document:
        """A new, unsaved document holding a generated image and the recipe that made it."""
        source_doc: Document = job.context["doc"]
        title = job.context["title"]
        coverage = job.context["coverage"]
        rect = None if coverage is None else mask_bbox(coverage > 0)
        # Where the mask sent the op for its sample (None: the whole image), as a result
        # layer's recipe records what confined it.
        recipe["mask_bbox"] = None if rect is None else [
            int(rect[1].start), int(rect[0].start), int(rect[1].stop), int(rect[0].stop)]
        doc = resized_document(result.image, source_doc=source_doc, source=job.context["source"],
                               title=title, recipe=recipe,
                               resampled=bool(result.info.get("resampled")))
        add_extra_layers(doc, doc.layers[0], result.layers, title)
        return doc

    def _failed(self, message: str, job: Job) -> None:
        if job.kind != "op":
            return
        self.panel.set_busy(False, "Failed")
        dialogs.show_error(self._owner, f"{job.context.get('title', job.op)} failed", message)

    def _cancelled(self, job: Job) -> None:
        if job.kind != "op":
            return
        self.panel.set_busy(False, "Cancelled")
        self.session.show_message(f"{job.context.get('title', job.op)} cancelled", 4000)


def preview_box(shape: tuple[int, int], mask: np.ndarray | None,
                side: int = PREVIEW_SIDE) -> tuple[slice, slice]:
    """The square crop Preview runs on: ``side`` px (less on a smaller image), centred on the
    middle of ``mask``'s bounding box (on the image without a mask), kept inside the image."""
    height, width = shape
    rect = mask_bbox(mask) if mask is not None and mask.any() else None
    if rect is None:
        centre = (height // 2, width // 2)
    else:
        centre = ((rect[0].start + rect[0].stop) // 2, (rect[1].start + rect[1].stop) // 2)
    slices = []
    for middle, size in zip(centre, (height, width), strict=True):
        edge = min(side, size)
        start = min(max(middle - edge // 2, 0), size - edge)
        slices.append(slice(start, start + edge))
    return slices[0], slices[1]


def _rgb(image: np.ndarray) -> np.ndarray:
    """Colour channels of a float H×W×C image as RGB (grey repeated, alpha dropped)."""
    return image[:, :, :3] if image.shape[2] >= 3 else np.repeat(image[:, :, :1], 3, axis=2)


def proposal_overlay(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``image`` (float, H×W×C) with a proposed mask tinted magenta, as a preview shows it."""
    out = np.array(_rgb(image), dtype=np.float32, copy=True)
    if mask is not None:
        where = np.asarray(mask) > 0
        out[where] = 0.5 * out[where] + 0.5 * np.array([1.0, 0.0, 1.0], np.float32)
    return out
