"""Built-in ops: every module named ``*_op.py`` in this package is imported and registers its ops.

Discovery by file suffix keeps one place (the module) per op family, with no list to maintain.
"""

from __future__ import annotations

import importlib
import pkgutil

from engine.ops.registry import (
    Op,
    OpError,
    OpResult,
    all_ops,
    get_op,
    op_names,
    register,
    run_op,
)

__all__ = ["Op", "OpError", "OpResult", "all_ops", "get_op", "op_names", "register", "run_op"]

for _module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
    if _module.endswith("_op"):
        importlib.import_module(f"{__name__}.{_module}")
