"""The editor window: canvas in the middle, ops/layers/history docks, menus, status bar.

One document per window. The window owns a :class:`~desktop.session.Session` (the document it
shows), one :class:`~desktop.jobs.JobRunner` (closing the window cancels and joins it), the
canvas scene bound to the document, and the controllers for files, masks, ops and autosave. The
controllers get the session, the runner and the widgets they drive, never the window, so
nothing here is imported back. Settings (geometry, dock layout, brush, overlay) persist in
QSettings.

:func:`new_window` makes further windows (kept alive until closed); a window shows a document
that an op generated in a new one unless it is empty itself (:meth:`MainWindow.open_document`).
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QScrollArea, QWidget

from desktop import dialogs, settings
from desktop.actions import build_actions
from desktop.autosave_timer import (
    INTERVAL_KEY,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    AutosaveTimer,
    interval_override,
)
from desktop.canvas.scene import DocumentScene
from desktop.canvas.tools import BrushSettings, make_tools
from desktop.canvas.view import CanvasView
from desktop.document.document import Document
from desktop.file_controller import FileController
from desktop.jobs import JobRunner
from desktop.mask_controller import MaskController
from desktop.op_controller import OpController
from desktop.recipe_controller import RecipeController
from desktop.session import Session
from desktop.widgets.history_panel import HistoryPanel
from desktop.widgets.layers_panel import LayersPanel
from desktop.widgets.ops_panel import OpsPanel
from desktop.widgets.preferences import PreferencesDialog
from desktop.widgets.status_bar import StatusBar

__all__ = ["MainWindow", "new_window", "open_windows"]

APP_TITLE = "PixelMend"
_CASCADE = 32  # px a new window is shifted from the one that opened it
_windows: list[MainWindow] = []


class MainWindow(QMainWindow):
    """The editor. ``look_up_device=False`` skips the background torch import (tests)."""

    def __init__(self, parent: QWidget | None = None, *, look_up_device: bool = True) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._look_up_device = look_up_device
        self._shown: Document | None = None
        self.session = Session(self)
        self.brush = BrushSettings(settings.get_float("brush/size", 40, 1, 2000),
                                   settings.get_float("brush/hardness", 0.8, 0, 1))
        self.scene = DocumentScene(self)
        self.view = CanvasView(self.scene, self)
        self.setCentralWidget(self.view)
        self.tools = make_tools(self.scene, self.brush)
        self.tool_name = ""
        self.ops_panel = OpsPanel()
        self.layers_panel = LayersPanel()
        self.history_panel = HistoryPanel()
        self.status = StatusBar(self, look_up_device=look_up_device)
        self.setStatusBar(self.status)
        self.runner = JobRunner(self)
        self.files = FileController(self.session, self)
        self.ops = OpController(self.session, self.runner, self.ops_panel, self)
        self.recipes = RecipeController(self.session, self.runner, self.ops_panel, self)
        self.autosave = AutosaveTimer(self)
        self.masks = MaskController(self.session, self.scene, self)
        self.act = build_actions(self, session=self.session, files=self.files, masks=self.masks,
                                 recipes=self.recipes, view=self.view, scene=self.scene,
                                 brush=self.brush, set_tool=self.set_tool,
                                 preferences=self.preferences)
        self.recent_menu = self.act.recent_menu
        self.panels_menu = self.act.panels_menu
        self.size_box = self.act.size_box
        self.hardness_box = self.act.hardness_box
        self._docks()
        self._wire()
        self.set_tool("brush")
        self._sync_brush_boxes()
        self.set_document(None)
        self._restore_layout()

    # -- construction ---------------------------------------------------------------------

    def _docks(self) -> None:
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget, area in (
                ("ops", "Ops", self.ops_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                ("layers", "Layers", self.layers_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                ("history", "History", self.history_panel, Qt.DockWidgetArea.LeftDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(_scrolling(widget) if name == "ops" else widget)
            self.addDockWidget(area, dock)
            self.panels_menu.addAction(dock.toggleViewAction())
            self.docks[name] = dock

    def _default_dock_sizes(self) -> None:
        # In characters of the current font, so the panels scale with HiDPI and font settings.
        char = self.fontMetrics().averageCharWidth()
        self.resizeDocks([self.docks["ops"], self.docks["history"]], [char * 64, char * 28],
                         Qt.Orientation.Horizontal)
        line = self.fontMetrics().height()
        self.resizeDocks([self.docks["ops"], self.docks["layers"]], [line * 30, line * 14],
                         Qt.Orientation.Vertical)

    def _wire(self) -> None:
        self.session.document_changed.connect(self._show_document)
        self.session.message.connect(self.status.showMessage)
        self.ops.document_generated.connect(self._show_generated)
        self.recipes.document_generated.connect(self._show_generated)
        self.ops.panel_wanted.connect(self.show_ops_panel)
        self.view.zoom_changed.connect(self.status.set_zoom)
        self.view.cursor_moved.connect(self.status.set_cursor)
        self.view.peek.connect(self.scene.set_peek)
        self.view.divider = self.scene.split
        self.files.saving.connect(self.autosave.note_saving)
        self.layers_panel.rerun_requested.connect(self.ops.rerun)
        self.layers_panel.error.connect(lambda text: dialogs.show_error(self, "Layers", text))
        self.brush.changed.connect(self._sync_brush_boxes)
        self.size_box.valueChanged.connect(lambda value: self.brush.set(size=value))
        self.hardness_box.valueChanged.connect(lambda value: self.brush.set(hardness=value))

    def _restore_layout(self) -> None:
        geometry = settings.restore_bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            screen = QApplication.primaryScreen()
            area = screen.availableGeometry() if screen else None
            if area is not None:
                self.resize(round(area.width() * 0.8), round(area.height() * 0.8))
        state = settings.restore_bytes("window/state")
        if state is None or not self.restoreState(state):
            QTimer.singleShot(0, self._default_dock_sizes)

    # -- document -------------------------------------------------------------------------

    @property
    def document(self) -> Document | None:
        """The document this window shows (the session's), or None."""
        return self.session.document

    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` in this window (None: the empty window)."""
        self.session.set_document(doc)

    def open_document(self, doc: Document) -> MainWindow:
        """Show ``doc`` here if this window is empty, else in a new window (as a second image
        opens); return the window that shows it."""
        if self.document is None:
            self.set_document(doc)
            return self
        window = new_window(look_up_device=self._look_up_device)
        window.set_document(doc)
        window.show()
        window.move(self.pos() + QPoint(_CASCADE, _CASCADE))
        window.raise_()
        window.activateWindow()
        return window

    def _show_generated(self, doc: Document) -> None:
        window = self.open_document(doc)
        recipe = doc.layers[0].recipe
        if recipe:  # the window's ops panel shows what made the image, ready to run again
            with suppress(KeyError, ValueError):
                window.ops_panel.load_recipe(recipe)

    def _show_document(self, doc: Document | None) -> None:
        if self.runner.busy:
            self.runner.cancel()
        old, self._shown = self._shown, doc
        if old is not None:
            old.events.disconnect("dirty", self._update_title)
            old.events.disconnect("history", self._update_actions)
        self.scene.set_document(doc)
        self.layers_panel.set_document(doc)
        self.history_panel.set_document(doc)
        self.status.set_document(doc)
        self.autosave.set_document(doc)
        if doc is not None:
            doc.events.connect("dirty", self._update_title)
            doc.events.connect("history", self._update_actions)
        self.view.fit()
        self._update_title()
        self._update_actions()

    def _update_title(self, *_args) -> None:
        doc = self.document
        if doc is None:
            self.setWindowTitle(APP_TITLE)
            self.setWindowModified(False)
            return
        self.setWindowTitle(f"{doc.title}[*] — {APP_TITLE}")
        self.setWindowModified(doc.dirty)

    def _update_actions(self, *_args) -> None:
        doc = self.document
        has_doc = doc is not None
        history = doc.history if doc else None
        self.act["undo"].setEnabled(bool(history and history.can_undo))
        self.act["redo"].setEnabled(bool(history and history.can_redo))
        self.act["undo"].setText(f"&Undo {history.undo_text}" if history and
                                     history.can_undo else "&Undo")
        self.act["redo"].setText(f"&Redo {history.redo_text}" if history and
                                     history.can_redo else "&Redo")
        for name in ("save", "save_as", "export", "export_layer", "export_mask", "close",
                     "invert", "clear", "grow", "shrink", "feather", "fit", "actual",
                     "zoom_in", "zoom_out", "split", "run_recipe_file",
                     *(f"recipe_{stem}" for stem, _recipe in self.recipes.recipes)):
            self.act[name].setEnabled(has_doc)
        self._update_title()

    # -- edit and mask --------------------------------------------------------------------

    def undo(self) -> None:
        """Undo one step of the document."""
        self.session.undo()

    def redo(self) -> None:
        """Redo one step of the document."""
        self.session.redo()

    def set_tool(self, name: str) -> None:
        """Make tool ``name`` (brush, eraser, lasso, rect) current."""
        if self.tool_name and self.tool_name != name:
            self.tools[self.tool_name].deactivate()
        self.tool_name = name
        tool = self.tools[name]
        tool.activate()
        self.view.tool = tool
        self.view.viewport().setCursor(tool.cursor)
        self.act[f"tool_{name}"].setChecked(True)

    def _sync_brush_boxes(self) -> None:
        for box, value in ((self.size_box, self.brush.size),
                           (self.hardness_box, self.brush.hardness)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        settings.set_value("brush/size", self.brush.size)
        settings.set_value("brush/hardness", self.brush.hardness)

    def preferences(self, interval_s: float | None = None) -> None:
        """Edit → Preferences (``interval_s`` skips the dialog): the autosave interval, kept in
        the settings and applied to every open window."""
        if interval_s is None:
            dialog = PreferencesDialog(self.autosave.interval_s, MIN_INTERVAL_S, MAX_INTERVAL_S,
                                       interval_override(), self)
            if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
                return
            interval_s = dialog.interval.value()
        settings.set_value(INTERVAL_KEY, float(interval_s))
        if interval_override() is None:
            for window in {self, *open_windows()}:
                window.autosave.set_interval(interval_s)

    def show_ops_panel(self) -> None:
        self.docks["ops"].show()
        self.docks["ops"].raise_()

    # -- drag and drop --------------------------------------------------------------------

    @staticmethod
    def _local_files(event) -> list[str]:
        data = event.mimeData()
        if data is None or not data.hasUrls():
            return []
        return [url.toLocalFile() for url in data.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._local_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        files = self._local_files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files.open_path(files[0])
        if len(files) > 1:
            self.statusBar().showMessage(
                f"Opened {Path(files[0]).name}; one image per window ({len(files) - 1} more "
                "not opened)", 6000)

    # -- closing --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel and join the worker, drop the crash copy, remember the layout."""
        self.runner.shutdown()
        self.autosave.stop()
        settings.set_value("window/geometry", self.saveGeometry())
        settings.set_value("window/state", self.saveState())


def _scrolling(panel: QWidget) -> QScrollArea:
    """``panel`` in a scroll area that fills the dock: a window too short for the whole panel
    (a small laptop screen) scrolls it instead of squeezing its rows over each other."""
    area = QScrollArea()
    area.setObjectName(f"{panel.objectName() or 'panel'}_scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(panel)
    return area


def new_window(**kwargs) -> MainWindow:
    """A new editor window, kept alive until it is closed (then freed with its document)."""
    window = MainWindow(**kwargs)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    _windows.append(window)
    window.destroyed.connect(lambda *_: _windows.remove(window) if window in _windows else None)
    return window


def open_windows() -> list[MainWindow]:
    """The windows :func:`new_window` made that are still open."""
    return list(_windows)
