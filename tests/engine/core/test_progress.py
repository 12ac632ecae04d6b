import threading

import pytest

from engine.core.progress import Cancelled, CancelToken, Throttle, sub_range


def test_cancel_token_raises_only_after_cancel():
    token = CancelToken()
    token.raise_if_cancelled()
    assert not token.cancelled
    threading.Thread(target=token.cancel).start()
    with pytest.raises(Cancelled):
        for _ in range(10_000_000):
            token.raise_if_cancelled()
    assert token.cancelled


def test_sub_range_maps_and_clips_fractions():
    seen = []
    report = sub_range(lambda f, m="", p=None: seen.append((round(f, 6), m)), 0.5, 0.75)
    report(0.0, "a")
    report(0.5, "b")
    report(2.0, "c")
    assert seen == [(0.5, "a"), (0.625, "b"), (0.75, "c")]


def test_throttle_passes_moves_finishes_and_timely_changes():
    now = [0.0]
    throttle = Throttle(0.1, step=0.05, preview_interval=0.5, clock=lambda: now[0])
    assert throttle.progress_due(0.0, "start")           # the first report
    assert not throttle.progress_due(0.01, "start")      # a small move, too soon
    assert throttle.progress_due(0.06, "start")          # a step
    assert not throttle.progress_due(0.06, "start")
    now[0] = 0.2
    assert not throttle.progress_due(0.06, "start")      # nothing changed
    assert throttle.progress_due(0.07, "tile 2")         # changed, and time passed
    assert throttle.progress_due(1.0, "done")            # finishing is always due
    assert not throttle.progress_due(1.0, "done")
    assert throttle.preview_due() and not throttle.preview_due()
    now[0] = 0.8
    assert throttle.preview_due()
    timed = Throttle(5.0, clock=lambda: now[0])              # time alone decides
    timed.restart()
    assert not timed.progress_due(0.5, "again")
    now[0] = 6.0
    assert timed.progress_due(0.6, "again") and not timed.progress_due(0.7, "again")
