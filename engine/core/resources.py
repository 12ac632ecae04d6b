"""Where the shipped resources (model weights, icons) live.

- ``PIXELMEND_RESOURCES`` overrides everything.
- A frozen app unpacks them beside its executable (``resources/``).
- A source checkout or an editable install reads ``resources/`` at the repository root.
- An installed wheel carries them as data files under ``share/pixelmend/`` of the environment
  (``<prefix>/share/pixelmend``, or the user base for ``pip install --user``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from pathlib import Path

__all__ = ["RESOURCES_ENV", "resources_dir"]

RESOURCES_ENV = "PIXELMEND_RESOURCES"
_SOURCE = Path(__file__).resolve().parents[2] / "resources"


def _installed_candidates() -> list[Path]:
    """``share/pixelmend`` under each data folder an installation may have used."""
    roots = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix]
    with contextlib.suppress(KeyError):  # no user scheme on this platform
        roots.append(sysconfig.get_path("data", f"{os.name}_user"))
    return [Path(root) / "share" / "pixelmend" for root in roots if root]


def resources_dir() -> Path:
    """The folder that holds ``models/``, ``icons/`` and the other shipped files."""
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    if (_SOURCE / "models").is_dir():
        return _SOURCE
    for candidate in _installed_candidates():
        if (candidate / "models").is_dir():
            return candidate
    return _SOURCE  # missing everywhere: errors name the place a checkout would have it
