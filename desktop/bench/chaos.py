"""``pixelmend bench chaos``: a seeded run of random actions on the real editor window.

Runs :class:`~desktop.bench.chaos_actions.ChaosRun` (1,000 actions by default) on a window
offscreen, in a scratch folder with its own settings, checking the document's consistency every
``--check-every`` actions and at the end, and prints the action counts, the time, the
exceptions caught (``sys.excepthook`` and critical Qt messages), the failed checks and the
messages the editor showed. The exit code is 1 when anything went wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["format_report", "main", "run"]


def run(actions: int = 1000, seed: int = 0, check_every: int = 100) -> dict[str, Any]:
    """Run the actions; return counts, seconds, errors, problems and messages shown."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PIXELMEND_DEVICE", "cpu")
    from desktop.bench.chaos_actions import ChaosRun
    from desktop.bench.drive import DialogRecorder, ErrorTrap, isolated

    with tempfile.TemporaryDirectory(prefix="pixelmend-bench-chaos-") as folder:
        isolated(folder)
        from desktop.app import create_application
        from desktop.main_window import MainWindow

        create_application()
        isolated(folder)
        trap = ErrorTrap().install()
        dialogs = DialogRecorder().install()
        window = MainWindow(look_up_device=False)
        window.resize(1000, 700)
        window.show()
        chaos = ChaosRun(window, os.path.join(folder, "files"), seed)
        began = time.perf_counter()
        try:
            for number in range(1, actions + 1):
                chaos.step()
                if number % check_every == 0 or number == actions:
                    chaos.check()
        finally:
            seconds = time.perf_counter() - began
            if window.document is not None:
                window.document.mark_saved()
            window.shutdown()
            window.close()
            dialogs.uninstall()
            trap.uninstall()
    return {"actions": actions, "seed": seed, "seconds": seconds, "counts": chaos.counts,
            "errors": list(trap.errors), "problems": list(chaos.problems),
            "messages": Counter(title for _kind, title, _text in dialogs.messages)}


def format_report(figures: dict[str, Any]) -> str:
    """The figures as text: counts, time, exceptions, problems, messages shown."""
    counts: Counter[str] = figures["counts"]
    lines = [f"{figures['actions']} actions (seed {figures['seed']}) in "
             f"{figures['seconds']:.1f} s ({figures['seconds'] / figures['actions'] * 1e3:.0f} "
             f"ms each), {os.cpu_count()} CPU cores",
             f"exceptions: {len(figures['errors'])}   failed checks: {len(figures['problems'])}",
             "", f"{'action':<18} {'count':>6}"]
    lines += [f"{name:<18} {count:>6}" for name, count in counts.most_common()]
    if figures["messages"]:
        lines += ["", "messages the editor showed (expected refusals, e.g. an op without a mask):"]
        lines += [f"  {count:>4} × {title}" for title, count in figures["messages"].most_common()]
    for text in figures["errors"] + figures["problems"]:
        lines += ["", text.rstrip()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``[--actions N] [--seed N] [--check-every N]``, run, print; 1 on any problem."""
    parser = argparse.ArgumentParser(prog="pixelmend bench chaos",
                                     description="Random actions on the real editor window.")
    parser.add_argument("--actions", type=int, default=1000, help="how many (1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--check-every", type=int, default=100,
                        help="check the document's consistency every N actions (100)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.actions < 1 or args.check_every < 1:
        parser.error("--actions and --check-every must be at least 1")
    figures = run(args.actions, args.seed, args.check_every)
    print(format_report(figures))
    return 1 if figures["errors"] or figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
