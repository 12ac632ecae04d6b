"""Dock panels and small widgets of the editor window."""
