"""The Mask menu: whole-mask edits (invert, clear, grow, shrink, feather) and the overlay look.

Each edit goes through ``doc.apply_mask_edit`` on the session's document and so is one undo
step; the overlay look is the canvas scene's. The overlay colour, opacity and the
grow/shrink/feather amounts are remembered in the settings. Every method takes an optional value
so tests and scripts can skip the dialog.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog, QWidget

from desktop import dialogs, settings
from desktop.canvas.scene import DocumentScene
from desktop.session import Session

__all__ = ["DEFAULT_OVERLAY", "MaskController"]

DEFAULT_OVERLAY = "#ff2850"


class MaskController(QObject):
    """Mask menu behaviour for one session.

    Parameters
    ----------
    session : Session
        Whose document's mask is edited.
    scene : DocumentScene
        The canvas whose overlay shows the mask.
    parent : QWidget, optional
        The window the dialogs belong to.
    """

    def __init__(self, session: Session, scene: DocumentScene,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.scene = scene
        self._owner = parent
        scene.set_overlay_style(QColor(settings.get_text("mask/colour", DEFAULT_OVERLAY)),
                                settings.get_float("mask/opacity", 0.5, 0, 1))

    def edit(self, kind: str, **kw) -> None:
        """Apply a whole-mask edit (``invert``, ``clear``, ``grow`` …) as one undo step."""
        doc = self.session.document
        if doc is None:
            return
        try:
            doc.apply_mask_edit(kind, **kw)
        except ValueError as error:
            dialogs.show_error(self._owner, "Mask", str(error))

    def edit_px(self, kind: str, px: int | None = None) -> None:
        """Grow, shrink or feather by ``px`` pixels (asked for when None)."""
        key = f"mask/{kind}_px"
        if px is None:
            start = round(settings.get_float(key, 8, 1, 500))
            px, ok = QInputDialog.getInt(self._owner, f"{kind.capitalize()} mask", "Pixels:",
                                         start, 1, 500)
            if not ok:
                return
        settings.set_value(key, px)
        self.edit(kind, px=px)

    def choose_colour(self, colour: QColor | None = None) -> None:
        """Overlay colour (asked for when None)."""
        if colour is None:
            current = QColor(settings.get_text("mask/colour", DEFAULT_OVERLAY))
            colour = QColorDialog.getColor(current, self._owner, "Mask overlay colour")
        if colour.isValid():
            self.scene.set_overlay_style(colour=colour)
            settings.set_value("mask/colour", colour.name())

    def choose_opacity(self, percent: int | None = None) -> None:
        """Overlay opacity in percent (asked for when None)."""
        if percent is None:
            current = round(settings.get_float("mask/opacity", 0.5, 0, 1) * 100)
            percent, ok = QInputDialog.getInt(self._owner, "Mask overlay", "Opacity (%):",
                                              current, 0, 100)
            if not ok:
                return
        self.scene.set_overlay_style(opacity=percent / 100)
        settings.set_value("mask/opacity", percent / 100)

    def show(self, on: bool) -> None:
        """Show or hide the overlay (the mask itself is unchanged)."""
        self.scene.set_overlay_visible(on)
