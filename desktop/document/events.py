"""A tiny Qt-free observer: the document announces changes, the widgets only listen.

Events a :class:`~desktop.document.document.Document` emits:

``"layers"``
    Layer structure, order or properties changed (no arguments).
``"active"``
    The active layer changed (argument: the new index).
``"layer_pixels"``
    A layer's pixels were replaced (arguments: ``layer_id``, ``rect`` or None for all).
``"mask"``
    Mask coverage changed (argument: ``rect`` as ``(rows, cols)`` slices, None for all).
``"dirty"``
    The unsaved-changes flag flipped (argument: the new value).
``"history"``
    The undo/redo stack changed (no arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Emitter"]


class Emitter:
    """Connect callbacks to named events and call them in connection order."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[..., Any]]] = {}

    def connect(self, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback(*args)`` whenever ``event`` is emitted (once, however often added)."""
        callbacks = self._callbacks.setdefault(event, [])
        if callback not in callbacks:
            callbacks.append(callback)

    def disconnect(self, event: str, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback`` for ``event``; unknown callbacks are ignored."""
        callbacks = self._callbacks.get(event, [])
        if callback in callbacks:
            callbacks.remove(callback)

    def emit(self, event: str, *args: Any) -> None:
        """Call every callback connected to ``event`` with ``args``.

        A callback may connect or disconnect during the emission; the change takes effect at
        the next emission. Exceptions from callbacks propagate to the emitter's caller.
        """
        for callback in tuple(self._callbacks.get(event, ())):
            callback(*args)

    def receivers(self, event: str) -> int:
        """How many callbacks are connected to ``event``."""
        return len(self._callbacks.get(event, ()))
