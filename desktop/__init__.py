"""The PixelMend desktop editor (PySide6): canvas, panels, job runner, built on desktop.document."""
