"""The editor side of ``pixelmend bench crash``: an edit session to be killed, and a restart.

``python -m desktop.bench.crash_child session FOLDER SEED`` opens ``FOLDER/photo.png`` in the
real window and edits it the way a person does (brush strokes, a lasso, a rectangle, two ops,
two saves to ``FOLDER/sessions/session.ora``), with pauses between, then waits to be killed.
Every step is appended to ``FOLDER/journal.jsonl`` with the time and the document's
:func:`~desktop.bench.drive.state_hash`, and so is every crash copy the autosave starts and
finishes; the parent reads it to choose when to kill and to judge what the restart recovered.

``python -m desktop.bench.crash_child restart FOLDER`` starts the editor as the next start does
(the real :func:`desktop.app.offer_recoveries`, answering "Recover"), and writes what it was
offered, what it recovered and which temporary files are left to ``FOLDER/restart.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from desktop.bench.drive import DialogRecorder, ErrorTrap, drag, isolated, state_hash

__all__ = ["Journal", "restart", "session", "session_plan"]

SESSION_NAME = "session.ora"
JOB = ("bilateral", {"diameter": 15, "sigma_color": 0.1, "sigma_space": 5.0})


class Journal:
    """Appends one JSON line per event; a line is written whole or not at all (O_APPEND)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"t": time.time(), "event": event, **fields}) + "\n"
        os.write(self._fd, line.encode())


def session_plan(seed: int) -> list[str]:
    """The session's steps: strokes with a lasso and a rectangle among them, two ops, two
    saves (a fixed order, so every kind of moment comes up; the strokes vary with ``seed``)."""
    del seed  # the order is fixed; positions and pauses use the seed
    return (["stroke"] * 3 + ["job"] + ["stroke"] * 2 + ["save"] + ["stroke", "lasso"]
            + ["job"] + ["stroke", "rect"] + ["save"] + ["stroke"] * 4)


def _wait(app: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def _hook_autosave(journal: Journal) -> None:
    """Journal every crash copy: the state it holds when its writing starts, and when it is on
    disk (the writer thread calls :meth:`Autosaver.save` with the snapshot)."""
    from desktop.document.autosave import Autosaver

    plain_save = Autosaver.save
    counter = iter(range(1, 1 << 30))

    def save(self, snap):
        number = next(counter)
        began = time.time()
        journal.write("autosave-start", n=number, state=state_hash(snap))
        path = plain_save(self, snap)
        journal.write("autosave-done", n=number, seconds=time.time() - began)
        return path

    Autosaver.save = save


def _start(folder: Path, journal: Journal | None = None
           ) -> tuple[Any, Any, ErrorTrap, DialogRecorder]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    isolated(folder)
    from desktop.app import create_application
    from desktop.main_window import MainWindow

    app = create_application()
    isolated(folder)  # create_application names the app; keep the scratch settings
    trap = ErrorTrap(None if journal is None else
                     lambda text: journal.write("error", text=text)).install()
    dialogs = DialogRecorder().install()
    window = MainWindow(look_up_device=False)
    window.resize(1000, 700)
    window.show()
    app.processEvents()
    return app, window, trap, dialogs


def session(folder: Path, seed: int) -> int:
    """Run the edit session until killed (or for at most a minute)."""
    journal = Journal(folder / "journal.jsonl")
    app, window, trap, _dialogs = _start(folder, journal)
    _hook_autosave(journal)
    rng = np.random.default_rng(seed)
    window.files.open_path(folder / "photo.png", ask=False)
    doc = window.document
    journal.write("open", state=state_hash(doc))
    height, width = doc.shape
    saved_to = folder / "sessions" / SESSION_NAME
    saved_to.parent.mkdir(exist_ok=True)

    def point() -> tuple[float, float]:
        return float(rng.uniform(0, width)), float(rng.uniform(0, height))

    for number, step in enumerate(session_plan(seed), 1):
        _wait(app, float(rng.uniform(0.15, 0.5)))
        if step in ("stroke", "lasso", "rect"):
            window.set_tool({"stroke": "brush", "lasso": "lasso", "rect": "rect"}[step])
            window.brush.set(size=float(rng.uniform(8, 40)))
            start, end = point(), point()
            count = 8 if step != "lasso" else 12
            points = ([(start[0] + (end[0] - start[0]) * i / count,
                        start[1] + (end[1] - start[1]) * i / count) for i in range(count + 1)]
                      if step != "lasso" else [point() for _ in range(count)])
            drag(window, points)
        elif step == "job":
            count = len(doc.layers)
            journal.write("job-start", step=number, state=state_hash(doc))
            window.ops.run(*JOB)
            while len(doc.layers) == count and window.runner.busy:
                _wait(app, 0.01)
        elif step == "save":
            journal.write("save-start", step=number, state=state_hash(doc))
            window.files.save_as(saved_to)
        journal.write(f"{step}-done" if step in ("job", "save") else step,
                      step=number, state=state_hash(doc), dirty=doc.dirty)
    journal.write("idle", state=state_hash(doc), errors=trap.errors)
    _wait(app, 60)
    return 1  # not killed: the parent counts it as a failed trial


def restart(folder: Path) -> int:
    """Start as the next start does, recover, and report."""
    from desktop.app import offer_recoveries
    from desktop.document.autosave import default_directory
    from engine.core.atomic import stale_temporaries

    began = time.perf_counter()
    app, window, trap, dialogs = _start(folder)
    recovered = offer_recoveries(window)
    app.processEvents()
    doc = window.document
    report = {
        "offered": dialogs.offered, "recovered": recovered, "state": state_hash(doc),
        "title": doc.title if doc is not None else None,
        "messages": dialogs.messages, "errors": trap.errors,
        "temporaries": [str(path) for path in stale_temporaries(default_directory())
                        + stale_temporaries(folder / "sessions")],
        "damaged": sorted(p.name for p in (default_directory() / "damaged").glob("*")),
        "seconds": time.perf_counter() - began,
    }
    if doc is not None:
        doc.mark_saved()  # leave quietly: the next trial starts from a fresh folder
    window.shutdown()
    (folder / "restart.json").write_text(json.dumps(report), encoding="utf-8")
    return 0


def main(argv: list[str]) -> int:
    """``session FOLDER SEED`` or ``restart FOLDER``."""
    if len(argv) >= 3 and argv[0] == "session":
        return session(Path(argv[1]), int(argv[2]))
    if len(argv) >= 2 and argv[0] == "restart":
        return restart(Path(argv[1]))
    print("usage: crash_child session FOLDER SEED | restart FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
