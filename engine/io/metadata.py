"""EXIF constants shared by loading and saving."""

__all__ = ["EXIF_HEADER", "ORIENTATION", "TIFF_EXIF_TAGS", "TIFF_TEXT_TAGS"]

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION = 0x0112
TIFF_EXIF_TAGS = {270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 33432, 0x8769, 0x8825}
"""Descriptive baseline tags carried from/to TIFF (structural tags, sizes or strips, are not)."""
TIFF_TEXT_TAGS = (271, 272, 315, 33432)
"""Make, Model, Artist, Copyright: carried as text tags (the others have their own arguments)."""
