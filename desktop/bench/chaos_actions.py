"""Random actions on the real editor window, and the checks that the document stayed whole.

:class:`ChaosRun` drives one :class:`~desktop.main_window.MainWindow` the way a restless person
does, chosen by a seeded generator: open generated images (RGB, gray, with alpha, 8 or 16
bit), paint with the brush and the eraser, lasso and rectangle (adding and, with Alt,
removing), edit the mask from the Mask menu, run fast ops with random valid parameters from
their specs (some cancelled, some replaced by another run), run a small recipe, undo and redo,
jump in the history, move, hide, fade, rename, duplicate, merge and delete layers through the
layers panel, use Run again, toggle the compare views, zoom, autosave, save and reopen .ora,
and export. :meth:`ChaosRun.check` then asks the document to be consistent: undoing everything
gives the image as it was opened, redoing everything gives the same pixels again, saving and
reopening gives the same layers, and the panels show what the document holds.

``pixelmend bench chaos`` (:mod:`desktop.bench.chaos`) and the editor's test suite use this
same module.
"""

from __future__ import annotations

import json
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from desktop.bench.drive import drag, layer_signature, state_hash

__all__ = ["FAST_OPS", "ChaosRun", "random_params"]

FAST_OPS = ("median", "gaussian", "bilateral", "unsharp_mask", "adaptive_median", "canny",
            "detect_defects", "inpaint", "deblur_wiener", "template_match", "nl_means")
"""Ops that take milliseconds on the small images a chaos run uses."""
_CHOICES = {("inpaint", "method"): ("telea", "ns"),  # the fast fills
            ("detect_defects", "method"): ("classical",)}  # the filters, not the network
_RECIPE = {"name": "Chaos restore", "steps": [
    {"op": "detect_defects", "params": {"method": "classical"}},
    {"op": "inpaint", "params": {"method": "telea"}, "mask": "proposal"},
    {"op": "median", "params": {"size": 3}, "mask": "none"}]}
_JOB_TIMEOUT_S = 60.0


