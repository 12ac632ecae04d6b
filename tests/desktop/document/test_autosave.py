"""Tests for desktop.document.autosave: crash copies, markers, recovery, state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop.document import Autosaver, Document, Layer, find_recoveries, state_dir
from desktop.document.autosave import pid_alive


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_doc() -> Document:
    px = np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3)
    doc = Document([Layer(px, "Original")], source_path="/photos/cat.png")
    doc.set_layer_props(0, opacity=0.5)
    doc.mask.dab(5.0, 5.0, 3.0, 1.0)
    doc.mask.end_stroke()
    return doc


def kill_marker(saver: Autosaver) -> None:
    data = json.loads(saver.marker_path.read_text())
    data["pid"] = dead_pid()
    saver.marker_path.write_text(json.dumps(data))


def test_save_find_only_when_dead_then_discard(tmp_path):
    doc = make_doc()
    saver = Autosaver(directory=tmp_path / "autosave")
    path = saver.save(doc)
    assert path.is_file() and saver.marker_path.is_file()
    marker = json.loads(saver.marker_path.read_text())
    assert marker["pid"] == os.getpid() and marker["title"] == "cat.png"
    assert find_recoveries(tmp_path / "autosave") == []  # we are alive
    kill_marker(saver)
    found = find_recoveries(tmp_path / "autosave")
    assert len(found) == 1
    recovery = found[0]
    assert recovery.path == path and recovery.title == "cat.png"
    assert recovery.source_path == Path("/photos/cat.png")
    recovered = recovery.open()
    assert recovered.dirty and recovered.title == "cat.png" and recovered.save_path is None
    assert recovered.layers[0].opacity == 0.5
    np.testing.assert_array_equal(recovered.layers[0].pixels, doc.layers[0].pixels)
    np.testing.assert_array_equal(recovered.mask.coverage, doc.mask.coverage)
    recovery.discard()
    assert not path.exists() and not saver.marker_path.exists()
    assert find_recoveries(tmp_path / "autosave") == []


def test_discard_on_clean_close_and_resave_replaces(tmp_path):
    doc = make_doc()
    saver = Autosaver("session-1", directory=tmp_path)
    saver.save(doc)
    doc.set_layer_props(0, name="second")
    saver.save(doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session-1.json", "session-1.ora"]
    saver.discard()
    assert list(tmp_path.iterdir()) == []
    saver.discard()  # twice is fine


def test_broken_markers_and_missing_copies_are_skipped(tmp_path):
    saver = Autosaver(directory=tmp_path)
    saver.save(make_doc())
    kill_marker(saver)
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "nopid.json").write_text(json.dumps({"title": "x"}))
    (tmp_path / "orphan.json").write_text(json.dumps({"pid": dead_pid(), "ora": "gone.ora"}))
    found = find_recoveries(tmp_path)
    assert [r.path.name for r in found] == [saver.ora_path.name]
    assert find_recoveries(tmp_path / "does-not-exist") == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_reused_pid_counts_as_dead(tmp_path):
    saver = Autosaver(directory=tmp_path)
    saver.save(make_doc())
    data = json.loads(saver.marker_path.read_text())
    data["process_start"] = "1"  # our pid, but another process's start time
    saver.marker_path.write_text(json.dumps(data))
    assert len(find_recoveries(tmp_path)) == 1
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid()) and not pid_alive(-3)


def test_recovery_keeps_the_save_path(tmp_path):
    doc = make_doc()
    doc.mark_saved(tmp_path / "mine.ora")
    doc.set_layer_props(0, visible=False)
    saver = Autosaver(directory=tmp_path / "auto")
    saver.save(doc)
    kill_marker(saver)
    recovered = find_recoveries(tmp_path / "auto")[0].open()
    assert recovered.save_path == tmp_path / "mine.ora" and recovered.title == "mine.ora"
    assert not recovered.layers[0].visible and recovered.dirty


def test_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELMEND_STATE_DIR", str(tmp_path / "state"))
    assert state_dir() == tmp_path / "state"
    monkeypatch.delenv("PIXELMEND_STATE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
        assert state_dir() == tmp_path / "xdg" / "pixelmend"
        monkeypatch.delenv("XDG_STATE_HOME")
        assert state_dir() == Path.home() / ".local" / "state" / "pixelmend"


def test_default_directory_follows_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELMEND_STATE_DIR", str(tmp_path))
    saver = Autosaver()
    saver.save(make_doc())
    assert saver.ora_path.parent == tmp_path / "autosave" and saver.ora_path.is_file()
    saver.discard()
