"""The engine's version, recorded in every recipe."""

__version__ = "0.1.0"
