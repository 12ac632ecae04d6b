"""The ops panel: pick an op, see what it does and how it uses the mask, set its params, run it.

Everything shown comes from the registry (title, category, description, mask use, devices and
param specs), so a new op appears here without a line of UI code. A row at the top runs a whole
recipe in one click ("Restore old photo"); the recipes are given by whoever runs them
(:meth:`OpsPanel.set_recipes`). An op whose shipped model is missing or damaged
(:attr:`engine.ops.registry.Op.models`) is greyed in the list with the reason as its tooltip;
chosen, it shows that reason in one line and cannot be run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.qimages import qimage_from_array
from desktop.widgets.param_form import ParamForm
from engine.core.pixels import to_uint8
from engine.ops import all_ops, get_op
from engine.ops.registry import Op

__all__ = ["PREVIEW_SIDE", "OpsPanel", "mask_note", "unavailable_reason"]

FULL_FORM_LINES = 24
"""Forms up to this many text lines tall (about ten parameters) always show whole; longer ones
scroll, keeping at least eight lines in view."""

PREVIEW_SIDE = 256
"""Edge (px) of the crop that Preview runs the op on."""
PREVIEW_HEIGHT = 200
"""Tallest a preview is drawn in the panel (px)."""

_DEVICE_TITLES = {"cpu": "CPU", "cuda": "GPU (CUDA)", "mps": "GPU (Apple)"}


def mask_note(op: type[Op]) -> str:
    """One line telling a person how ``op`` uses the mask (and, for a generating op, where its
    result goes)."""
    if getattr(op, "generates", False):
        return ("Makes a new image: one of another size than this image opens as a new "
                "document; one of the same size (filling the mask) lands as a new layer.")
    if op.mask_use == "ignore":
        return "Ignores the mask; proposes a new mask you can edit."
    if op.needs_mask:
        return "Needs a mask: changes only the painted area."
    if op.mask_use == "feather":
        return "Only inside the mask (soft edge) when one is painted, else the whole image."
    return "Only inside the mask when one is painted, else the whole image."


def unavailable_reason(op: type[Op]) -> str:
    """Why ``op`` cannot run here (a shipped model it needs is missing or damaged), or ""."""
    from engine.models.weights import WeightsError, verify_weights

    for name in op.models:
        try:
            verify_weights(name)
        except WeightsError as error:
            return str(error)
    return ""


class OpsPanel(QWidget):
    """Op chooser, description, parameter form, Run/Cancel and progress.

    Signals
    -------
    run_requested(str op, dict params, object device) : the Run button was pressed.
    preview_requested(str op, dict params, object device) : the Preview button was pressed
        (run on a crop and show before | after here; nothing is added to the document).
    cancel_requested() : the Cancel button was pressed.
    recipe_requested(str name) : "Run recipe" was pressed for the recipe called ``name``.
    """

    run_requested = Signal(str, dict, object)
    preview_requested = Signal(str, dict, object)
    cancel_requested = Signal()
    recipe_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recipe_combo = QComboBox()
        self.recipe_combo.setObjectName("recipe_combo")
        self.recipe_button = QPushButton("Run recipe")
        self.recipe_button.setObjectName("recipe_button")
        self.recipe_button.setToolTip("Run every step of the recipe on the active layer: each "
                                      "step's result becomes a layer you can edit")
        self.recipe_button.setEnabled(False)
        self.combo = QComboBox()
        self.combo.setObjectName("op_combo")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mask_info = QLabel()
        self.mask_info.setWordWrap(True)
        self.mask_info.setObjectName("mask_info")
        self.form = ParamForm()
        self.device = QComboBox()
        self.device.setToolTip("Where the op runs; Automatic prefers the GPU when there is one")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run_button")
        self.run_button.setDefault(True)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("preview_button")
        self.preview_button.setToolTip(
            f"Try the settings on a {PREVIEW_SIDE}×{PREVIEW_SIDE} crop (the middle of the mask, "
            "or of the image) and see it here, before | after; nothing is added")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.setEnabled(False)
        self.reset_button = QPushButton("Defaults")
        self.reset_button.setToolTip("Reset every parameter to its default")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setVisible(False)
        self._unavailable = ""
        self._layout()
        self._fill_ops()
        self.combo.currentIndexChanged.connect(self._op_changed)
        self.run_button.clicked.connect(self._run_clicked)
        self.preview_button.clicked.connect(self._preview_clicked)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.recipe_button.clicked.connect(self._recipe_clicked)
        self.reset_button.clicked.connect(self.form.reset)
        self._op_changed()

    def _layout(self) -> None:
        self._scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        device_row = QHBoxLayout()
        device_row.addWidget(QLabel("Device"))
        device_row.addWidget(self.device, 1)
        recipe_row = QHBoxLayout()
        recipe_row.addWidget(QLabel("Recipe"))
        recipe_row.addWidget(self.recipe_combo, 1)
        recipe_row.addWidget(self.recipe_button)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.addLayout(recipe_row)
        layout.addWidget(line)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.mask_info)
        # The form takes the free height first (up to what it needs, see _fit_form_height);
        # the stretch below only keeps short forms at the top.
        layout.addWidget(scroll, 10)
        layout.addLayout(device_row)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.preview)
        layout.addStretch(1)

    def _fill_ops(self) -> None:
        category = None
        for op in all_ops():
            if op.category != category:
                category = op.category
                self.combo.addItem(f"— {category} —")
                header = self.combo.model().item(self.combo.count() - 1)
                header.setEnabled(False)
            self.combo.addItem(f"  {op.title}", op.name)
            reason = unavailable_reason(op)
            if reason:
                index = self.combo.count() - 1
                self.combo.setItemText(index, f"  {op.title} (unavailable)")
                self.combo.setItemData(index, f"Unavailable: {reason}",
                                       Qt.ItemDataRole.ToolTipRole)
                self.combo.setItemData(index, self.palette().color(
                    QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text),
                    Qt.ItemDataRole.ForegroundRole)
        for index in range(self.combo.count()):
            if self.combo.itemData(index):
                self.combo.setCurrentIndex(index)
                break

    # -- state ----------------------------------------------------------------------------

    def current_op(self) -> type[Op] | None:
        """The chosen op class, or None when the registry is empty."""
        name = self.combo.currentData()
        return get_op(name) if name else None

    def select_op(self, name: str) -> None:
        """Choose the op called ``name``."""
        index = self.combo.findData(name)
        if index < 0:
            raise KeyError(f"no op named {name!r} in the ops panel")
        self.combo.setCurrentIndex(index)

    def load_recipe(self, recipe: dict[str, Any]) -> None:
        """Show a layer's recipe: its op and its parameter values; a recipe of several steps
        (an image a whole recipe made) is chosen in the recipe row.

        Raises
        ------
        ValueError
            A recipe of several steps that is not one of the offered recipes.
        """
        if "op" not in recipe and recipe.get("steps"):
            index = self.recipe_combo.findText(str(recipe.get("name", "")))
            if index < 0:
                raise ValueError(f"it was made by a recipe of {len(recipe['steps'])} steps; "
                                 "run that recipe again with Recipes → Run recipe file…")
            self.recipe_combo.setCurrentIndex(index)
            return
        self.select_op(str(recipe["op"]))
        self.form.reset()
        self.form.set_values(dict(recipe.get("params") or {}))

    def set_recipes(self, recipes: list[tuple[str, str, str]]) -> None:
        """Offer ``(name, title, tooltip)`` recipes in the recipe row (the first is chosen)."""
        self.recipe_combo.clear()
        for name, title, tip in recipes:
            self.recipe_combo.addItem(title, name)
            self.recipe_combo.setItemData(self.recipe_combo.count() - 1, tip,
                                          Qt.ItemDataRole.ToolTipRole)
        self.recipe_button.setEnabled(bool(recipes) and not self.cancel_button.isEnabled())

    def _recipe_clicked(self) -> None:
        name = self.recipe_combo.currentData()
        if name:
            self.recipe_requested.emit(str(name))

    def _op_changed(self) -> None:
        op = self.current_op()
        self.form.set_specs(op.params if op else ())
        # New editors become visible (and count for the layout) in the next event loop pass.
        QTimer.singleShot(0, self._fit_form_height)
        self.description.setText(op.description if op else "No ops are installed.")
        self._unavailable = unavailable_reason(op) if op else ""
        if self._unavailable:
            self.mask_info.setText(f"Unavailable: {self._unavailable}")
            self.mask_info.setStyleSheet("color: #d32f2f; font-weight: bold")
        else:
            self.mask_info.setText(mask_note(op) if op else "")
            self.mask_info.setStyleSheet("")
        self.device.clear()
        self.device.addItem("Automatic", None)
        for kind in op.devices if op else ():
            self.device.addItem(_DEVICE_TITLES.get(kind, kind), kind)
        self._update_run_button()

    def _update_run_button(self) -> None:
        op = self.current_op()
        runnable = op is not None and not self._unavailable
        self.run_button.setEnabled(runnable and not self.cancel_button.isEnabled())
        # A crop says nothing of an op that makes a new image or learns from the whole one.
        self.preview_button.setEnabled(self.run_button.isEnabled()
                                        and not getattr(op, "generates", False))
        self.run_button.setToolTip(f"Unavailable: {self._unavailable}" if self._unavailable
                                   else "Run the op on the active layer")

    def _fit_form_height(self) -> None:
        """No taller than the form needs; a long form gets a scroll bar when space runs out."""
        height = self.form.sizeHint().height() + 2 * self._scroll.frameWidth()
        if self.form.minimumSizeHint().width() > self._scroll.viewport().width():
            height += self._scroll.horizontalScrollBar().sizeHint().height()
        self._scroll.setMaximumHeight(height)
        # Ordinary forms show whole; only a very long one scrolls (at least 8 lines shown).
        line = self.fontMetrics().height()
        self._scroll.setMinimumHeight(height if height <= FULL_FORM_LINES * line else 8 * line)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_form_height()      # a narrower panel may need the horizontal scroll bar

    def _run_clicked(self) -> None:
        self._request(self.run_requested)

    def _preview_clicked(self) -> None:
        self._request(self.preview_requested)

    def _request(self, signal: Signal) -> None:
        op = self.current_op()
        if op is None:
            return
        try:
            params = self.form.values()
        except ValueError as error:
            self.status.setText(str(error))
            return
        signal.emit(op.name, params, self.device.currentData())

    # -- job feedback ---------------------------------------------------------------------

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Switch between the running and idle look."""
        self.cancel_button.setEnabled(busy)
        self._update_run_button()
        self.recipe_button.setEnabled(not busy and self.recipe_combo.count() > 0)
        self.progress.setValue(0)
        self.preview.clear()  # a preview belongs to the run in progress only
        self.preview.setVisible(False)
        self._fit_form_height()
        self.status.setText(message)

    def show_progress(self, fraction: float, message: str) -> None:
        """A throttled progress report from the job runner."""
        self.progress.setValue(round(fraction * 1000))
        if message:
            self.status.setText(message)

    def show_preview(self, image: np.ndarray) -> None:
        """A preview (a crop's before | after, GAN training's samples), scaled to the panel's
        width."""
        array = to_uint8(np.asarray(image))
        if array.ndim == 3 and array.shape[2] > 3:
            array = array[:, :, :3]  # a preview shows colour only
        pixmap = QPixmap.fromImage(qimage_from_array(array))
        side = max(self.width() - 16, 64)
        self.preview.setPixmap(pixmap.scaled(side, min(side, PREVIEW_HEIGHT),
                                             Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        self.preview.setVisible(True)
        # Room for the preview: a long form scrolls rather than overlapping the buttons.
        self._scroll.setMinimumHeight(min(self._scroll.minimumHeight(),
                                          8 * self.fontMetrics().height()))
