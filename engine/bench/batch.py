"""``pixelmend bench batch``: batch throughput with 1 and 2 workers and on Ray, and kill -9.

The photos of ``--data`` are copied (repeated as needed) into ``--count`` input files. The same
recipe (``--recipe``, by default non-local means, CPU-bound and single-threaded inside OpenCV's
call at one thread) runs over them with one worker, one worker of all the cores' threads, two
workers, and Ray on this machine, each into a fresh output folder; the table gives files per
second and the ratio to one worker of one thread. Then ``--kills`` times the command line's
batch is started, killed with SIGKILL (driver and workers) at a random moment, checked (every
file its journal calls finished decodes whole, nothing half-written is left as an output) and
run again to the end (nothing finished is redone).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.bench.common import BenchError, list_images, log, write_json_report

__all__ = ["add_suite_arguments", "suite"]

_DEFAULT_RECIPE = {"op": "nl_means", "params": {}}


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch suite's own options."""
    parser.add_argument("--count", type=int, default=200, help="input files (default 200)")
    parser.add_argument("--recipe", metavar="FILE", help="recipe to run (default: nl_means)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 trials (default 3)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")


def _inputs(data: Path, count: int, limit: int | None, folder: Path) -> list[Path]:
    sources = list_images(data, limit)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"{index:05d}_{source.name}"
        shutil.copyfile(source, target)
        made.append(target)
    return made


def _timed(folder: Path, out: Path, recipe: Any, **options: Any) -> dict[str, Any]:
    from engine.batch.plan import plan_outputs
    from engine.batch.runner import BatchOptions, run_batch

    jobs, _ = plan_outputs([folder], out, folder=True)
    started = time.perf_counter()
    report = run_batch(jobs, recipe, out, BatchOptions(**options))
    seconds = time.perf_counter() - started
    return {"files": report.done, "failed": len(report.failed), "seconds": round(seconds, 2),
            "files_per_s": report.done / seconds if seconds else 0.0}


def _kill_trial(folder: Path, out: Path, recipe_file: Path, rng: random.Random,
                count: int) -> dict[str, Any]:
    from engine import io
    from engine.batch.journal import JOURNAL_DIR, read_records

    command = [sys.executable, "-m", "engine.cli", "batch", str(recipe_file), str(folder),
               "-o", str(out), "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    journal = out / JOURNAL_DIR / "journal.jsonl"
    # Kill once the run is under way: after a random share of the files is finished.
    target = rng.randint(1, max(1, count - 1))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if journal.is_file() and len(list(read_records(journal))) >= target:
            break
        time.sleep(rng.uniform(0.05, 0.3))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {key: record for key, record in read_records(journal)
                if record.status == "done"}
    broken = 0
    for record in finished.values():
        try:
            io.load(out / record.output)
        except Exception:  # a finished file that does not decode is a lost file
            broken += 1
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    after = {key: record for key, record in read_records(journal) if record.status == "done"}
    redone = sum(after[key].finished != record.finished for key, record in finished.items()
                 if key in after)
    strays = len(list(out.rglob(".*.tmp")))
    return {"killed_after": len(finished), "broken_finished_files": broken,
            "redone_finished_files": redone, "complete_after_rerun": len(after) == count,
            "rerun_exit": rerun.returncode, "stray_temporaries": strays}


def suite(args: argparse.Namespace) -> int:
    """Run the throughput and kill -9 measurements; print the tables."""
    from engine.core.recipe import Recipe, load_recipe

    if args.count < 2:
        raise BenchError("--count must be at least 2")
    recipe = load_recipe(args.recipe) if args.recipe else Recipe.from_dict(_DEFAULT_RECIPE)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pixelmend-bench-"))
    try:
        folder = work / "in"
        _inputs(Path(args.data), args.count, args.limit, folder)
        cores = os.cpu_count() or 1
        runs = [("1 worker × 1 thread", {"workers": 1, "threads": 1}),
                (f"1 worker × {cores} threads", {"workers": 1, "threads": cores}),
                (f"{cores} workers × 1 thread", {"workers": cores, "threads": 1})]
        if not args.no_ray:
            runs.append((f"Ray local, {cores} tasks × 1 thread",
                         {"ray": "local", "threads": 1, "workers": cores}))
        rows = []
        for index, (label, options) in enumerate(runs):
            log(args, f"{label} …")
            try:
                figures = _timed(folder, work / f"out{index}", recipe, **options)
            except ImportError as error:
                log(args, f"  skipped: {error}")
                continue
            rows.append({"run": label, **figures})
        base = rows[0]["files_per_s"] or 1.0
        print(f"batch suite: {args.count} files of {args.data}, recipe {recipe.title()}, "
              f"{cores} cores")
        print(f"{'run':<34} {'files':>6} {'failed':>6} {'seconds':>8} {'files/s':>8} "
              f"{'ratio':>6}")
        for row in rows:
            print(f"{row['run']:<34} {row['files']:>6} {row['failed']:>6} {row['seconds']:>8.1f}"
                  f" {row['files_per_s']:>8.2f} {row['files_per_s'] / base:>6.2f}")
        recipe_file = work / "recipe.json"
        recipe_file.write_text(json.dumps(recipe.to_dict()), encoding="utf-8")
        rng = random.Random(args.seed)
        kills = []
        for trial in range(args.kills):
            log(args, f"kill -9 trial {trial + 1} …")
            kills.append(_kill_trial(folder, work / f"kill{trial}", recipe_file, rng,
                                     args.count))
        if kills:
            print(f"\nkill -9 trials: {len(kills)}")
            print(f"{'killed after':>12} {'broken':>7} {'redone':>7} {'complete':>9} "
                  f"{'strays':>7}")
            for row in kills:
                print(f"{row['killed_after']:>12} {row['broken_finished_files']:>7} "
                      f"{row['redone_finished_files']:>7} "
                      f"{str(row['complete_after_rerun']):>9} {row['stray_temporaries']:>7}")
        write_json_report(args, "batch", rows, kills=kills, count=args.count,
                          recipe=recipe.to_dict())
        lost = sum(row["broken_finished_files"] + row["redone_finished_files"] for row in kills)
        return 1 if lost or any(not row["complete_after_rerun"] for row in kills) else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
