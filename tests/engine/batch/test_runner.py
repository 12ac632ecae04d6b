"""Batch runs: parallel, resumable after kill -9, failures reported, a crashed worker replaced."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import io
from engine.batch.journal import JOURNAL_DIR, read_records
from engine.batch.plan import plan_outputs
from engine.batch.runner import BatchOptions, run_batch
from engine.core.recipe import Recipe

from .conftest import make_photos

MEDIAN = Recipe("median", {"size": 3})


def _run(photos, out, recipe=MEDIAN, **options):
    jobs, _ = plan_outputs([photos], out, recursive=True, folder=True)
    return run_batch(jobs, recipe, out, BatchOptions(**{"workers": 2, **options}))


def test_a_run_writes_every_file_and_a_second_run_skips_them(photos, tmp_path):
    out = tmp_path / "out"
    first = _run(photos, out)
    assert first.done == 6 and not first.failed and first.skipped == 0
    expected = io.load(photos / "sub" / "photo001.png").pixels
    written = io.load(out / "sub" / "photo001.png").pixels
    assert written.shape == expected.shape and not np.array_equal(written, expected)
    report = json.loads((out / "pixelmend-report.json").read_text())
    assert report["done"] == 6 and len(report["files"]) == 6
    assert (out / "pixelmend-report.csv").read_text().count("\n") == 7
    again = _run(photos, out)
    assert again.skipped == 6 and again.done == 0
    changed = _run(photos, out, recipe=Recipe("median", {"size": 5}))
    assert changed.done == 6                               # another recipe: everything again
    make_photos(photos, 1, seed=9)                         # photo000.png gets new pixels
    assert _run(photos, out, recipe=Recipe("median", {"size": 5})).done == 1


def test_a_bad_file_is_reported_and_the_others_are_written(photos, tmp_path):
    (photos / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "out"
    report = _run(photos, out)
    assert report.done == 6 and len(report.failed) == 1
    assert "broken.png" in report.failed[0].error
    assert "broken.png" in (out / "pixelmend-report.csv").read_text()
    stale = out / ".photo000.png.abcd1234.tmp"
    stale.write_bytes(b"half")
    assert _run(photos, out).done == 0 and not stale.exists()   # left-overs removed on resume


def test_a_dry_run_changes_nothing(photos, tmp_path):
    jobs, _ = plan_outputs([photos], tmp_path / "out", recursive=True, folder=True)
    seen = []
    report = run_batch(jobs, MEDIAN, tmp_path / "out", BatchOptions(), dry_run=True,
                       on_plan=seen.extend)
    assert report.planned == 6 and len(seen) == 6 and not (tmp_path / "out").exists()


def test_a_crashed_worker_fails_its_file_and_the_run_goes_on(photos, tmp_path, monkeypatch):
    # A plug-in op that kills its own process on one file, loaded into every worker by a
    # sitecustomize module on the workers' path.
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(
        "import os\n"
        "from engine.ops import Op, OpResult, register\n\n"
        "@register\n"
        "class Crash(Op):\n"
        "    name = 'test_crash_on_47_rows'\n"
        "    title = 'crash'\n"
        "    def run(self, image, mask, params, progress, cancel, device):\n"
        "        if image.shape[0] == 47:\n"
        "            os._exit(9)\n"
        "        return OpResult(image=image.copy())\n")
    io.save(photos / "sub" / "crash.png", np.zeros((47, 30, 3), np.uint8))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin), *sys.path]))
    sys.path.insert(0, str(plugin))
    try:
        import sitecustomize  # noqa: F401  - the driver checks the recipe against it too
        report = _run(photos, tmp_path / "out", recipe=Recipe("test_crash_on_47_rows", {}),
                      workers=1)
    finally:
        sys.path.remove(str(plugin))
    crashed = [record for record in report.failed if "died" in record.error]
    assert [record.input for record in crashed] == ["sub/crash.png"]
    assert report.done + len(report.failed) == 7 and report.done >= 5


def test_kill_minus_nine_loses_no_finished_file_and_the_rerun_completes(tmp_path):
    photos = tmp_path / "in"
    make_photos(photos, 24, size=(160, 200))
    out = tmp_path / "out"
    recipe = tmp_path / "nlm.json"
    recipe.write_text(json.dumps({"op": "nl_means", "params": {"h": 10}}))
    command = [sys.executable, "-m", "engine.cli", "batch", str(recipe), str(photos), "-o",
               str(out), "--recursive", "--workers", "2", "--quiet"]
    root = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(command, cwd=root, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / JOURNAL_DIR / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.is_file() and len(list(read_records(journal))) >= 3:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)                # the driver and its workers
    process.wait()
    finished = dict(read_records(journal))
    assert 3 <= len(finished) < 24
    for record in finished.values():                      # every journalled output is whole
        assert record.status == "done" and io.load(out / record.output).pixels.shape[0] == 160
    rerun = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} finished before" in rerun.stderr
    assert len(dict(read_records(journal))) == 24
    assert not list(out.rglob(".*.tmp"))


def test_ray_runs_each_file_as_a_task(photos, tmp_path):
    pytest.importorskip("ray", reason="Ray is the optional 'cluster' extra")
    report = _run(photos, tmp_path / "out", ray="local", threads=1)
    assert report.done == 6 and not report.failed
    assert io.load(tmp_path / "out" / "photo000.png").pixels.shape == (48, 64, 3)
