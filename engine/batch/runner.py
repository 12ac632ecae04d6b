"""A batch run: a recipe over many files, resumable, in parallel, with a report at the end.

:func:`run_batch` holds the output folder's journal for the whole run: it removes what an
interrupted save left behind, skips every file the journal shows finished with the same input
and recipe, hands the rest to an executor (:mod:`engine.batch.executors`), writes each file's
record as it comes back, and at the end writes ``pixelmend-report.json`` and
``pixelmend-report.csv`` into the output folder: one row per file of this run, and the
failures with their reasons.
"""

from __future__ import annotations

import csv
import io as text_io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.batch.executors import Task, TaskOptions, local_executor, ray_executor
from engine.batch.journal import Journal, Record, file_digest, recipe_digest
from engine.batch.plan import FileJob
from engine.core.atomic import atomic_write, stale_temporaries
from engine.core.recipe import Recipe
from engine.ops.pipeline import check_recipe

__all__ = ["REPORT", "BatchOptions", "BatchReport", "PlannedFile", "plan_batch", "run_batch"]

REPORT = "pixelmend-report"
"""Stem of the report files written into the output folder."""


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    Attributes
    ----------
    workers : int
        Worker processes (ignored with ``ray``).
    threads : int, optional
        CPU threads per worker; by default the cores divided among the workers.
    ray : str, optional
        Run on Ray: ``"local"`` or a cluster address.
    gpus_per_task : float
        GPUs each Ray task asks for.
    device, overwrite, max_pixels, mask
        As for :func:`engine.batch.process.process_file`; the mask file is shared by every
        input of its size.
    """

    workers: int = 1
    threads: int | None = None
    ray: str | None = None
    gpus_per_task: float = 0.0
    device: str | None = None
    overwrite: bool = True
    max_pixels: int | None = None
    mask: Path | None = None

    def threads_per_worker(self) -> int:
        """The CPU threads each worker may use."""
        if self.threads:
            return self.threads
        return max(1, (os.cpu_count() or 1) // max(self.workers, 1))


@dataclass(frozen=True)
class PlannedFile:
    """One input and what the run will do with it (``do`` / ``skip``) and why."""

    job: FileJob
    action: str
    reason: str


@dataclass
class BatchReport:
    """What a run did."""

    planned: int
    skipped: int
    records: list[Record] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False

    @property
    def done(self) -> int:
        """Files finished in this run."""
        return sum(record.status == "done" for record in self.records)

    @property
    def failed(self) -> list[Record]:
        """Files that failed in this run."""
        return [record for record in self.records if record.status != "done"]


def _digest(recipe: Recipe, options: BatchOptions) -> str:
    extra = {"mask": file_digest(options.mask) if options.mask else None}
    return recipe_digest(recipe.to_dict(), extra)


def plan_batch(jobs: Sequence[FileJob], recipe: Recipe, out_dir: Path,
               options: BatchOptions, journal: Journal) -> list[PlannedFile]:
    """Say, file by file, whether the run will process it or skip it as finished."""
    digest = _digest(recipe, options)
    planned = []
    for job in jobs:
        done, reason = journal.finished(job.relative.as_posix(), job.source, digest, out_dir)
        planned.append(PlannedFile(job, "skip" if done else "do", reason))
    return planned


def run_batch(jobs: Sequence[FileJob], recipe: Recipe, out_dir: Path, options: BatchOptions,
              *, dry_run: bool = False,
              on_plan: Callable[[list[PlannedFile]], None] | None = None,
              on_record: Callable[[Record, int, int], None] | None = None,
              stop: Callable[[], bool] = lambda: False) -> BatchReport:
    """Run ``recipe`` over ``jobs`` into ``out_dir``, continuing an earlier run there.

    Parameters
    ----------
    jobs : sequence of FileJob
        From :func:`engine.batch.plan.plan_outputs` (folder output).
    recipe : Recipe
        Checked before any file is touched.
    out_dir : Path
        The output folder (created); its journal makes the run resumable.
    options : BatchOptions
        Workers, Ray, device ...
    dry_run : bool
        Plan only: nothing is processed or written.
    on_plan : callable, optional
        Receives the plan before the first file starts.
    on_record : callable, optional
        ``on_record(record, finished, to_do)`` after each file.
    stop : callable
        Polled between files; when it turns true no new file starts.

    Returns
    -------
    BatchReport

    Raises
    ------
    engine.ops.OpError, engine.core.params.ParamError
        The recipe names an unknown op or a bad parameter.
    engine.batch.journal.BatchLocked
        Another run writes into ``out_dir``.
    """
    check_recipe(recipe)
    out_dir = Path(out_dir)
    started = time.perf_counter()
    if dry_run and not (out_dir / ".pixelmend-batch").is_dir():
        planned = [PlannedFile(job, "do", "new") for job in jobs]
        if on_plan is not None:
            on_plan(planned)
        return BatchReport(planned=len(planned), skipped=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Journal(out_dir) as journal:
        planned = plan_batch(jobs, recipe, out_dir, options, journal)
        if on_plan is not None:
            on_plan(planned)
        todo = [entry.job for entry in planned if entry.action == "do"]
        report = BatchReport(planned=len(planned), skipped=len(planned) - len(todo))
        if dry_run:
            return report
        for leftover in stale_temporaries(out_dir, recursive=True):
            leftover.unlink(missing_ok=True)
        task_options = TaskOptions(recipe=recipe.to_dict(), recipe_sha256=_digest(recipe, options),
                                   out_dir=str(out_dir),
                                   mask=str(options.mask) if options.mask else None,
                                   device=options.device, overwrite=options.overwrite,
                                   max_pixels=options.max_pixels,
                                   threads=options.threads_per_worker())
        tasks = (Task(str(job.source), job.relative.as_posix(), str(job.target))
                 for job in todo)
        if options.ray:
            records = ray_executor(tasks, task_options, options.ray,
                                   gpus_per_task=options.gpus_per_task, stop=stop)
        else:
            records = local_executor(tasks, task_options, max(1, options.workers), stop=stop)
        for record in records:
            journal.append(record)
            report.records.append(record)
            if on_record is not None:
                on_record(record, len(report.records), len(todo))
        report.stopped = len(report.records) < len(todo)
    report.seconds = time.perf_counter() - started
    write_report(out_dir, report)
    return report


def write_report(out_dir: Path, report: BatchReport) -> None:
    """``pixelmend-report.json`` and ``.csv`` in ``out_dir``: this run's files and failures."""
    rows = [asdict(record) for record in report.records]
    summary = {"planned": report.planned, "skipped_as_finished": report.skipped,
               "done": report.done, "failed": len(report.failed),
               "stopped_early": report.stopped, "seconds": round(report.seconds, 1),
               "files": rows}
    with atomic_write(out_dir / f"{REPORT}.json", "w", encoding="utf-8") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    buffer = text_io.StringIO()
    fields = ["input", "status", "output", "seconds", "error", "note", "input_sha256"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(out_dir / f"{REPORT}.csv", "w", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())
