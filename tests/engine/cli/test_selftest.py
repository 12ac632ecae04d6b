"""The self-test behind ``pixelmend --self-test``: every op runs, failures are reported."""

import io
import json
import re
import time

import numpy as np
import pytest

from engine.cli.selftest import run_selftest, selftest_image, selftest_mask, selftest_params
from engine.core.params import Choice, Float, Int
from engine.ops import registry
from engine.ops.registry import Op, OpResult, all_ops

LINE = re.compile(r"^(  ok|FAIL)  (\S+)\s+(\d+\.\d+) s")


def _op_lines(text):
    return [LINE.match(line) for line in text.splitlines() if LINE.match(line)]


def test_every_registered_op_passes_with_one_line_each():
    stream = io.StringIO()
    code = run_selftest(stream)
    text = stream.getvalue()
    lines = [m for m in _op_lines(text) if m.group(2) not in ("model", "runtime")]
    assert code == 0, text
    assert [m.group(2) for m in lines] == [op.name for op in all_ops(builtin_only=True)]
    assert all(m.group(1) == "  ok" for m in lines)
    assert re.search(r"^  ok  runtime .* torch .*device: ", text, re.M), text
    assert text.rstrip().splitlines()[-1].startswith("self-test passed")


class _NaNOp(Op):
    name = "selftest_nan"
    title = "NaN"
    params = (Float("strength", 1.0, minimum=0.0, maximum=2.0),)

    def run(self, image, mask, params, progress, cancel, device):
        out = image.copy()
        out[0, 0, 0] = np.nan
        return OpResult(image=out)


class _RaisingOp(Op):
    name = "selftest_raises"
    title = "Raises"
    mask_use = "hole"
    needs_mask = True

    def run(self, image, mask, params, progress, cancel, device):
        assert mask is not None and mask.sum() == 144
        raise ValueError("the kernel is\n too large")


class _RangeOp(Op):
    name = "selftest_range"
    title = "Out of range"

    def run(self, image, mask, params, progress, cancel, device):
        return OpResult(image=image * 0 + 1.5)


class _GoodOp(Op):
    name = "selftest_good"
    title = "Good"

    def run(self, image, mask, params, progress, cancel, device):
        return OpResult(image=1.0 - image)


@pytest.fixture
def fake_ops(monkeypatch):
    registry.all_ops()  # load the built-in ops first, so ours are added, not replaced
    for op in (_NaNOp, _RaisingOp, _RangeOp, _GoodOp):
        monkeypatch.setitem(registry._REGISTRY, op.name, op)


def test_failures_are_reported_and_do_not_stop_the_others(fake_ops, tmp_path):
    stream = io.StringIO()
    names = ["selftest_nan", "selftest_raises", "selftest_range", "selftest_good", "nope"]
    code = run_selftest(stream, ops=names, models_folder=tmp_path)
    text = stream.getvalue()
    assert code == 1
    status = {m.group(2): m.group(1) for m in _op_lines(text)
              if m.group(2) not in ("model", "runtime")}
    assert status == {"selftest_nan": "FAIL", "selftest_raises": "FAIL",
                      "selftest_range": "FAIL", "selftest_good": "  ok", "nope": "FAIL"}
    assert "NaN" in text
    assert "ValueError: the kernel is too large" in text  # one line, whitespace folded
    assert "leaves [0, 1]" in text
    assert "not a registered op" in text
    assert "no models shipped" in text
    assert "FAILED (4 failure(s)): 1/5 ops ok" in text


def test_a_slow_op_is_cancelled_and_fails(monkeypatch, tmp_path):
    class Slow(Op):
        name = "selftest_slow"
        title = "Slow"

        def run(self, image, mask, params, progress, cancel, device):
            while True:
                cancel.raise_if_cancelled()
                time.sleep(0.01)

    registry.all_ops()
    monkeypatch.setitem(registry._REGISTRY, Slow.name, Slow)
    stream = io.StringIO()
    code = run_selftest(stream, ops=[Slow.name], models_folder=tmp_path, op_time_limit=0.3)
    assert code == 1
    (line,) = [m for m in _op_lines(stream.getvalue()) if m.group(2) == Slow.name]
    assert line.group(1) == "FAIL" and float(line.group(3)) < 3
    assert "took longer than 0.3 s" in stream.getvalue()


def test_params_shorten_budgets_and_generated_sizes_only():
    class Gen(Op):
        name = "gen"
        title = "Gen"
        generates = True
        params = (
            Int("width", 512, minimum=16, maximum=4096),
            Int("height", 512, minimum=64, maximum=4096),
            Float("train_seconds", 60.0, minimum=2.0, maximum=600.0),
            Int("iterations", 200, minimum=1, maximum=10000),
            Int("patch_size", 15, minimum=3, maximum=63, odd=True),
            Choice("method", "a", choices=("a", "b")),
        )

        def run(self, *args):  # pragma: no cover - never run
            raise AssertionError

    class Filter(Op):
        name = "filt"
        title = "Filter"
        params = (Int("width", 9, minimum=1, maximum=99), Int("steps", 10, minimum=0, maximum=99))

        def run(self, *args):  # pragma: no cover - never run
            raise AssertionError

    assert selftest_params(Gen) == {"width": 32, "height": 64, "train_seconds": 2.0,
                                    "iterations": 1}
    # a filter's "width" is a real setting, not an output size: only its budget is shortened,
    # and a budget whose minimum is 0 ("automatic") gets 1, not 0
    assert selftest_params(Filter) == {"steps": 1}


def test_synthetic_inputs_are_valid_and_deterministic():
    rgb, gray = selftest_image(3), selftest_image(1)
    assert rgb.shape == (64, 64, 3) and gray.shape == (64, 64, 1)
    assert rgb.dtype == gray.dtype == np.float32
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    assert rgb.std() > 0.1  # structure, not a flat field
    np.testing.assert_array_equal(rgb, selftest_image(3))
    mask = selftest_mask()
    assert mask.dtype == bool and mask.sum() == 144 and mask[32, 32] and not mask[0, 0]


def test_models_are_loaded_and_a_damaged_one_fails(tmp_path):
    import torch
    from safetensors.torch import save_file

    from engine.models.weights import sha256_file

    save_file({"w": torch.ones(2, 3)}, str(tmp_path / "good.safetensors"))
    save_file({"w": torch.zeros(4)}, str(tmp_path / "bad.safetensors"))
    manifest = {"models": {
        "good": {"file": "good.safetensors", "sha256": sha256_file(tmp_path / "good.safetensors"),
                 "architecture": "Tiny"},
        "bad": {"file": "bad.safetensors", "sha256": "0" * 64, "architecture": "Tiny"},
    }}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    stream = io.StringIO()
    code = run_selftest(stream, ops=[], models_folder=tmp_path)
    text = stream.getvalue()
    assert code == 1
    assert re.search(r"^  ok  model good .* Tiny, 6 parameters$", text, re.M), text
    assert re.search(r"^FAIL  model bad .*damaged", text, re.M), text
