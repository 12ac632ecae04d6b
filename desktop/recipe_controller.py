"""Running multi-step recipes for one session: "Restore old photo" and any recipe file.

A recipe runs on the active layer, on the window's one :class:`~desktop.jobs.JobRunner` (the
same worker thread, progress bar and Cancel as a single op; starting one replaces a running op
and the other way round). The active layer's colour and a snapshot of the mask are taken when
it starts. When it finishes, :func:`~desktop.step_results.add_recipe_results` turns the steps
into a mask edit and one result layer per image step, all in one undo step; the status bar says
what was added and which steps were skipped. When a later step fails, the steps before it are
kept and the failure is shown. A cancelled recipe leaves the document as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop import dialogs, settings
from desktop.jobs import Job, JobRunner, RecipeRun, op_title
from desktop.session import Session
from desktop.step_results import RecipeSummary, add_recipe_results, resized_document
from desktop.widgets.ops_panel import OpsPanel
from engine.core.recipe import Recipe, RecipeError, load_recipe, shipped_recipes
from engine.ops.pipeline import check_recipe

__all__ = ["RECIPE_FILTER", "RecipeController", "describe_steps", "describe_summary", "shipped"]

RECIPE_FILTER = "Recipes (*.json);;All files (*)"


def shipped() -> list[tuple[str, Recipe]]:
    """The recipes that ship with PixelMend that can be read, as (file stem, recipe)."""
    found = []
    for stem, path in shipped_recipes().items():
        try:
            found.append((stem, load_recipe(path)))
        except RecipeError:
            continue  # a damaged resource file: not offered
    return found


def describe_steps(recipe: Recipe) -> str:
    """One line per step: "1. Find damage", "2. Inpaint (on the proposed mask)" …"""
    where = {"proposal": " (on the proposed mask)", "none": " (the whole image)",
             "input": " (on your mask)"}
    return "\n".join(f"{index}. {op_title(step.op)}{where.get(step.mask, '')}"
                     for index, step in enumerate(recipe.steps, 1))


def describe_summary(title: str, summary: RecipeSummary, seconds: float | None) -> str:
    """The status-bar line for a finished recipe run."""
    text = f"{title} done" + (f" in {seconds:.1f} s" if seconds is not None else "")
    parts = []
    if summary.layers:
        names = ", ".join(f"“{layer.name}”" for layer in summary.layers)
        parts.append(f"added {names}")
    if summary.mask_from:
        redo = (f", then Run again… on “{summary.mask_used_by}” to redo it"
                if summary.mask_used_by else "")
        parts.append(f"the mask is what {summary.mask_from} found ({summary.mask_pixels} px; "
                     f"H hides it; brush it{redo})")
    if summary.skipped:
        parts.append("skipped " + "; ".join(summary.skipped))
    if summary.new_image is not None:
        height, width = summary.new_image.shape[:2]
        parts.append(f"the {width}×{height} result opens as a new document")
    parts.extend(summary.notes)
    if not summary.layers and not summary.mask_from and summary.new_image is None:
        parts.append("nothing changed")
    return text + (": " + "; ".join(parts) if parts else "")


class RecipeController(QObject):
    """Runs recipes on the session's document through the shared job runner.

    Parameters
    ----------
    session : Session
        The document recipes run on.
    runner : JobRunner
        The window's runner (shared with single ops).
    panel : OpsPanel
        Shows the progress and the Cancel button; its recipe row asks for runs.
    parent : QWidget, optional
        The window the dialogs belong to.

    Signals
    -------
    document_generated(object) : the recipe ended with an image of another size (it
        upscaled), as a new :class:`~desktop.document.document.Document` holding the recipe;
        show it as a document of its own.
    """

    document_generated = Signal(object)

    def __init__(self, session: Session, runner: JobRunner, panel: OpsPanel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.panel = panel
        self._owner = parent
        self.recipes = shipped()
        panel.set_recipes([(stem, recipe.title(), describe_steps(recipe))
                           for stem, recipe in self.recipes])
        panel.recipe_requested.connect(self.run_shipped)
        runner.finished.connect(self._finished)
        runner.failed.connect(self._failed)
        runner.cancelled.connect(self._cancelled)

    def run_shipped(self, stem: str) -> Job | None:
        """Run the shipped recipe ``stem`` (``restore-old-photo`` …)."""
        path = shipped_recipes().get(stem)
        if path is None:
            dialogs.show_error(self._owner, "No such recipe", f"PixelMend has no recipe "
                               f"“{stem}”; reinstall it or run a recipe file.")
            return None
        return self.run_file(path)

    def run_file(self, path: str | os.PathLike[str] | None = None) -> Job | None:
        """Recipes → Run recipe file… (asks for the file when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self._owner, "Run recipe",
                                                  settings.last_dir("recipe"), RECIPE_FILTER)
            if not path:
                return None
            settings.remember_dir("recipe", path)
        try:
            recipe = load_recipe(Path(path))
        except RecipeError as error:
            dialogs.show_error(self._owner, "Cannot read the recipe", str(error))
            return None
        return self.run(recipe)

    def run(self, recipe: Recipe, device: str | None = None) -> Job | None:
        """Run ``recipe`` on the active layer; None when it cannot start."""
        doc = self.session.document
        title = recipe.title()
        if doc is None:
            dialogs.show_error(self._owner, "Nothing to run on", "Open an image first.")
            return None
        try:
            check_recipe(recipe)
        except ValueError as error:
            dialogs.show_error(self._owner, f"Cannot run {title}", str(error))
            return None
        coverage = None if doc.mask.is_empty() else doc.mask.snapshot()
        source = doc.active_layer
        try:
            image = source.colour_float()
        except MemoryError:
            dialogs.show_error(self._owner, "Cannot run", "Not enough memory to prepare the image.")
            return None
        job = Job(op=title, image=image, mask=None if coverage is None else coverage > 0,
                  device=device, recipe=recipe,
                  context={"doc": doc, "source": source, "coverage": coverage, "title": title,
                           "started": time.perf_counter()})
        self.runner.start(job)
        return job

    # -- results --------------------------------------------------------------------------

    def _finished(self, run: RecipeRun, job: Job) -> None:
        if job.kind != "recipe":
            return
        seconds = time.perf_counter() - job.context["started"]
        doc, title = job.context["doc"], job.context["title"]
        if doc is not self.session.document:
            self.panel.set_busy(False, "The result was dropped: its document was closed.")
            return
        try:
            summary = add_recipe_results(doc, job.context["source"], run.steps, title=title,
                                         start_image=job.image, given_mask=job.mask,
                                         coverage=job.context["coverage"])
        except (ValueError, MemoryError) as error:
            self.panel.set_busy(False, "")
            dialogs.show_error(self._owner, f"{title}: results not added", str(error))
            return
        generated = None
        if summary.new_image is not None:
            try:
                generated = resized_document(
                    summary.new_image, source_doc=doc, source=job.context["source"],
                    title=title, recipe=job.recipe.to_dict(), resampled=summary.resampled)
            except (ValueError, MemoryError) as error:
                dialogs.show_error(self._owner, f"{title}: the new image was not made",
                                   str(error))
                summary.new_image = None
        note = describe_summary(title, summary, seconds)
        self.panel.set_busy(False, note)
        self.session.show_message(note, 12000)
        if generated is not None:
            self.document_generated.emit(generated)
        if run.error:
            dialogs.show_error(self._owner, f"{title} stopped", f"{run.error}\n\nThe steps "
                               "before it were kept.")

    def _failed(self, message: str, job: Job) -> None:
        if job.kind != "recipe":
            return
        self.panel.set_busy(False, "Failed")
        dialogs.show_error(self._owner, f"{job.op} failed", message)

    def _cancelled(self, job: Job) -> None:
        if job.kind != "recipe":
            return
        self.panel.set_busy(False, "Cancelled")
        self.session.show_message(f"{job.op} cancelled; nothing was changed", 4000)
