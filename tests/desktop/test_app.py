"""Start-up: crash recovery, autosave, the error hook, closing, settings kept between runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
from PySide6.QtWidgets import QMessageBox

from desktop import app as app_module
from desktop.document.autosave import Autosaver, find_recoveries, state_dir
from desktop.document.document import Document
from desktop.document.layer import Layer
from desktop.main_window import open_windows


def dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_crash_copy(tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """An autosave as a crashed session leaves it: .ora plus a marker with a dead pid."""
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :15] = 250
    doc = Document([Layer(pixels, name="Original"),
                    Layer(np.full((20, 30, 3), 77, np.uint8), name="Median filter",
                          recipe={"op": "median", "params": {"size": 3}, "engine": "0"})],
                   source_path=tmp_path / "holiday.png", title="holiday.png")
    doc.apply_mask_edit("rect", x0=2, y0=3, x1=12, y1=9)
    saver = Autosaver(session_id="crashed")
    saver.save(doc)
    marker = json.loads(saver.marker_path.read_text())
    marker["pid"] = dead_pid()
    marker["process_start"] = None
    saver.marker_path.write_text(json.dumps(marker))
    return pixels, doc.mask.coverage.copy()


def test_recovery_offered_and_accepted(qtbot, tmp_path, dialog_log):
    pixels, coverage = write_crash_copy(tmp_path)
    assert len(find_recoveries()) == 1
    window = app_module.new_window(look_up_device=False)
    qtbot.addWidget(window)
    dialog_log.recovery_answers = ["recover"]
    assert app_module.offer_recoveries(window) == 1
    assert dialog_log.messages[0][:2] == ("recovery", "holiday.png")
    doc = window.document
    assert [layer.name for layer in doc.layers] == ["Original", "Median filter"]
    assert np.array_equal(doc.layers[0].pixels, pixels)
    assert np.array_equal(doc.mask.coverage, coverage)
    assert doc.layers[1].recipe["op"] == "median"
    assert doc.dirty and window.isWindowModified()  # recovered work is unsaved work
    assert doc.source_path == tmp_path / "holiday.png"
    # The old crash copy is gone; this session's own autosave holds the work now.
    assert find_recoveries() == []
    assert window.autosave.saver.ora_path.is_file()
    window.shutdown()
    assert list((state_dir() / "autosave").glob("*.ora")) == []  # clean close: nothing left


def test_recovery_later_keeps_and_discard_deletes(qtbot, tmp_path, dialog_log):
    write_crash_copy(tmp_path)
    window = app_module.new_window(look_up_device=False)
    qtbot.addWidget(window)
    dialog_log.recovery_answers = ["later"]
    assert app_module.offer_recoveries(window) == 0
    assert window.document is None and len(find_recoveries()) == 1
    dialog_log.recovery_answers = ["discard"]
    app_module.offer_recoveries(window)
    assert find_recoveries() == []
    window.shutdown()


def test_autosave_writes_a_crash_copy_only_when_dirty(window, photo_path):
    window.files.open_path(photo_path)
    timer = window.autosave
    assert not timer.save_now(wait=True)  # nothing changed yet
    window.document.apply_mask_edit("rect", x0=0, y0=0, x1=10, y1=10)
    assert timer.save_now(wait=True)
    assert timer.saver.ora_path.is_file()
    assert not timer.save_now(wait=True)  # no change since the last copy
    assert window.files.save_as(photo_path.with_suffix(".ora"))
    assert not timer.saver.ora_path.exists()  # a real save removes the crash copy


def test_excepthook_shows_the_error_and_keeps_running(qtbot, monkeypatch, dialog_log):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    app_module.install_excepthook()
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    kind, title, text = dialog_log.messages[-1]
    assert kind == "critical" and "RuntimeError: boom in a slot" in text
    assert "keeps running" in text


def test_close_with_unsaved_changes_asks_and_can_cancel(qtbot, window, photo_path, dialog_log):
    window.files.open_path(photo_path)
    window.document.apply_mask_edit("rect", x0=0, y0=0, x1=10, y1=10)
    dialog_log.answers = [QMessageBox.StandardButton.Cancel]
    assert not window.close()
    assert window.isVisible() and window.runner.busy is False
    dialog_log.answers = [QMessageBox.StandardButton.Discard]
    window.ops_panel.select_op("median")
    window.ops_panel.run_button.click()
    started = time.monotonic()
    assert window.close()
    assert time.monotonic() - started < 2.0
    assert not window.runner._thread.isRunning()  # joined


def test_settings_persist_between_windows(qtbot, photo_path):
    from desktop import settings
    from desktop.main_window import MainWindow

    first = MainWindow(look_up_device=False)
    qtbot.addWidget(first)
    first.brush.set(size=33, hardness=0.25)
    first.files.open_path(photo_path)
    first.shutdown()
    second = MainWindow(look_up_device=False)
    qtbot.addWidget(second)
    assert (second.brush.size, second.brush.hardness) == (33, 0.25)
    assert settings.recent_files() == [str(photo_path.resolve())]
    second.files.fill_recent_menu(second.recent_menu)
    assert second.recent_menu.actions()[0].text() == "photo.png"
    second.recent_menu.actions()[0].trigger()
    assert second.document is not None and second.document.title == "photo.png"
    second.shutdown()


def test_status_bar_reports_device_size_zoom_and_pixel(qtbot, window, photo_path):
    from PySide6.QtCore import QPointF

    from desktop.widgets.status_bar import StatusBar

    window.files.open_path(photo_path)
    status = window.status
    assert status.size_label.text() == "128×96  8-bit RGB"
    window.view.actual_pixels()
    assert status.zoom_label.text() == "100 %"
    pixel = window.document.layers[0].pixels[5, 7]
    status.set_cursor(QPointF(7.6, 5.2))
    assert status.cursor_label.text().startswith(f"7, 5   R {pixel[0]} G {pixel[1]} B {pixel[2]}")
    bar = StatusBar()
    qtbot.addWidget(bar)
    qtbot.waitUntil(lambda: bar.device_label.text() != "Device: …", timeout=60_000)
    assert bar.device_label.text().startswith("Device: CPU")  # PIXELMEND_DEVICE=cpu in tests


def test_many_void_qt_calls_keep_the_interpreter_alive(qapp):
    """PySide6 6.12.0 drops a reference to None per void call on Python < 3.12 and aborts the
    interpreter after a few thousand calls; pyproject excludes that release."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(30_000):
        label.update()
    assert sys.getrefcount(None) >= before - 100


