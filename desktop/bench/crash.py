"""``pixelmend bench crash``: kill -9 the editor at random moments; the next start must recover.

Each trial starts the real editor in a subprocess (offscreen) on an edit session
(:mod:`desktop.bench.crash_child`: strokes, a lasso, a rectangle, two ops, two saves), kills it
with SIGKILL at a random moment of one kind — some time after a stroke, while an op runs, or
while a session file is being written — then starts it again and judges the next start:

* **recovery**: when a crash copy was on disk, the restart offers it and recovers exactly the
  state of the newest one (or of one that was being written), never anything else;
* **lost work**: the time between the first edit the recovered document lacks and the kill,
  which must stay within the autosave interval plus the time one crash copy takes to write (and
  half a second for the event loop);
* **atomic saves**: the session file on disk is the previous complete save or the new one,
  whole;
* **no leftovers**: no temporary file is left in the autosave folder or beside the session.

``pixelmend bench crash --trials 20`` prints the counts by kind of moment; ``--keep`` keeps the
folders of failed trials.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import desktop
from desktop.bench.crash_child import SESSION_NAME, session_plan
from desktop.bench.drive import state_hash

__all__ = ["MOMENTS", "Trial", "format_table", "main", "run", "run_trial"]

MOMENTS = ("strokes", "job", "save")
_TITLES = {"strokes": "after strokes", "job": "during an op", "save": "during a save"}
_EDITS = ("open", "stroke", "lasso", "rect", "job-done")
_EVENT_LOOP_SLACK_S = 0.5


@dataclass
class Trial:
    """One kill and restart."""

    moment: str
    seed: int
    in_flight: bool = False
    """The kill landed while the op or the save was running (not after it)."""
    copy_on_disk: bool = False
    recovered: bool = False
    lost_s: float = 0.0
    bound_s: float = 0.0
    session_file: str = "none"
    """"old", "new" or "none": what the session file on disk held after the kill."""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _child_env(interval_s: float) -> dict[str, str]:
    root = str(Path(desktop.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PIXELMEND_DEVICE": "cpu",
            "PIXELMEND_AUTOSAVE_S": f"{interval_s:g}",
            "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line being written when the process died
    return events


def _trigger(moment: str, rng: np.random.Generator) -> tuple[str, int, float]:
    """(event, which occurrence, delay s): when to kill for this kind of moment."""
    plan = session_plan(0)
    if moment == "strokes":
        strokes = sum(step in ("stroke", "lasso", "rect") for step in plan)
        return "stroke-like", int(rng.integers(1, strokes + 1)), float(rng.uniform(0.0, 1.5))
    if moment == "job":
        return "job-start", int(rng.integers(1, plan.count("job") + 1)), float(
            rng.uniform(0.0, 0.25))
    # Up to about the time a save takes: the old file, or now and then the complete new one.
    return "save-start", int(rng.integers(1, plan.count("save") + 1)), float(
        rng.uniform(0.0, 0.8))


def _matches(event: dict[str, Any], name: str) -> bool:
    if name == "stroke-like":
        return event["event"] in ("stroke", "lasso", "rect")
    return event["event"] == name


def _run_session(folder: Path, seed: int, moment: str, interval_s: float,
                 rng: np.random.Generator) -> tuple[float | None, str]:
    """Start the session, kill it at the chosen moment; (kill time, problem)."""
    name, occurrence, delay = _trigger(moment, rng)
    journal = folder / "journal.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "desktop.bench.crash_child", "session", str(folder), str(seed)],
        env=_child_env(interval_s), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    kill_at = None
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if kill_at is None:
                seen = [e for e in _read_events(journal) if _matches(e, name)]
                if len(seen) >= occurrence:
                    kill_at = time.time() + delay
            elif time.time() >= kill_at:
                killed = time.time()
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
                return killed, ""
            time.sleep(0.002)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    error = child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""
    return None, f"the session ended before the kill (code {child.returncode}): {error}"


def _judge(trial: Trial, events: list[dict[str, Any]], killed: float, report: dict[str, Any],
           folder: Path, interval_s: float) -> None:
    before = [e for e in events if e["t"] <= killed]
    errors = [e["text"] for e in before if e["event"] == "error"] + report.get("errors", [])
    trial.problems += [f"exception: {text.strip().splitlines()[-1]}" for text in errors]
    indexed = list(enumerate(before))
    saved, previous = _judge_session_file(trial, before, folder)
    # Crash copies started before the last completed save were discarded by it (one started
    # before a save that the kill interrupted just after writing the file may remain).
    starts = {e["n"]: e for i, e in indexed if e["event"] == "autosave-start" and i > previous}
    done = {e["n"] for e in before if e["event"] == "autosave-done"}
    newest = max((n for n in starts if n in done), default=None)
    valid = {e["state"] for n, e in starts.items() if newest is None or n >= newest}
    trial.copy_on_disk = newest is not None
    writes = [e["seconds"] for e in before if e["event"] == "autosave-done"]
    trial.bound_s = interval_s + max(writes, default=0.0) + _EVENT_LOOP_SLACK_S
    recovered = report.get("state")
    trial.recovered = recovered is not None
    if trial.copy_on_disk and not trial.recovered and trial.session_file != "new":
        trial.problems.append("a crash copy was on disk but nothing was recovered")
    if trial.recovered and recovered not in valid:
        trial.problems.append("the recovered document is not the newest crash copy")
    # What is lost: the edits neither the session file nor the recovered copy holds.
    edits = [(i, e) for i, e in indexed if e["event"] in _EDITS and e["event"] != "open"]
    lost = [e for i, e in edits if i > saved]
    if trial.recovered:
        held = [k for k, (_i, e) in enumerate(edits) if e["state"] == recovered]
        in_copy = [e for _i, e in edits[held[-1] + 1:]] if held else []
        lost = min(lost, in_copy, key=len)
    trial.lost_s = killed - lost[0]["t"] if lost else 0.0
    if trial.lost_s > trial.bound_s:
        trial.problems.append(f"lost {trial.lost_s:.2f} s of work (bound {trial.bound_s:.2f})")
    if report.get("temporaries"):
        trial.problems.append(f"temporary files left: {report['temporaries']}")
    if report.get("damaged"):
        trial.problems.append(f"crash copies set aside as damaged: {report['damaged']}")


def _judge_session_file(trial: Trial, before: list[dict[str, Any]], folder: Path
                        ) -> tuple[int, int]:
    """Judge the session file; return the index of the event whose state it holds (-1: none)
    and the index of the last save known to be over (its crash copy discarded)."""
    from desktop.document.ora import load_ora

    saves = [(i, e) for i, e in enumerate(before) if e["event"] in ("save-start", "save-done")]
    done = [i for i, e in saves if e["event"] == "save-done"]
    old_index = done[-1] if done else -1
    old = before[old_index]["state"] if done else None
    pending = saves[-1] if saves and saves[-1][1]["event"] == "save-start" else None
    path = folder / "sessions" / SESSION_NAME
    if not path.exists():
        if old is not None:
            trial.problems.append("the saved session file is gone")
        return -1, old_index
    try:
        state = state_hash(load_ora(path))
    except Exception as error:
        trial.problems.append(f"the session file is broken: {error}")
        return -1, old_index
    if pending is not None and state == pending[1]["state"]:
        trial.session_file = "new"
        return pending[0], old_index
    if state == old:
        trial.session_file = "old"
        return old_index, old_index
    trial.problems.append("the session file holds neither the old nor the new save")
    return -1, old_index


def run_trial(folder: Path, seed: int, moment: str, interval_s: float = 1.0) -> Trial:
    """One trial in ``folder`` (created; left there)."""
    from desktop.bench.ui import make_photo
    from engine import io

    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    trial = Trial(moment=moment, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    io.save(folder / "photo.png", make_photo(0.27, seed))
    killed, problem = _run_session(folder, seed, moment, interval_s, rng)
    if killed is None:
        trial.problems.append(problem)
        return trial
    events = _read_events(folder / "journal.jsonl")
    flight = {"job": ("job-start", "job-done"), "save": ("save-start", "save-done")}.get(moment)
    if flight is not None:
        last = [e["event"] for e in events if e["t"] <= killed and e["event"] in flight]
        trial.in_flight = bool(last) and last[-1] == flight[0]
    restart = subprocess.run(
        [sys.executable, "-m", "desktop.bench.crash_child", "restart", str(folder)],
        env=_child_env(interval_s), capture_output=True, text=True, timeout=180)
    report_path = folder / "restart.json"
    if restart.returncode != 0 or not report_path.exists():
        trial.problems.append(f"the restart failed (code {restart.returncode}): "
                              f"{restart.stderr[-2000:]}")
        return trial
    report = json.loads(report_path.read_text(encoding="utf-8"))
    _judge(trial, events, killed, report, folder, interval_s)
    trial.seconds = time.perf_counter() - began
    return trial


def run(trials: int, interval_s: float = 1.0, seed: int = 0, keep: bool = False,
        moments: Sequence[str] = MOMENTS) -> list[Trial]:
    """``trials`` trials, the kinds of moment taken in turn; folders of failed trials are kept
    (and named) with ``keep``."""
    results = []
    root = Path(tempfile.mkdtemp(prefix="pixelmend-bench-crash-"))
    try:
        for number in range(trials):
            moment = moments[number % len(moments)]
            folder = root / f"trial-{number:02d}-{moment}"
            trial = run_trial(folder, seed + number, moment, interval_s)
            results.append(trial)
            if trial.problems and keep:
                print(f"kept {folder}: {trial.problems}", file=sys.stderr)
            else:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return results


def format_table(trials: list[Trial], interval_s: float) -> str:
    """Counts by kind of moment, and the worst loss against its bound."""
    header = (f"{'kill moment':<15} {'trials':>6} {'in flight':>9} {'copy':>5} "
              f"{'recovered':>9} {'lost max s':>10} {'bound s':>8} {'file old/new/none':>17} "
              f"{'problems':>8}")
    lines = [header]
    groups = [(_TITLES[m], [t for t in trials if t.moment == m]) for m in MOMENTS]
    for title, group in [*groups, ("all", trials)]:
        if not group:
            continue
        files = "/".join(str(sum(t.session_file == kind for t in group))
                         for kind in ("old", "new", "none"))
        lines.append(
            f"{title:<15} {len(group):>6} {sum(t.in_flight for t in group):>9} "
            f"{sum(t.copy_on_disk for t in group):>5} {sum(t.recovered for t in group):>9} "
            f"{max(t.lost_s for t in group):>10.2f} {max(t.bound_s for t in group):>8.2f} "
            f"{files:>17} {sum(bool(t.problems) for t in group):>8}")
    lines.append(f"autosave interval {interval_s:g} s; bound = interval + the slowest crash "
                 f"copy write + {_EVENT_LOOP_SLACK_S:g} s; "
                 f"{sum(t.seconds for t in trials):.0f} s in all")
    for trial in trials:
        for problem in trial.problems:
            lines.append(f"  trial seed {trial.seed} ({_TITLES[trial.moment]}): {problem}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``[--trials N] [--interval S] [--seed N] [--keep]``, run, print; 1 on problems."""
    parser = argparse.ArgumentParser(prog="pixelmend bench crash",
                                     description="Kill -9 the editor at random moments and "
                                                 "check what the next start recovers.")
    parser.add_argument("--trials", type=int, default=20, help="number of kills (20)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="autosave interval in seconds during the trials (1)")
    parser.add_argument("--seed", type=int, default=0, help="first trial's seed (0)")
    parser.add_argument("--keep", action="store_true", help="keep failed trials' folders")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.trials < 1 or args.interval < 1:
        parser.error("--trials and --interval must be at least 1")
    trials = run(args.trials, args.interval, args.seed, args.keep)
    print(format_table(trials, args.interval))
    return 1 if any(t.problems for t in trials) else 0


if __name__ == "__main__":
    sys.exit(main())
