"""Crash recovery with a number: the real editor in a subprocess, killed with SIGKILL after
strokes, during an op and during a save, then started again."""

from __future__ import annotations

import sys

import pytest

from desktop.bench import crash

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


# Seeds that kill after the 4th stroke, 0.1 s into the first op and 0.13 s into the second save
# (over the first save's file).
@pytest.mark.parametrize("moment, seed", [("strokes", 21), ("job", 14), ("save", 17)])
def test_a_kill_loses_at_most_the_autosave_interval(tmp_path, moment, seed):
    trial = crash.run_trial(tmp_path / "trial", seed, moment, interval_s=1.0)
    assert trial.problems == []
    # The trial is judged on the journal the session kept: a copy on disk is recovered whole
    # (unless the kill fell after a save had written the new session file, which may already
    # have discarded the copy), the work lost stays within the interval plus one copy's
    # writing time, the session file is the old or the new save, and no temporary file is left.
    if trial.copy_on_disk and trial.session_file != "new":
        assert trial.recovered
    assert trial.lost_s <= trial.bound_s <= 1.0 + 3.0
    assert trial.session_file in ("old", "new", "none")
    table = crash.format_table([trial], 1.0)
    assert crash._TITLES[moment] in table and "autosave interval 1 s" in table