def test_each_further_path_opens_its_own_window(qtbot, tmp_path, photo_path):
    from engine import io

    second = tmp_path / "second.png"
    io.save(second, np.full((10, 12, 3), 40, np.uint8))
    first_window = app_module.new_window(look_up_device=False)
    qtbot.addWidget(first_window)
    windows = app_module.open_paths(first_window, [str(photo_path), str(second)])
    assert len(windows) == 2 and windows[0] is first_window
    assert [w.document.title for w in windows] == ["photo.png", "second.png"]
    assert windows[1] in open_windows()
    windows[1].close()  # clean: closes without asking, and is freed
    qtbot.waitUntil(lambda: windows[1] not in open_windows(), timeout=2_000)
    first_window.shutdown()


def test_application_has_the_shipped_icon_and_desktop_entry_name(qapp):
    from PySide6.QtGui import QGuiApplication

    app = app_module.create_application()
    assert not app.windowIcon().isNull()
    assert 512 in {size.width() for size in app.windowIcon().availableSizes()}
    assert QGuiApplication.desktopFileName() == "io.pixelmend.PixelMend"


def test_a_damaged_crash_copy_is_set_aside_with_a_message_never_offered(qtbot, tmp_path,
                                                                        dialog_log):
    write_crash_copy(tmp_path)
    ora = state_dir() / "autosave" / "crashed.ora"
    data = ora.read_bytes()
    ora.write_bytes(data[: len(data) // 2])  # a half-written file (not what atomic writes do)
    garbage = state_dir() / "autosave" / "garbage.json"
    garbage.write_text("{ half a marker", encoding="utf-8")
    window = app_module.new_window(look_up_device=False)
    qtbot.addWidget(window)
    dialog_log.recovery_answers = ["recover"]
    assert app_module.offer_recoveries(window) == 0
    assert window.document is None
    assert [kind for kind, *_ in dialog_log.messages] == ["warning"]  # nothing offered
    _kind, title, text = dialog_log.messages[0]
    assert title == "Damaged crash copy"
    assert "holiday.png:" in text and "garbage.json: cannot be read" in text
    damaged = state_dir() / "autosave" / "damaged"
    assert sorted(p.name for p in damaged.iterdir()) == ["crashed.json", "crashed.ora",
                                                         "garbage.json"]
    assert app_module.offer_recoveries(window) == 0 and len(dialog_log.messages) == 1
    window.shutdown()


def test_the_autosave_interval_is_a_preference(qtbot, monkeypatch):
    from desktop import settings
    from desktop.autosave_timer import DEFAULT_INTERVAL_S, INTERVAL_KEY
    from desktop.main_window import MainWindow

    monkeypatch.delenv("PIXELMEND_AUTOSAVE_S")
    first = MainWindow(look_up_device=False)
    qtbot.addWidget(first)
    assert first.autosave.interval_s == DEFAULT_INTERVAL_S == 30
    assert first.act["preferences"].text() == "&Preferences…"
    first.preferences(12)
    assert first.autosave.interval_s == 12
    assert settings.get_float(INTERVAL_KEY, 0, 0, 1e9) == 12
    second = MainWindow(look_up_device=False)
    qtbot.addWidget(second)
    assert second.autosave.interval_s == 12  # kept between runs
    monkeypatch.setenv("PIXELMEND_AUTOSAVE_S", "2")
    third = MainWindow(look_up_device=False)
    qtbot.addWidget(third)
    assert third.autosave.interval_s == 2  # the override wins
    for window in (first, second, third):
        window.shutdown()


def test_an_autosave_tick_during_a_stroke_retries_soon(qtbot, window, photo_path):
    window.files.open_path(photo_path)
    doc = window.document
    doc.apply_mask_edit("rect", x0=0, y0=0, x1=5, y1=5)  # something to save
    doc.mask.dab(10.0, 10.0, 4.0, 1.0)  # and a stroke in progress at the tick
    assert not window.autosave.save_now()
    doc.mask_stroke_finished(doc.mask.end_stroke())
    qtbot.waitUntil(lambda: window.autosave.saver.ora_path.is_file(), timeout=2_000)
