"""Where the files of a batch run: worker processes on this machine, or tasks on a Ray cluster.

Both call :func:`run_task` on one file at a time and hand its :class:`~engine.batch.journal.Record`
back to the driver, which writes the journal. Local workers are separate processes
(``spawn``), each limited to ``threads`` CPU threads (torch, OpenCV and the BLAS behind numpy),
so ``workers × threads`` never oversubscribes the machine; a worker that dies (a crash in a
native library, the kernel's out-of-memory killer) fails its file and is replaced, and the run
goes on. On Ray each file is a task (``num_cpus = threads``, plus ``num_gpus`` on GPU nodes);
inputs and outputs must be on a file system every node sees at the same paths.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.batch.journal import Record, new_record
from engine.batch.plan import FileJob

__all__ = ["Task", "TaskOptions", "local_executor", "ray_executor", "run_task"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class TaskOptions:
    """What every file of a run shares (plain data, so it travels to workers and nodes)."""

    recipe: dict[str, Any]
    recipe_sha256: str
    out_dir: str
    mask: str | None = None
    device: str | None = None
    overwrite: bool = False
    max_pixels: int | None = None
    threads: int = 1


@dataclass(frozen=True)
class Task:
    """One file of a run."""

    source: str
    relative: str
    target: str


def limit_threads(threads: int) -> None:
    """Keep this process to ``threads`` CPU threads (set before the libraries start theirs)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(threads)


_MASKS: dict[str, Any] = {}


def run_task(task: Task, options: TaskOptions) -> Record:
    """Process one file and describe the outcome; never raises for a bad file.

    Returns
    -------
    Record
        ``done`` with the output's path, or ``failed`` with a one-line reason.
    """
    from engine.batch.process import MaskCache, process_file
    from engine.core.recipe import Recipe

    started = time.perf_counter()
    source = Path(task.source)
    out_dir = Path(options.out_dir)
    try:
        masks = _MASKS.get(options.mask or "")
        if masks is None:
            masks = _MASKS[options.mask or ""] = MaskCache(
                Path(options.mask) if options.mask else None)
        job = FileJob(source, Path(task.relative), Path(task.target))
        job.target.parent.mkdir(parents=True, exist_ok=True)
        written = process_file(job, Recipe.from_dict(options.recipe), masks=masks,
                               device=options.device, overwrite=options.overwrite,
                               max_pixels=options.max_pixels)
        output = os.path.relpath(written.path, out_dir)
        return new_record(task.relative, source, options.recipe_sha256, status="done",
                          output=output, seconds=time.perf_counter() - started,
                          note=written.note)
    except Exception as error:  # a bad file is reported, and the others go on
        message = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, (ValueError, OSError, RuntimeError)):
            message = f"unexpected {type(error).__name__}: {message}"
            traceback.print_exc()
        if str(source) not in message and source.name not in message:
            message = f"{source.name}: {message}"
        try:
            return new_record(task.relative, source, options.recipe_sha256, status="failed",
                              seconds=time.perf_counter() - started, error=message)
        except OSError:  # the input itself vanished
            return Record(input=task.relative, status="failed", output="", input_sha256="",
                          recipe_sha256=options.recipe_sha256, size=0, mtime_ns=0,
                          error=message, finished=time.time())


def _start_worker(threads: int) -> None:
    # Ctrl+C is the driver's to handle: it stops handing out files and lets these finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)


def _crashed(task: Task, options: TaskOptions, why: str) -> Record:
    return Record(input=task.relative, status="failed", output="", input_sha256="",
                  recipe_sha256=options.recipe_sha256, size=0, mtime_ns=0,
                  error=f"{Path(task.source).name}: {why}", finished=time.time())


def local_executor(tasks: Iterable[Task], options: TaskOptions, workers: int, *,
                   stop: Callable[[], bool] = lambda: False) -> Iterator[Record]:
    """Run ``tasks`` on ``workers`` processes; yield each file's record as it finishes.

    At most two files per worker are handed out ahead. When ``stop()`` turns true no new file
    starts, and the ones running finish. When a worker dies, every file its pool held is
    suspect: they run again one at a time on a new pool, so only the file that kills a worker
    on its own is failed, and the others are finished as usual.
    """
    pending = iter(tasks)
    suspects: list[Task] = []
    context = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_start_worker, initargs=(options.threads,))

    pool = new_pool()
    running: dict[Future[Record], Task] = {}
    try:
        while True:
            # Suspects run alone; the others keep up to two files per worker in flight.
            limit = 1 if suspects else 2 * workers
            while not stop() and len(running) < limit:
                task = suspects.pop(0) if suspects else next(pending, None)
                if task is None:
                    break
                running[pool.submit(run_task, task, options)] = task
            if not running:
                return
            done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            lost: list[Task] = []
            for future in done:
                task = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    lost.append(task)
            if lost:
                lost += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                if len(lost) == 1:
                    yield _crashed(lost[0], options, "the worker process died while working "
                                                     "on it (a crash, or out of memory)")
                else:
                    suspects = lost + suspects
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ray_executor(tasks: Iterable[Task], options: TaskOptions, address: str, *,
                 gpus_per_task: float = 0.0, stop: Callable[[], bool] = lambda: False
                 ) -> Iterator[Record]:
    """Run ``tasks`` as Ray tasks; yield each file's record as it finishes.

    Parameters
    ----------
    address : str
        ``"local"`` starts a Ray instance on this machine; anything else is the address of a
        running cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``).
    gpus_per_task : float
        GPUs each task asks for (0: CPU nodes; 0.25: four files share a GPU).

    Raises
    ------
    ImportError
        Ray is not installed (``pip install pixelmend[cluster]``).
    """
    try:
        import ray
    except ImportError:
        raise ImportError("Ray is not installed; install it with 'pip install "
                          "pixelmend[cluster]' (or 'pip install ray')") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False,
                     num_cpus=os.cpu_count() or 1)
        else:
            ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=options.threads, num_gpus=gpus_per_task,
                        max_retries=1)(_ray_task)
    pending = iter(tasks)
    capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // max(options.threads, 1)))
    running: dict[Any, Task] = {}
    try:
        while True:
            while not stop() and len(running) < 2 * capacity:
                task = next(pending, None)
                if task is None:
                    break
                running[remote.remote(task, options)] = task
            if not running:
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in done:
                task = running.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as error:  # a task lost with its node, a crashed worker
                    yield _crashed(task, options, f"the Ray task failed ({type(error).__name__}:"
                                                  f" {' '.join(str(error).split())[:200]})")
    finally:
        for ref in running:
            ray.cancel(ref)
        if started_here:
            ray.shutdown()


def _ray_task(task: Task, options: TaskOptions) -> Record:
    limit_threads(options.threads)
    return run_task(task, options)
