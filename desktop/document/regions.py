"""Rectangles as ``(rows, cols)`` slice pairs: the region type of the mask, its undo steps and
the document's events."""

from __future__ import annotations

__all__ = ["Rect", "union_rect"]

Rect = tuple[slice, slice]


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    """The smallest ``(rows, cols)`` rectangle holding both (None counts as empty)."""
    if a is None:
        return b
    if b is None:
        return a
    return (slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
            slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)))
