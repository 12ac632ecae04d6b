import threading

import pytest

from engine.core.progress import Cancelled, CancelToken, sub_range


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
