"""The window's actions, menus and toolbars, with their shortcuts, in one table-like module.

Every action is created here and wired to what it drives: the session (undo, redo), the file
and mask controllers, the canvas view and scene, the brush settings and a tool switcher. The
window is only where the menus, toolbars and shortcuts live. :class:`Actions` keeps the actions
by name so the window can enable, check and test them, and holds the few widgets the menus and
toolbars carry (the recent-files menu, the panels menu, the brush boxes).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QMenu,
    QStyle,
    QToolBar,
)

from desktop import dialogs
from desktop.canvas.brush import BrushSettings
from desktop.canvas.scene import DocumentScene
from desktop.canvas.view import CanvasView
from desktop.file_controller import FileController
from desktop.icons import drawn_icon, standard_icon
from desktop.mask_controller import MaskController
from desktop.recipe_controller import RecipeController
from desktop.session import Session

__all__ = ["Actions", "build_actions"]

SP = QStyle.StandardPixmap
Keys = QKeySequence.StandardKey


class Actions(dict[str, QAction]):
    """Actions by name (``actions["undo"]``), and the widgets the menus and toolbars hold."""

    recent_menu: QMenu
    """File → Open Recent (filled each time it opens)."""
    panels_menu: QMenu
    """View → Panels (the window adds its docks' toggle actions)."""
    size_box: QDoubleSpinBox
    """Brush diameter in the mask tools' toolbar."""
    hardness_box: QDoubleSpinBox
    """Brush hardness in the mask tools' toolbar."""


def _action(window: QMainWindow, actions: Actions, name: str, text: str,
            slot: Callable[..., object], shortcut=None, icon: QIcon | None = None,
            tip: str = "", checkable: bool = False) -> QAction:
    action = QAction(text, window)
    action.setObjectName(f"action_{name}")
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(key) for key in shortcuts])
    if icon is not None:
        action.setIcon(icon)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(lambda checked=False: slot(checked) if checkable else slot())
    window.addAction(action)
    actions[name] = action
    return action


def build_actions(window: QMainWindow, *, session: Session, files: FileController,
                  masks: MaskController, recipes: RecipeController, view: CanvasView,
                  scene: DocumentScene, brush: BrushSettings,
                  set_tool: Callable[[str], None],
                  preferences: Callable[[], None]) -> Actions:
    """Create the actions, menus and toolbars of ``window``.

    Parameters
    ----------
    window : QMainWindow
        Where the menus, toolbars and shortcuts go.
    session : Session
        Undo and redo apply to its document.
    files, masks, recipes : FileController, MaskController, RecipeController
        The File, Mask and Recipes menus.
    view, scene : CanvasView, DocumentScene
        Zoom, and the compare split view.
    brush : BrushSettings
        Size and hardness keys.
    set_tool : callable
        ``set_tool(name)`` makes a mask tool (brush, eraser, lasso, rect) current.
    preferences : callable
        Edit → Preferences.
    """
    a = Actions()
    add = lambda *args, **kw: _action(window, a, *args, **kw)  # noqa: E731

    add("open", "&Open…", files.open_dialog, Keys.Open, standard_icon(SP.SP_DialogOpenButton),
        "Open an image or a saved session")
    add("paste", "&Paste from clipboard", files.paste, Keys.Paste,
        tip="Open the clipboard's image as a new document")
    add("save", "&Save session", files.save, Keys.Save, standard_icon(SP.SP_DialogSaveButton),
        "Save layers, mask and recipes as an OpenRaster (.ora) session")
    add("save_as", "Save session &As…", files.save_as, Keys.SaveAs)
    add("export", "&Export image…", files.export_image, "Ctrl+E",
        tip="Write the visible layers flattened to PNG, TIFF, JPEG or WebP")
    add("export_layer", "Export &layer…", files.export_layer)
    add("export_mask", "Export &mask…", files.export_mask)
    add("close", "&Close", files.close_document, Keys.Close)
    add("quit", "&Quit", QApplication.closeAllWindows, Keys.Quit)

    add("undo", "&Undo", session.undo, Keys.Undo, standard_icon(SP.SP_ArrowBack))
    add("redo", "&Redo", session.redo, ["Ctrl+Shift+Z", "Ctrl+Y"],
        standard_icon(SP.SP_ArrowForward))
    add("preferences", "&Preferences…", preferences, Keys.Preferences,
        tip="How often the session is autosaved")

    tools = QActionGroup(window)
    for name, text, key in (("brush", "&Brush", "B"), ("eraser", "&Eraser", "E"),
                            ("lasso", "&Lasso", "L"), ("rect", "&Rectangle", "M")):
        action = add(f"tool_{name}", text, lambda _c=False, n=name: set_tool(n), key,
                     drawn_icon(name), f"{text.replace('&', '')} tool ({key})", checkable=True)
        tools.addAction(action)
    add("bigger", "Bigger brush", brush.bigger, "]")
    add("smaller", "Smaller brush", brush.smaller, "[")
    add("harder", "Harder brush", brush.harder, ["Shift+]", "}", "Shift+}"])
    add("softer", "Softer brush", brush.softer, ["Shift+[", "{", "Shift+{"])
    add("invert", "&Invert mask", lambda: masks.edit("invert"), "Ctrl+I")
    add("clear", "&Clear mask", lambda: masks.edit("clear"), "Ctrl+Shift+A")
    add("grow", "&Grow mask…", lambda: masks.edit_px("grow"))
    add("shrink", "S&hrink mask…", lambda: masks.edit_px("shrink"))
    add("feather", "&Feather mask…", lambda: masks.edit_px("feather"))
    add("overlay_colour", "Overlay &colour…", masks.choose_colour)
    add("overlay_opacity", "Overlay &opacity…", masks.choose_opacity)
    add("show_mask", "&Show mask", masks.show, "H", checkable=True).setChecked(True)

    for stem, recipe in recipes.recipes:
        add(f"recipe_{stem}", recipe.title(), lambda s=stem: recipes.run_shipped(s),
            tip=f"Run “{recipe.title()}” on the active layer; each step becomes a layer")
    add("run_recipe_file", "Run recipe &file…", recipes.run_file,
        tip="Run a recipe (.json) on the active layer")

    add("fit", "&Fit to window", view.fit, "Ctrl+0")
    add("actual", "&100 %", view.actual_pixels, "Ctrl+1")
    add("zoom_in", "Zoom &in", view.zoom_in, ["Ctrl++", "Ctrl+="])
    add("zoom_out", "Zoom &out", view.zoom_out, "Ctrl+-")
    add("split", "&Compare split view", scene.set_split, "Ctrl+\\", drawn_icon("split"),
        "Before/after with a draggable divider (hold \\ to peek at the layer below)",
        checkable=True)
    add("about", "&About PixelMend", lambda: dialogs.show_about(window))

    _menus(window, a, files, [f"recipe_{stem}" for stem, _recipe in recipes.recipes])
    _toolbars(window, a)
    return a


