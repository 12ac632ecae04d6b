"""The editor chaos test: 200 seeded random actions on the real window raise nothing and leave
the document consistent (undo all / redo all, save and reopen, the panels)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.bench import chaos
from desktop.bench.chaos_actions import FAST_OPS, ChaosRun, random_params
from desktop.bench.drive import ErrorTrap


@pytest.fixture
def trap():
    errors = ErrorTrap().install()
    yield errors
    errors.uninstall()


def test_200_random_actions_raise_nothing_and_leave_the_document_whole(window, tmp_path, trap):
    run = ChaosRun(window, tmp_path / "files", seed=19)
    for number in range(1, 201):
        run.step()
        if number % 50 == 0:
            assert run.check() == []
    assert trap.errors == [] and run.problems == []
    assert sum(run.counts.values()) == 200
    # The run did reach the parts it is meant to shake.
    for name in ("brush", "op", "undo", "redo", "layer", "lasso", "rect", "open"):
        assert run.counts[name] > 0, name


def test_the_checks_can_fail(window, tmp_path, trap, monkeypatch):
    run = ChaosRun(window, tmp_path / "files", seed=3)
    run.open_image()
    run.paint()
    doc = window.document
    doc.mask.coverage[0, 0] ^= 255  # a change behind the history's back
    assert "undoing and redoing everything does not come back to the same pixels" in run.check()
    monkeypatch.setattr(window.layers_panel, "_update_buttons", lambda *_: 1 / 0)
    run.layer_edit()  # the panel's slot raises: the trap catches what reaches the hook
    assert any("ZeroDivisionError" in text for text in trap.errors + run.problems)


def test_random_params_are_valid_for_every_fast_op():
    from engine.core.params import resolve_params
    from engine.ops import get_op

    rng = np.random.default_rng(0)
    for name in FAST_OPS:
        op = get_op(name)
        for _ in range(20):
            params = random_params(op, rng)
            assert resolve_params(op.params, params) == params
    assert {random_params(get_op("inpaint"), rng)["method"] for _ in range(30)} == {"telea", "ns"}


def test_bench_chaos_reports_counts_time_and_exceptions(qapp, capsys):
    assert chaos.main(["--actions", "12", "--check-every", "6"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("12 actions (seed 0) in ")
    assert "exceptions: 0   failed checks: 0" in out and "open" in out
