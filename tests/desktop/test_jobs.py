"""The job runner: worker thread only, cancel within a second, throttled progress, clear errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.jobs import Job, JobRunner
from engine.core.params import Float, Int
from engine.ops import Op, OpError, OpResult, register

CALLS: dict[str, list] = {"threads": []}


@register
class SlowLoopOp(Op):
    """Test-only: loops with cancel checks, reporting progress very often."""

    name = "test_desktop_slow_loop"
    title = "Slow loop (test)"
    category = "Tests"
    params = (Int("steps", 400, minimum=1, maximum=100_000), Float("delay", 0.01, minimum=0.0))
    mask_use = "ignore"

    def run(self, image, mask, params, progress, cancel, device):
        CALLS["threads"].append(threading.current_thread())
        for step in range(params["steps"]):
            cancel.raise_if_cancelled()
            progress(step / params["steps"], f"step {step}",
                     image if step % 50 == 0 else None)
            time.sleep(params["delay"])
        return OpResult(image=np.clip(image + 0.1, 0, 1).astype(np.float32))


@register
class FailingOp(Op):
    """Test-only: refuses to run with an engine error."""

    name = "test_desktop_failing"
    title = "Failing (test)"
    category = "Tests"
    mask_use = "ignore"

    def run(self, image, mask, params, progress, cancel, device):
        raise OpError("the blur kernel is larger than the image: use a smaller radius")


@register
class CrashingOp(Op):
    """Test-only: a bug inside an op (not an engine error)."""

    name = "test_desktop_crashing"
    title = "Crashing (test)"
    category = "Tests"
    mask_use = "ignore"

    def run(self, image, mask, params, progress, cancel, device):
        return {}["missing"]


def image() -> np.ndarray:
    return np.full((16, 16, 3), 0.5, np.float32)


@pytest.fixture
def runner(qtbot):
    job_runner = JobRunner()
    yield job_runner
    job_runner.shutdown()


def test_runs_on_the_worker_thread_and_throttles_progress(qtbot, runner):
    reports: list[float] = []
    previews: list[np.ndarray] = []
    runner.progress.connect(lambda value, _message: reports.append(value))
    runner.preview.connect(previews.append)
    CALLS["threads"].clear()
    job = Job("test_desktop_slow_loop", image(), params={"steps": 300, "delay": 0.001})
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.start(job)
    result, done = finished.args
    assert done is job
    assert np.allclose(result.image, 0.6)
    assert CALLS["threads"] and CALLS["threads"][0] is not threading.main_thread()
    # 300 reports went in; at most one per 1 % step plus one per 50 ms came out.
    assert 5 <= len(reports) <= 101 + 20
    assert reports == sorted(reports) and reports[-1] == 1.0
    assert 1 <= len(previews) <= 6 and previews[0].shape == (16, 16, 3)
    assert not runner.busy


def test_cancel_stops_within_a_second(qtbot, runner):
    job = Job("test_desktop_slow_loop", image(), params={"steps": 100_000, "delay": 0.01})
    finished = []
    runner.finished.connect(lambda *args: finished.append(args))
    with qtbot.waitSignal(runner.progress, timeout=5_000):
        runner.start(job)
    started = time.monotonic()
    with qtbot.waitSignal(runner.cancelled, timeout=1_000) as cancelled:
        runner.cancel()
    assert cancelled.args == [job]
    assert time.monotonic() - started < 1.0
    assert finished == [] and not runner.busy


def test_starting_a_job_replaces_the_running_one(qtbot, runner):
    slow = Job("test_desktop_slow_loop", image(), params={"steps": 100_000})
    quick = Job("test_desktop_slow_loop", image(), params={"steps": 2, "delay": 0.0})
    seen = []
    runner.finished.connect(lambda result, job: seen.append(("finished", job)))
    runner.cancelled.connect(lambda job: seen.append(("cancelled", job)))
    with qtbot.waitSignal(runner.progress, timeout=5_000):
        runner.start(slow)
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        runner.start(quick)
    qtbot.wait(50)
    assert seen == [("finished", quick)]  # the replaced job reports nothing


@pytest.mark.parametrize(("op", "params", "expected"), [
    ("test_desktop_failing", {}, "blur kernel is larger than the image"),
    ("test_desktop_slow_loop", {"steps": 0}, "parameter 'steps'"),
    ("test_desktop_crashing", {}, "unexpected KeyError"),
])
def test_errors_become_messages(qtbot, runner, op, params, expected):
    with qtbot.waitSignal(runner.failed, timeout=5_000) as failed:
        runner.start(Job(op, image(), params=params))
    message, job = failed.args
    assert expected in message and job.op == op


def test_shutdown_cancels_and_joins(qtbot):
    runner = JobRunner()
    runner.start(Job("test_desktop_slow_loop", image(), params={"steps": 100_000}))
    qtbot.wait(50)
    started = time.monotonic()
    assert runner.shutdown()
    assert time.monotonic() - started < 1.5
    with pytest.raises(RuntimeError, match="shut down"):
        runner.start(Job("test_desktop_slow_loop", image()))


def test_window_cancel_button_adds_no_layer(qtbot, window, photo_path):
    window.files.open_path(photo_path)
    panel = window.ops_panel
    panel.select_op("test_desktop_slow_loop")
    panel.form.set_values({"steps": 100_000, "delay": 0.01})
    with qtbot.waitSignal(window.runner.progress, timeout=5_000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    started = time.monotonic()
    with qtbot.waitSignal(window.runner.cancelled, timeout=1_000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < 1.0
    assert len(window.document.layers) == 1
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert window.document.history.entries() == []


def test_window_shows_engine_error_and_stays_usable(qtbot, window, photo_path, dialog_log):
    window.files.open_path(photo_path)
    panel = window.ops_panel
    panel.select_op("test_desktop_failing")
    with qtbot.waitSignal(window.runner.failed, timeout=5_000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert any("blur kernel is larger than the image" in text
               for text in dialog_log.texts("warning"))
    assert len(window.document.layers) == 1 and panel.run_button.isEnabled()
    # Still usable: a real op runs afterwards.
    panel.select_op("median")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.document.layers) == 2, timeout=10_000)


def test_needs_mask_is_refused_before_starting(window, photo_path, dialog_log, monkeypatch):
    from engine.ops import get_op

    window.files.open_path(photo_path)
    monkeypatch.setattr(get_op("median"), "needs_mask", True)
    assert window.ops.run("median", {}) is None
    assert not window.runner.busy
    assert "paint over it" in dialog_log.texts("warning")[-1]