def _menus(window: QMainWindow, a: Actions, files: FileController,
           recipe_names: list[str]) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(a["open"])
    recent = a.recent_menu = QMenu("Open &Recent", window)
    recent.aboutToShow.connect(lambda: files.fill_recent_menu(recent))
    file_menu.addMenu(recent)
    file_menu.addAction(a["paste"])
    file_menu.addSeparator()
    for name in ("save", "save_as"):
        file_menu.addAction(a[name])
    file_menu.addSeparator()
    for name in ("export", "export_layer", "export_mask"):
        file_menu.addAction(a[name])
    file_menu.addSeparator()
    file_menu.addAction(a["close"])
    file_menu.addAction(a["quit"])

    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(a["undo"])
    edit_menu.addAction(a["redo"])
    edit_menu.addSeparator()
    edit_menu.addAction(a["preferences"])

    mask_menu = bar.addMenu("&Mask")
    for name in ("tool_brush", "tool_eraser", "tool_lasso", "tool_rect"):
        mask_menu.addAction(a[name])
    mask_menu.addSeparator()
    for name in ("bigger", "smaller", "harder", "softer"):
        mask_menu.addAction(a[name])
    mask_menu.addSeparator()
    for name in ("invert", "clear", "grow", "shrink", "feather"):
        mask_menu.addAction(a[name])
    mask_menu.addSeparator()
    for name in ("show_mask", "overlay_colour", "overlay_opacity"):
        mask_menu.addAction(a[name])

    recipe_menu = bar.addMenu("&Recipes")
    for name in recipe_names:
        recipe_menu.addAction(a[name])
    recipe_menu.addSeparator()
    recipe_menu.addAction(a["run_recipe_file"])

    view_menu = bar.addMenu("&View")
    for name in ("fit", "actual", "zoom_in", "zoom_out"):
        view_menu.addAction(a[name])
    view_menu.addSeparator()
    view_menu.addAction(a["split"])
    a.panels_menu = view_menu.addMenu("&Panels")

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a["about"])


def _toolbars(window: QMainWindow, a: Actions) -> None:
    main = QToolBar("File and edit", window)
    main.setObjectName("toolbar_main")
    for name in ("open", "save", None, "undo", "redo", None, "fit", "actual", "split"):
        if name is None:
            main.addSeparator()
        else:
            main.addAction(a[name])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, main)

    tools = QToolBar("Mask tools", window)
    tools.setObjectName("toolbar_tools")
    for name in ("tool_brush", "tool_eraser", "tool_lasso", "tool_rect"):
        tools.addAction(a[name])
    tools.addSeparator()
    tools.addWidget(QLabel(" Size "))
    size = a.size_box = QDoubleSpinBox()
    size.setObjectName("brush_size")
    size.setRange(1, 2000)
    size.setDecimals(0)
    size.setSuffix(" px")
    size.setToolTip("Brush diameter in image pixels ([ and ])")
    tools.addWidget(size)
    tools.addWidget(QLabel(" Hardness "))
    hardness = a.hardness_box = QDoubleSpinBox()
    hardness.setObjectName("brush_hardness")
    hardness.setRange(0, 1)
    hardness.setSingleStep(0.1)
    hardness.setToolTip("1 = hard edge, 0 = soft (Shift+[ and Shift+])")
    tools.addWidget(hardness)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, tools)
