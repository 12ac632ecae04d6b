"""One job runner per window: ops run on a single worker thread, results come back as signals.

Design
------
The runner owns ONE ``QThread`` with a ``QObject`` worker moved onto it (not a ``QThreadPool``):
a dedicated thread gives a strict one-job-at-a-time order, a thread we can ``quit()`` and ``wait()``
on when the window closes, and worker signals whose queued delivery to the GUI thread is decided
by thread affinity alone. Starting a job while one runs cancels the running one first; the new job
queues behind it on the same thread and starts as soon as the cancelled op reaches its next
``cancel.raise_if_cancelled()``. Reports from a job that is no longer current are dropped, so a
late result of a replaced job never reaches the document.

A job runs one op (:func:`engine.ops.run_op`) or, when it carries a recipe, each step of a
multi-step recipe in turn (:func:`engine.ops.pipeline.iter_recipe`): the same thread, progress,
cancel and reports, with "Step 2 of 3 · Inpaint:" in front of each progress message. A recipe
job's result is a :class:`RecipeRun`: the results of the steps that finished and, when a later
step failed, its message (so the finished steps are not lost). A cancelled recipe reports
``cancelled`` like an op, and nothing of it is kept.

Progress is throttled in the worker: a report is emitted when the value moves by at least 1 % or
when 50 ms have passed since the last one (and something changed), so a tight loop in an op
cannot flood the GUI thread's event queue. Previews are emitted at most every 100 ms.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

__all__ = ["Job", "JobRunner", "RecipeRun", "error_message", "op_title"]

log = logging.getLogger(__name__)

_PROGRESS_STEP = 0.01
_PROGRESS_INTERVAL_S = 0.05
_PREVIEW_INTERVAL_S = 0.1
_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One op or recipe run: what to run on which pixels, plus free-form context for the caller.

    Attributes
    ----------
    op : str
        Registered op name; for a recipe job, the recipe's title (what messages call it).
    image : ndarray
        float32 H×W×C in [0, 1]; the worker never writes into it.
    mask : ndarray of bool or None
        Where the op may change pixels; None for the whole image.
    params : dict
        Parameter values for :func:`engine.ops.run_op`.
    device : str or None
        ``"cpu"``, ``"cuda"``, ``"mps"`` or None to let the engine choose.
    context : dict
        Anything the caller needs when the result arrives (document, source layer id, ...).
    recipe : engine.core.recipe.Recipe or None
        A multi-step recipe to run instead of ``op`` (``params`` is then unused).
    """

    op: str
    image: np.ndarray
    mask: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    recipe: Any = None
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def kind(self) -> str:
        """``"op"`` or ``"recipe"``."""
        return "op" if self.recipe is None else "recipe"


def error_message(op: str, error: BaseException) -> str:
    """The text a person sees when an op fails: the engine's own message where it has one."""
    from engine.core.device import DeviceError
    from engine.core.params import ParamError
    from engine.models.weights import WeightsError
    from engine.ops import OpError

    if isinstance(error, MemoryError):
        return (f"Not enough memory to run {op} on this image. Close other programs, work on a "
                "smaller image, or use a smaller mask.")
    if isinstance(error, (OpError, ParamError, DeviceError, WeightsError, ValueError)):
        return str(error) or type(error).__name__
    return f"{op} failed with an unexpected {type(error).__name__}: {error}"


@dataclass
class RecipeRun:
    """The result of a recipe job.

    Attributes
    ----------
    steps : list of engine.ops.pipeline.StepResult
        The steps that finished, in order.
    error : str
        Why the step after them failed ("" when every step ran).
    """

    steps: list[Any]
    error: str = ""


def _run_recipe(job: Job, report: Any, token: Any) -> RecipeRun:
    """Run every step of ``job.recipe``; each progress message names the step it comes from.
    A step that fails after others finished ends the run with its message; a failure of the
    first step, and a cancel, propagate."""
    from engine.core.progress import Cancelled
    from engine.ops.pipeline import iter_recipe

    steps = job.recipe.steps
    titles = [op_title(step.op) for step in steps]
    current = [0]

    def step_report(fraction: float, message: str = "", preview: Any = None) -> None:
        index = current[0]
        prefix = f"Step {index + 1} of {len(steps)} · {titles[index]}"
        report(fraction, f"{prefix}: {message}" if message else prefix, preview)

    done: list[Any] = []
    try:
        for result in iter_recipe(job.recipe, job.image, job.mask, progress=step_report,
                                  cancel=token, device=job.device):
            done.append(result)
            current[0] = min(len(done), len(steps) - 1)
    except Cancelled:
        raise
    except Exception as error:
        if not done:
            raise
        from engine.models.weights import WeightsError

        if not isinstance(error, (ValueError, MemoryError, WeightsError)):
            log.exception("%s failed", job.op)
        title = titles[len(done)] if len(done) < len(titles) else job.op
        message = error_message(title, error)
        if not message.startswith("step "):
            message = f"step {len(done) + 1} ({title}): {message}"
        return RecipeRun(done, message)
    return RecipeRun(done)


