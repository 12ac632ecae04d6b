"""``python -m engine.cli``: the command line without the editor's launcher."""

from engine.cli import console_main

console_main()
