"""The tool interface the canvas view drives, and the z level of tool feedback items."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt

if TYPE_CHECKING:
    from desktop.canvas.scene import DocumentScene

__all__ = ["TOOL_Z", "Tool"]

TOOL_Z = 20_000  # above the mask overlay: outlines and previews


class Tool:
    """Base tool: does nothing; subclasses override what they need."""

    name = "tool"
    title = "Tool"
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, scene: DocumentScene) -> None:
        self.scene = scene

    def activate(self) -> None:
        """The tool became current."""

    def deactivate(self) -> None:
        """Another tool became current; finish or drop anything in progress."""
        self.cancel()

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        """Left button down at image position ``pos``."""

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        """Mouse moved with the left button down."""

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        """Left button up."""

    def hover(self, pos: QPointF | None) -> None:
        """Mouse moved (button up or down); None when it left the canvas."""

    def cancel(self) -> None:
        """Escape: drop the gesture in progress."""
