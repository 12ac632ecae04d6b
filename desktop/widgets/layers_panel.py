"""The layers panel: the stack top-first with visibility, opacity, names, order and merging.

The list is rebuilt from the document on every ``layers``/``active`` event with its signals
blocked, so a model change never loops back as an edit; every edit the panel makes goes through
the document (and so into the undo history).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.document.document import Document
from desktop.document.layer import Layer

__all__ = ["LayersPanel", "describe_layer"]


def describe_layer(layer: Layer) -> str:
    """Tooltip text: size, depth and the recipe that made the layer."""
    text = (f"{layer.width}×{layer.height}, {layer.bit_depth}-bit "
            f"{'RGB' if layer.channels == 3 else 'gray'}{' + alpha' if layer.has_alpha else ''}")
    if layer.recipe:
        params = ", ".join(f"{key}={value}" for key, value in
                           (layer.recipe.get("params") or {}).items())
        text += f"\nMade by {layer.recipe.get('op')}({params})"
    return text


class LayersPanel(QWidget):
    """Binds to one document's layers.

    Signals
    -------
    rerun_requested(object) : "Run again with other settings" for this layer.
    error(str) : an edit the document refused, with its message.
    """

    rerun_requested = Signal(object)
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.list = QListWidget()
        self.list.setObjectName("layers_list")
        self.list.setEditTriggers(QListWidget.EditTrigger.DoubleClicked
                                  | QListWidget.EditTrigger.EditKeyPressed)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setObjectName("layer_opacity")
        self.opacity_label = QLabel("100 %")
        self.up = self._button("Up", "Move the layer up", QStyle.StandardPixmap.SP_ArrowUp)
        self.down = self._button("Down", "Move the layer down",
                                 QStyle.StandardPixmap.SP_ArrowDown)
        self.duplicate = self._button("Duplicate", "Copy the layer", None)
        self.delete = self._button("Delete", "Delete the layer",
                                   QStyle.StandardPixmap.SP_TrashIcon)
        self.merge = self._button("Merge down", "Merge the layer into the one below", None)
        self.rerun = self._button("Run again…", "Load this layer's recipe into the ops panel and "
                                  "select the layer it was made from, to run it with other "
                                  "settings",
                                  QStyle.StandardPixmap.SP_BrowserReload)
        self._layout()
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.up.clicked.connect(lambda: self._move(+1))
        self.down.clicked.connect(lambda: self._move(-1))
        self.duplicate.clicked.connect(lambda: self._edit(self.doc.duplicate_layer))
        self.delete.clicked.connect(lambda: self._edit(self.doc.remove_layer))
        self.merge.clicked.connect(lambda: self._edit(self.doc.merge_down))
        self.rerun.clicked.connect(self._rerun)
        self.refresh()

    def _button(self, text: str, tip: str, icon: QStyle.StandardPixmap | None) -> QPushButton:
        button = QPushButton(text)
        if icon is not None:
            button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        return button

    def _layout(self) -> None:
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_label)
        grid = QGridLayout()
        for i, button in enumerate((self.up, self.down, self.duplicate, self.delete, self.merge,
                                    self.rerun)):
            grid.addWidget(button, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(opacity_row)
        layout.addLayout(grid)

    # -- binding ----------------------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc``'s layers (None: an empty panel)."""
        if self.doc is not None:
            self.doc.events.disconnect("layers", self.refresh)
            self.doc.events.disconnect("active", self.refresh)
        self.doc = doc
        if doc is not None:
            doc.events.connect("layers", self.refresh)
            doc.events.connect("active", self.refresh)
        self.refresh()

    def row_of(self, index: int) -> int:
        """List row of layer ``index`` (the list shows the top layer first)."""
        return len(self.doc.layers) - 1 - index if self.doc else -1

    def refresh(self, *_args) -> None:
        """Rebuild from the document, without emitting edits."""
        doc = self.doc
        self.list.blockSignals(True)
        self.opacity.blockSignals(True)
        try:
            self.list.clear()
            for layer in reversed(doc.layers if doc else []):
                item = QListWidgetItem(layer.name)
                item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                              | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if layer.visible
                                   else Qt.CheckState.Unchecked)
                item.setToolTip(describe_layer(layer))
                self.list.addItem(item)
            if doc is not None:
                self.list.setCurrentRow(self.row_of(doc.active_index))
                self.opacity.setValue(round(doc.active_layer.opacity * 100))
                self.opacity_label.setText(f"{round(doc.active_layer.opacity * 100)} %")
        finally:
            self.list.blockSignals(False)
            self.opacity.blockSignals(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        doc = self.doc
        count = len(doc.layers) if doc else 0
        index = doc.active_index if doc else -1
        self.up.setEnabled(doc is not None and index < count - 1)
        self.down.setEnabled(doc is not None and index > 0)
        self.duplicate.setEnabled(doc is not None)
        self.delete.setEnabled(count > 1)
        self.merge.setEnabled(doc is not None and index > 0)
        self.rerun.setEnabled(doc is not None and bool(doc.active_layer.recipe))
        self.opacity.setEnabled(doc is not None)

    # -- edits ------------------------------------------------------------------------------

    def _index_of_row(self, row: int) -> int:
        return len(self.doc.layers) - 1 - row

    def _row_changed(self, row: int) -> None:
        if self.doc is not None and row >= 0:
            self.doc.active_index = self._index_of_row(row)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self.doc is None:
            return
        index = self._index_of_row(self.list.row(item))
        name = item.text().strip() or self.doc.layers[index].name
        visible = item.checkState() == Qt.CheckState.Checked
        self._edit(lambda i: self.doc.set_layer_props(i, name=name, visible=visible), index)

    def _opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        if self.doc is not None:
            self._edit(lambda i: self.doc.set_layer_props(i, opacity=value / 100.0))

    def _move(self, step: int) -> None:
        if self.doc is not None:
            self._edit(lambda i: self.doc.move_layer(i, i + step))

    def _edit(self, action, index: int | None = None) -> None:
        if self.doc is None:
            return
        try:
            action(self.doc.active_index if index is None else index)
        except (ValueError, IndexError) as error:
            self.error.emit(str(error))

    def _rerun(self) -> None:
        if self.doc is not None and self.doc.active_layer.recipe:
            self.rerun_requested.emit(self.doc.active_layer)
