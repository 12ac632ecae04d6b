"""Importing the engine and listing its ops stays cheap: no torch, no Qt.

The editor's start-up and ``pixelmend ops`` depend on this; torch loads only when an op that
needs it runs.
"""

import subprocess
import sys

PROBE = (
    "import sys, engine; engine.op_names(); import engine.cli; "
    "print(sorted(m for m in ('torch', 'PySide6', 'desktop') if m in sys.modules))"
)


def test_engine_import_pulls_neither_torch_nor_qt():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"
