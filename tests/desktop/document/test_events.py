"""Tests for desktop.document.events.Emitter."""

from __future__ import annotations

from desktop.document import Emitter


def test_connect_emit_disconnect():
    emitter = Emitter()
    calls = []
    first = lambda *args: calls.append(("first", *args))  # noqa: E731
    second = lambda *args: calls.append(("second", *args))  # noqa: E731
    emitter.connect("mask", first)
    emitter.connect("mask", second)
    emitter.connect("mask", first)  # connected once only
    emitter.emit("mask", (slice(0, 1), slice(2, 3)))
    emitter.emit("layers")  # nobody listens
    assert calls == [("first", (slice(0, 1), slice(2, 3))), ("second", (slice(0, 1), slice(2, 3)))]
    emitter.disconnect("mask", first)
    emitter.disconnect("mask", first)  # unknown: ignored
    emitter.emit("mask", None)
    assert calls[-1] == ("second", None) and emitter.receivers("mask") == 1


def test_disconnect_during_emission_takes_effect_next_time():
    emitter = Emitter()
    calls = []

    def once(*args):
        calls.append("once")
        emitter.disconnect("dirty", once)

    emitter.connect("dirty", once)
    emitter.connect("dirty", lambda *args: calls.append("other"))
    emitter.emit("dirty", True)
    emitter.emit("dirty", False)
    assert calls == ["once", "other", "other"]
