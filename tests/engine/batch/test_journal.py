"""The journal: durable lines, a cut line ignored, the reasons to redo a file, one run at once."""

import numpy as np
import pytest

from engine.batch.journal import (
    BatchLocked,
    Journal,
    new_record,
    read_records,
    recipe_digest,
)
from engine.io import save


def test_records_survive_a_line_cut_short_and_the_last_one_wins(tmp_path):
    source = save(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    out = tmp_path / "out"
    with Journal(out) as journal:
        journal.append(new_record("a.png", source, "r1", status="failed", error="boom"))
        journal.append(new_record("a.png", source, "r1", status="done", output="a.png"))
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write('{"input": "b.png", "status": "do')            # killed mid-line
    records = dict(read_records(journal.path))
    assert list(records) == ["a.png"] and records["a.png"].status == "done"


def test_a_finished_file_is_redone_only_when_something_changed(tmp_path):
    source = save(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    digest = recipe_digest({"op": "median", "params": {"size": 3}})
    assert digest == recipe_digest({"steps": [{"op": "median", "params": {"size": 3}}],
                                    "name": "x", "engine": "9"})
    assert digest != recipe_digest({"op": "median", "params": {"size": 5}})
    with Journal(out) as journal:
        assert journal.finished("a.png", source, digest, out) == (False, "new")
        journal.append(new_record("a.png", source, digest, status="done", output="a.png"))
        assert journal.finished("a.png", source, digest, out) == (False, "output missing")
        save(out / "a.png", np.zeros((4, 4), np.uint8))
        assert journal.finished("a.png", source, digest, out) == (True, "done")
        assert journal.finished("a.png", source, "other", out) == (False, "recipe changed")
        save(source, np.ones((4, 4), np.uint8))
        assert journal.finished("a.png", source, digest, out) == (False, "input changed")
        journal.append(new_record("a.png", source, digest, status="failed", error="x"))
        assert journal.finished("a.png", source, digest, out) == (False, "failed before")


def test_two_runs_cannot_share_an_output_folder(tmp_path):
    first = Journal(tmp_path).__enter__()
    with pytest.raises(BatchLocked, match="another batch run"):
        Journal(tmp_path).__enter__()
    first.__exit__(None, None, None)
    with Journal(tmp_path):                     # released when the first run ended
        pass
