"""What a killed run leaves: traced to its process, cleaned at the next start, never a live
PixelMend's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from desktop.document import Autosaver, Document, Layer, find_recoveries
from desktop.document import autosave as autosave_module
from desktop.document.leftovers import clean_leftovers, set_aside


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_doc() -> Document:
    return Document([Layer(np.full((8, 10, 3), 90, np.uint8), "Original")], title="t.png")


def as_dead(saver: Autosaver) -> int:
    """Rewrite the saver's marker as a killed process leaves it; return that pid."""
    pid = dead_pid()
    data = json.loads(saver.marker_path.read_text())
    data.update(pid=pid, process_start=None)
    saver.marker_path.write_text(json.dumps(data))
    return pid


def test_sessions_are_named_after_their_process_and_claim_the_folder_first(tmp_path,
                                                                          monkeypatch):
    saver = Autosaver(directory=tmp_path)
    assert saver.session_id.startswith(f"{os.getpid()}-")
    seen = []

    def save_ora(snap, path):
        seen.append(saver.marker_path.is_file())
        raise OSError("disk full")

    monkeypatch.setattr(autosave_module, "save_ora", save_ora)
    with pytest.raises(OSError):
        saver.save(make_doc())
    assert seen == [True]  # the marker exists before any crash copy is written
    as_dead(saver)
    assert find_recoveries(tmp_path) == []  # nothing to recover: not offered
    assert clean_leftovers(tmp_path) == [saver.marker_path]
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_dead_processes_go_and_live_ones_stay(tmp_path):
    live = Autosaver(directory=tmp_path)
    live.save(make_doc())
    mine = tmp_path / f".{live.session_id}.ora.abcd1234.tmp"
    killed = tmp_path / f".{dead_pid()}-0123abcd.ora.k2l3m4n5.tmp"
    unowned_new = tmp_path / ".old-style-session.ora.q1w2e3r4.tmp"
    unowned_old = tmp_path / ".older-session.json.z9x8c7v6.tmp"
    other = tmp_path / "notes.txt"
    for path in (mine, killed, unowned_new, unowned_old, other):
        path.write_bytes(b"partial")
    an_hour_ago = time.time() - 7200
    os.utime(unowned_old, (an_hour_ago, an_hour_ago))
    removed = clean_leftovers(tmp_path)
    assert sorted(removed) == sorted([killed, unowned_old])
    assert mine.exists() and unowned_new.exists() and other.exists()
    assert live.ora_path.exists() and live.marker_path.exists()


def test_a_save_interrupted_by_a_kill_is_cleaned_up_beside_the_session(tmp_path):
    sessions = tmp_path / "photos"
    sessions.mkdir()
    target = sessions / "holiday.ora"
    target.write_bytes(b"the old, complete file")
    half = sessions / ".holiday.ora.a1b2c3d4.tmp"
    half.write_bytes(b"half of the new one")
    neighbour = sessions / ".other.ora.a1b2c3d4.tmp"
    neighbour.write_bytes(b"someone else's")
    saver = Autosaver(directory=tmp_path / "autosave")
    saver.save(make_doc())
    saver.note_saving(target)
    assert json.loads(saver.marker_path.read_text())["saving_to"] == str(target.resolve())
    as_dead(saver)
    assert clean_leftovers(tmp_path / "autosave") == [half]
    assert target.read_bytes() == b"the old, complete file" and neighbour.exists()
    assert len(find_recoveries(tmp_path / "autosave")) == 1  # the crash copy is still offered
    saver.note_saving(None)
    assert "saving_to" not in json.loads(saver.marker_path.read_text())


def test_set_aside_moves_files_into_the_damaged_folder(tmp_path):
    saver = Autosaver(directory=tmp_path)
    saver.save(make_doc())
    folder = set_aside([saver.ora_path, saver.marker_path], tmp_path)
    assert folder == tmp_path / "damaged"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [saver.ora_path.name, saver.marker_path.name])
    assert find_recoveries(tmp_path) == []