def op_title(name: str) -> str:
    """The title of op ``name`` ("Inpaint"), or the name itself when no such op is known."""
    from engine.ops import OpError, get_op

    try:
        return get_op(name).title
    except OpError:
        return name


class _Worker(QObject):
    """Lives on the worker thread; runs one job at a time through :func:`engine.ops.run_op`
    (or, for a recipe job, :func:`engine.ops.pipeline.iter_recipe`)."""

    progress = Signal(int, float, str)
    preview = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)

    @Slot(object, object)
    def run(self, job: Job, token: Any) -> None:
        from engine.core.progress import Cancelled, Throttle
        from engine.models.weights import WeightsError
        from engine.ops import run_op

        throttle = Throttle(_PROGRESS_INTERVAL_S, step=_PROGRESS_STEP,
                            preview_interval=_PREVIEW_INTERVAL_S)

        def report(fraction: float, message: str = "", preview: np.ndarray | None = None) -> None:
            value = min(max(float(fraction), 0.0), 1.0)
            if throttle.progress_due(value, message):
                self.progress.emit(job.id, value, message)
            if preview is not None and throttle.preview_due():
                self.preview.emit(job.id, np.array(preview, copy=True))

        if token.cancelled:
            self.cancelled.emit(job.id)
            return
        try:
            if job.recipe is not None:
                result = _run_recipe(job, report, token)
            else:
                result = run_op(job.op, job.image, job.mask, job.params, progress=report,
                                cancel=token, device=job.device)
        except Cancelled:
            self.cancelled.emit(job.id)
        except Exception as error:  # every failure becomes a message a person reads
            if not isinstance(error, (ValueError, MemoryError, WeightsError)):
                log.exception("%s failed", job.op)
            self.failed.emit(job.id, error_message(job.op, error))
        else:
            if token.cancelled:
                self.cancelled.emit(job.id)
            else:
                self.finished.emit(job.id, result)


class JobRunner(QObject):
    """Runs ops off the GUI thread, one at a time, and reports back through queued signals.

    Signals
    -------
    started(job), progress(fraction, message), preview(ndarray), finished(result, job),
    failed(message, job), cancelled(job), busy_changed(bool).
    """

    started = Signal(object)
    progress = Signal(float, str)
    preview = Signal(object)
    finished = Signal(object, object)
    failed = Signal(str, object)
    cancelled = Signal(object)
    busy_changed = Signal(bool)
    _submit = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from engine.core.progress import CancelToken

        self._token_type = CancelToken
        self._thread = QThread()
        self._thread.setObjectName("pixelmend-worker")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._submit.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.preview.connect(self._on_preview)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._jobs: dict[int, tuple[Job, Any]] = {}
        self._current: Job | None = None
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:  # never leave a running thread behind at exit
            app.aboutToQuit.connect(self.shutdown)

    @property
    def current(self) -> Job | None:
        """The job whose results will be reported, or None when idle."""
        return self._current

    @property
    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return bool(self._jobs)

    def start(self, job: Job) -> None:
        """Run ``job``; a job that is still running is cancelled first."""
        if not self._thread.isRunning():
            raise RuntimeError("the job runner was shut down")
        self.cancel()
        token = self._token_type()
        was_busy = self.busy
        self._jobs[job.id] = (job, token)
        self._current = job
        self.started.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)
        self._submit.emit(job, token)

    def cancel(self) -> None:
        """Ask the running job to stop; ``cancelled`` follows once the op has stopped."""
        for _job, token in self._jobs.values():
            token.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel, stop the worker thread and wait for it; True when it stopped in time."""
        self.cancel()
        self._current = None
        if not self._thread.isRunning():
            return True
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if not stopped:
            log.warning("the worker did not stop within %d ms", timeout_ms)
        return bool(stopped)

    def _is_current(self, job_id: int) -> bool:
        return self._current is not None and self._current.id == job_id

    def _retire(self, job_id: int) -> Job | None:
        entry = self._jobs.pop(job_id, None)
        job = entry[0] if entry else None
        was_current = self._is_current(job_id)
        if was_current:
            self._current = None
        if not self._jobs:
            self.busy_changed.emit(False)
        return job if was_current else None

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, value: float, message: str) -> None:
        if self._is_current(job_id):
            self.progress.emit(value, message)

    @Slot(int, object)
    def _on_preview(self, job_id: int, image: np.ndarray) -> None:
        if self._is_current(job_id):
            self.preview.emit(image)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: Any) -> None:
        job = self._retire(job_id)
        if job is not None:
            self.finished.emit(result, job)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        job = self._retire(job_id)
        if job is not None:
            self.failed.emit(message, job)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        job = self._retire(job_id)
        if job is not None:
            self.cancelled.emit(job)