def random_params(op: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Valid random values for ``op``'s parameters (numbers kept near their defaults' scale)."""
    from engine.core.params import Bool, Choice, Float, Int, ParamError, Seed

    values: dict[str, Any] = {}
    for spec in op.params:
        if isinstance(spec, Choice):
            value = str(rng.choice(_CHOICES.get((op.name, spec.name), spec.choices)))
        elif isinstance(spec, Bool):
            value = bool(rng.integers(0, 2))
        elif isinstance(spec, Seed):
            value = int(rng.integers(0, 1000))
        elif isinstance(spec, Int):
            high = min(spec.maximum, max(spec.minimum + 4, abs(int(spec.default)) * 2 + 2, 7))
            value = int(rng.integers(spec.minimum, high + 1)) if high >= spec.minimum else \
                spec.minimum
            if spec.odd and value % 2 == 0:
                value = value + 1 if value + 1 <= spec.maximum else value - 1
        elif isinstance(spec, Float):
            low = spec.minimum if np.isfinite(spec.minimum) else -4 * abs(spec.default) - 1
            high = min(spec.maximum, max(low + 1e-3, abs(spec.default) * 3 + 1.0))
            value = float(rng.uniform(low, high))
        else:
            value = spec.default
        try:
            values[spec.name] = spec.validate(value)
        except ParamError:
            values[spec.name] = spec.default
    return values


class ChaosRun:
    """Seeded random actions on ``window``; files go to ``folder``.

    Attributes
    ----------
    counts : Counter
        How often each action ran.
    problems : list of str
        Exceptions that escaped an action and failed consistency checks.
    """

    def __init__(self, window: Any, folder: str | Path, seed: int = 0) -> None:
        self.window = window
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rng = np.random.default_rng(seed)
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self._files = 0
        self._base: tuple[Any, str | None] = (None, None)  # the document we opened, its state
        self.actions = {
            "open": (self.open_image, 1), "brush": (self.paint, 10), "eraser": (self.erase, 4),
            "lasso": (self.lasso, 3), "rect": (self.rect, 3), "mask menu": (self.mask_menu, 2),
            "op": (self.run_op, 8), "op cancelled": (self.run_op_cancelled, 2),
            "op replaced": (self.run_op_replaced, 1), "recipe": (self.run_recipe, 1),
            "undo": (self.undo, 6), "redo": (self.redo, 4), "history": (self.history, 1),
            "layer": (self.layer_edit, 8), "run again": (self.run_again, 1),
            "compare": (self.compare, 2), "zoom": (self.zoom, 2), "autosave": (self.autosave, 1),
            "save and reopen": (self.save_reopen, 1), "export": (self.export, 1),
        }

    # -- running --------------------------------------------------------------------------

    def step(self) -> str:
        """Run one random action (opening an image first when there is none); its name."""
        if self.window.document is None:
            name = "open"
        else:
            names = list(self.actions)
            weights = np.array([self.actions[n][1] for n in names], float)
            name = str(self.rng.choice(names, p=weights / weights.sum()))
        try:
            self.actions[name][0]()
        except Exception:
            self.problems.append(f"{name}: {traceback.format_exc()}")
        self.counts[name] += 1
        self._process()
        return name

    def run(self, count: int) -> None:
        """``count`` random actions."""
        for _ in range(count):
            self.step()

    def _process(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()

    def wait_idle(self) -> None:
        """Let the running job finish (or fail, or be cancelled)."""
        end = time.monotonic() + _JOB_TIMEOUT_S
        while self.window.runner.busy and time.monotonic() < end:
            self._process()
            time.sleep(0.002)
        if self.window.runner.busy:
            self.problems.append("a job did not finish within a minute")

    @property
    def doc(self) -> Any:
        return self.window.document

    def _point(self) -> tuple[float, float]:
        height, width = self.doc.shape
        return float(self.rng.uniform(-5, width + 5)), float(self.rng.uniform(-5, height + 5))

    def _file(self, suffix: str) -> Path:
        self._files += 1
        return self.folder / f"chaos-{self._files:04d}{suffix}"

    # -- actions: files -------------------------------------------------------------------

    def open_image(self) -> None:
        from engine import io

        rng = self.rng
        height, width = int(rng.integers(24, 72)), int(rng.integers(24, 96))
        channels = int(rng.choice([3, 3, 3, 1, 4]))
        dtype = np.uint16 if rng.random() < 0.2 else np.uint8
        top = np.iinfo(dtype).max
        y, x = np.mgrid[0:height, 0:width]
        base = (np.sin(x / rng.uniform(3, 12)) * np.cos(y / rng.uniform(3, 12)) + 1) / 2
        pixels = np.stack([base * (0.5 + 0.5 * c / 3) for c in range(channels)], -1)
        pixels = pixels + rng.normal(0, 0.05, pixels.shape)
        if channels == 4:
            pixels[:, :, 3] = 0.4 + 0.6 * (x / width)
        pixels = (np.clip(pixels, 0, 1) * top).astype(dtype)
        path = self._file(".png")
        io.save(path, pixels)
        if self.window.files.open_path(path, ask=False):
            self._base = (self.doc, state_hash(self.doc))

    def save_reopen(self) -> None:
        """Save as .ora and open it again: the same layers, mask and recipes."""
        before = self._signature(self.doc)
        path = self._file(".ora")
        if not self.window.files.save_as(path):
            self.problems.append(f"saving {path.name} failed")
            return
        if not self.window.files.open_path(path, ask=False):
            self.problems.append(f"reopening {path.name} failed")
            return
        after = self._signature(self.doc)
        if after != before:
            self.problems.append(f"{path.name} reopened differs from what was saved")
        self._base = (self.doc, state_hash(self.doc))

    def export(self) -> None:
        from desktop.document.composite import flatten_pixels
        from engine import io

        doc = self.doc
        kind = str(self.rng.choice(["image", "image", "layer", "mask"]))
        path = self._file(".png")
        files = self.window.files
        written = {"image": files.export_image, "layer": files.export_layer,
                   "mask": files.export_mask}[kind](path)
        if written is None:
            self.problems.append(f"export of the {kind} to {path.name} failed")
            return
        if kind == "image":
            expected = flatten_pixels(doc.layers, np.uint16 if doc.bit_depth == 16 else np.uint8)
            loaded = io.load(written).pixels
            if not np.array_equal(np.squeeze(loaded), np.squeeze(expected)):
                self.problems.append(f"the exported {path.name} differs from the composite")

    def autosave(self) -> None:
        self.window.autosave.save_now(wait=True)

    # -- actions: the mask ----------------------------------------------------------------

    def _drag(self, tool: str, count: int, *, alt: bool = False) -> None:
        self.window.set_tool(tool)
        if tool in ("brush", "eraser"):
            self.window.brush.set(size=float(self.rng.uniform(2, 30)),
                                  hardness=float(self.rng.uniform(0, 1)))
        drag(self.window, [self._point() for _ in range(count)], alt=alt)

    def paint(self) -> None:
        self._drag("brush", int(self.rng.integers(1, 10)))

    def erase(self) -> None:
        self._drag("eraser", int(self.rng.integers(1, 8)))

    def lasso(self) -> None:
        self._drag("lasso", int(self.rng.integers(2, 9)), alt=self.rng.random() < 0.3)

    def rect(self) -> None:
        self._drag("rect", 2, alt=self.rng.random() < 0.3)

    def mask_menu(self) -> None:
        kind = str(self.rng.choice(["invert", "clear", "grow", "shrink", "feather"]))
        if kind in ("invert", "clear"):
            self.window.masks.edit(kind)
        else:
            self.window.masks.edit_px(kind, int(self.rng.integers(1, 6)))

    # -- actions: ops and recipes ---------------------------------------------------------

    def _start_op(self) -> bool:
        from engine.ops import get_op

        op = get_op(str(self.rng.choice(FAST_OPS)))
        panel = self.window.ops_panel
        panel.select_op(op.name)
        panel.form.set_values(random_params(op, self.rng))
        if not panel.run_button.isEnabled():
            return False
        panel.run_button.click()
        return True

    def run_op(self) -> None:
        self._start_op()
        self.wait_idle()

    def run_op_cancelled(self) -> None:
        if self._start_op():
            for _ in range(int(self.rng.integers(0, 3))):
                self._process()
            if self.window.ops_panel.cancel_button.isEnabled():
                self.window.ops_panel.cancel_button.click()
        self.wait_idle()

    def run_op_replaced(self) -> None:
        self._start_op()
        self.window.ops.run("median", {"size": int(self.rng.choice([3, 5]))})
        self.wait_idle()

    def run_recipe(self) -> None:
        from engine.core.recipe import Recipe

        self.window.recipes.run(Recipe.from_dict(_RECIPE))
        if self.rng.random() < 0.3:
            self.window.runner.cancel()
        self.wait_idle()

    def run_again(self) -> None:
        panel = self.window.layers_panel
        if panel.rerun.isEnabled():
            panel.rerun.click()
            if self.window.ops_panel.run_button.isEnabled():
                self.window.ops_panel.run_button.click()
            self.wait_idle()

    # -- actions: history, layers, view ---------------------------------------------------

    def undo(self) -> None:
        for _ in range(int(self.rng.integers(1, 4))):
            if self.window.act["undo"].isEnabled():
                self.window.act["undo"].trigger()

    def redo(self) -> None:
        for _ in range(int(self.rng.integers(1, 4))):
            if self.window.act["redo"].isEnabled():
                self.window.act["redo"].trigger()

    def history(self) -> None:
        rows = self.window.history_panel.list.count()
        self.window.history_panel.list.setCurrentRow(int(self.rng.integers(0, max(rows, 1))))

    def layer_edit(self) -> None:
        from PySide6.QtCore import Qt

        panel = self.window.layers_panel
        panel.list.setCurrentRow(int(self.rng.integers(0, panel.list.count())))
        kind = str(self.rng.choice(["up", "down", "duplicate", "delete", "merge", "visible",
                                    "opacity", "rename"]))
        if kind in ("up", "down", "duplicate", "delete", "merge"):
            button = getattr(panel, kind)
            if button.isEnabled():
                button.click()
        elif kind == "visible":
            item = panel.list.currentItem()
            item.setCheckState(Qt.CheckState.Unchecked if item.checkState() ==
                               Qt.CheckState.Checked else Qt.CheckState.Checked)
        elif kind == "opacity":
            panel.opacity.setValue(int(self.rng.integers(0, 101)))
        else:
            panel.list.currentItem().setText(f"Layer {int(self.rng.integers(0, 100))}")

    def compare(self) -> None:
        from PySide6.QtCore import QEvent, Qt
        from PySide6.QtGui import QKeyEvent
        from PySide6.QtWidgets import QApplication

        if self.rng.random() < 0.5:
            self.window.act["split"].trigger()
            return
        view = self.window.view
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(view, QKeyEvent(kind, Qt.Key.Key_Backslash,
                                                   Qt.KeyboardModifier.NoModifier, "\\"))
            self._process()

    def zoom(self) -> None:
        self.window.act[str(self.rng.choice(["fit", "actual", "zoom_in", "zoom_out"]))].trigger()

    # -- checks ---------------------------------------------------------------------------

    @staticmethod
    def _signature(doc: Any) -> tuple:
        """Layers (look, pixels, recipe, source), mask and active layer, for comparisons."""
        ids = {layer.id: index for index, layer in enumerate(doc.layers)}
        layers = tuple((*layer_signature(layer),
                        json.dumps(layer.recipe, sort_keys=True, default=str),
                        ids.get(layer.source_id, layer.source_id)) for layer in doc.layers)
        return layers, doc.mask.coverage.tobytes(), doc.active_index

    def check(self) -> list[str]:
        """The document's consistency; the problems found (also added to :attr:`problems`)."""
        found: list[str] = []
        self.wait_idle()
        doc = self.doc
        if doc is None:
            return found
        if len(doc.layers) != self.window.layers_panel.list.count():
            found.append("the layers panel does not show the document's layers")
        if self.window.history_panel.list.count() != len(doc.history.entries()) + 1:
            found.append("the history panel does not show the document's history")
        history = doc.history
        index, now = history.index, state_hash(doc)
        history.goto(0)
        opened, state = self._base
        if opened is doc and history.dropped == 0 and state_hash(doc) != state:
            found.append("undoing everything does not give the image as it was opened")
        history.goto(len(history.entries()))
        top = state_hash(doc)
        history.goto(0)
        history.goto(len(history.entries()))
        if state_hash(doc) != top:
            found.append("redoing everything twice gives different pixels")
        history.goto(index)
        if state_hash(doc) != now:
            found.append("undoing and redoing everything does not come back to the same pixels")
        from desktop.document.ora import load_ora, save_ora

        path = self._file(".ora")
        save_ora(doc, path)
        if self._signature(load_ora(path)) != self._signature(doc):
            found.append("a saved and reopened .ora differs from the document")
        self.problems += found
        return found
