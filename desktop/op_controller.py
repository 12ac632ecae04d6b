"""Running ops from the window: document → job → worker thread → result layer.

When Run is pressed, the active layer's colour (the whole layer: ops need the context around the
mask) and a snapshot of the mask are taken on the GUI thread, so strokes painted while the op runs
do not change what it works on. The job carries the document and the source layer object; when the
result comes back it lands above that layer (wherever it has moved meanwhile), blended through the
snapshot's soft coverage, so untouched pixels stay bit-identical. A mask proposal replaces the mask
as one undoable edit; extra result images become hidden layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject

from desktop import dialogs
from desktop.document.layer import Layer
from desktop.jobs import Job, JobRunner
from engine.convert import from_float
from engine.ops import get_op
from engine.params import resolve_params
from engine.recipe import Recipe

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

__all__ = ["OpController"]


class OpController(QObject):
    """Connects the ops panel and the layers panel's "run again" to one :class:`JobRunner`."""

    def __init__(self, window: MainWindow, runner: JobRunner) -> None:
        super().__init__(window)
        self.window = window
        self.runner = runner
        panel = window.ops_panel
        panel.run_requested.connect(self.run)
        panel.cancel_requested.connect(runner.cancel)
        runner.started.connect(lambda job: panel.set_busy(True, f"Running {job.op}…"))
        runner.progress.connect(panel.show_progress)
        runner.preview.connect(panel.show_preview)
        runner.finished.connect(self._finished)
        runner.failed.connect(self._failed)
        runner.cancelled.connect(self._cancelled)

    def run(self, op_name: str, params: dict[str, Any], device: str | None = None) -> Job | None:
        """Run ``op_name`` on the active layer inside the mask; None if it cannot start."""
        doc = self.window.document
        if doc is None:
            dialogs.show_error(self.window, "Nothing to run on", "Open an image first.")
            return None
        try:
            op = get_op(op_name)
            params = resolve_params(op.params, params)
        except ValueError as error:
            dialogs.show_error(self.window, "Cannot run", str(error))
            return None
        coverage = None if op.mask_use == "ignore" or doc.mask.is_empty() else doc.mask.snapshot()
        if op.needs_mask and coverage is None:
            dialogs.show_error(self.window, f"{op.title} needs a mask",
                               f"{op.title} repairs only the painted area: paint over it with "
                               "the brush (B), lasso (L) or rectangle (M) first.")
            return None
        source = doc.active_layer
        try:
            image = source.colour_float()
        except MemoryError:
            dialogs.show_error(self.window, "Cannot run", "Not enough memory to prepare the image.")
            return None
        job = Job(op=op_name, image=image, mask=None if coverage is None else coverage > 0,
                  params=params, device=device,
                  context={"doc": doc, "source": source, "coverage": coverage,
                           "title": op.title})
        self.runner.start(job)
        return job

    def rerun(self, layer: Layer) -> None:
        """"Run again with other settings": load ``layer``'s recipe and select its source."""
        doc = self.window.document
        if doc is None or not layer.recipe:
            return
        try:
            self.window.ops_panel.load_recipe(layer.recipe)
        except (KeyError, ValueError) as error:
            dialogs.show_error(self.window, "Cannot run again", str(error))
            return
        index = doc.index_of(layer)
        doc.active_index = max(index - 1, 0)
        self.window.show_ops_panel()
        self.window.statusBar().showMessage(
            "Recipe loaded: change the settings and press Run to make a new result layer", 6000)

    # -- results --------------------------------------------------------------------------

    def _finished(self, result, job: Job) -> None:
        panel = self.window.ops_panel
        doc = job.context["doc"]
        if doc is not self.window.document:
            panel.set_busy(False, "The result was dropped: its document was closed.")
            return
        title = job.context["title"]
        try:
            if result.mask is not None:
                doc.apply_mask_edit("set", mask=result.mask)
            if result.image is not None:
                recipe = Recipe(op=job.op, params=job.params).to_dict()
                layer = doc.add_result_layer(job.context["source"], result.image, recipe,
                                             job.context["coverage"], name=title)
                self._extra_layers(doc, layer, result.layers, title)
                doc.active_index = doc.index_of(layer)
            elif result.layers:
                self._extra_layers(doc, job.context["source"], result.layers, title)
        except (ValueError, MemoryError) as error:
            panel.set_busy(False, "")
            dialogs.show_error(self.window, f"{title}: result not added", str(error))
            return
        seconds = result.info.get("seconds")
        note = f"{title} done" + (f" in {seconds:.1f} s" if isinstance(seconds, float) else "")
        for key in ("fallback", "device"):
            if key in result.info:
                note += f"; {key}: {result.info[key]}"
        panel.set_busy(False, note)
        self.window.statusBar().showMessage(note, 6000)

    @staticmethod
    def _extra_layers(doc, above: Layer, images: dict[str, np.ndarray], title: str) -> None:
        index = doc.index_of(above) + 1
        for name, image in images.items():
            if image.shape[:2] != doc.shape:
                continue
            dtype = np.uint16 if doc.bit_depth == 16 else np.uint8
            layer = Layer(from_float(image, dtype), name=f"{title}: {name}", visible=False)
            doc.add_layer(layer, index)
            index += 1

    def _failed(self, message: str, job: Job) -> None:
        self.window.ops_panel.set_busy(False, "Failed")
        dialogs.show_error(self.window, f"{job.context.get('title', job.op)} failed", message)

    def _cancelled(self, job: Job) -> None:
        self.window.ops_panel.set_busy(False, "Cancelled")
        self.window.statusBar().showMessage(f"{job.context.get('title', job.op)} cancelled", 4000)
