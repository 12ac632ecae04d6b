"""``python -m desktop [images...]``: start the editor, or run an engine CLI subcommand."""

import sys

from desktop.launcher import main

sys.exit(main())
