"""Where the shipped resources (model weights, icons, demo image) live.

In a source checkout or an editable install they are in ``resources/`` at the repository root;
in a frozen app they are unpacked beside the executable. ``PIXELMEND_RESOURCES`` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["RESOURCES_ENV", "resources_dir"]

RESOURCES_ENV = "PIXELMEND_RESOURCES"


def resources_dir() -> Path:
    """The folder that holds ``models/``, ``icons/`` and the other shipped files."""
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"
