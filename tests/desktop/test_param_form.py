"""The param form: built from specs alone, for every registered op, and it round-trips values."""

from __future__ import annotations

import math

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QSlider,
    QSpinBox,
    QToolButton,
)

from desktop.widgets.param_form import ParamForm
from engine.core.params import Bool, Choice, Float, Int, Seed
from engine.ops import all_ops


def other_value(spec):
    """A valid value different from the default (None when the spec has only one value)."""
    if isinstance(spec, Bool):
        return not spec.default
    if isinstance(spec, Choice):
        return next((choice for choice in spec.choices if choice != spec.default), None)
    if isinstance(spec, Int):  # Seed included
        step = 2 if spec.odd else 1
        for candidate in (spec.default + step, spec.default - step):
            if spec.minimum <= candidate <= min(spec.maximum, 2**31 - 1):
                return candidate
        return None
    if isinstance(spec, Float):
        for candidate in (spec.default + spec.step, spec.default - spec.step):
            if spec.minimum <= candidate <= spec.maximum:
                return round(candidate, 6)
        return None
    raise AssertionError(f"unexpected spec {spec!r}")


OPS = all_ops()


def test_the_registry_has_ops():
    assert len(OPS) >= 5
    assert any(op.name == "median" for op in OPS)


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_every_op_builds_and_round_trips(qtbot, op):
    form = ParamForm(op.params)
    qtbot.addWidget(form)
    assert form.values() == {spec.name: spec.default for spec in op.params}
    changed = {spec.name: value for spec in op.params
               if (value := other_value(spec)) is not None}
    form.set_values(changed)
    values = form.values()
    for name, value in changed.items():
        if isinstance(value, float):
            assert math.isclose(values[name], value, rel_tol=1e-6, abs_tol=1e-9), name
        else:
            assert values[name] == value, name
    form.reset()
    assert form.values() == {spec.name: spec.default for spec in op.params}


def test_widget_kinds_tooltips_and_bounds(qtbot):
    specs = (Float("sigma", 1.5, minimum=0.1, maximum=10.0, step=0.1, help="Blur radius."),
             Float("gain", 2.0, step=0.5),
             Int("size", 5, minimum=3, maximum=31, odd=True, help="Window side."),
             Bool("keep", True),
             Choice("method", "telea", choices=("telea", "ns")),
             Seed("seed", 7))
    form = ParamForm(specs)
    qtbot.addWidget(form)
    sigma = form.editor("sigma")
    assert sigma.findChild(QSlider) is not None and sigma.toolTip() == "Blur radius."
    box = sigma.findChild(QDoubleSpinBox)
    assert (box.minimum(), box.maximum()) == (0.1, 10.0)
    assert isinstance(form.editor("gain"), QDoubleSpinBox)  # unbounded: no slider
    size = form.editor("size")
    assert isinstance(size, QSpinBox) and size.singleStep() == 2
    assert size.toolTip() == "Window side."
    assert isinstance(form.editor("keep"), QCheckBox)
    assert isinstance(form.editor("method"), QComboBox)
    # Moving the slider moves the number (and the other way round).
    slider = sigma.findChild(QSlider)
    slider.setValue(slider.maximum())
    assert form.values()["sigma"] == 10.0
    box.setValue(0.1)
    assert slider.value() == 0


def test_odd_int_typed_even_becomes_odd(qtbot):
    form = ParamForm((Int("size", 5, minimum=3, maximum=31, odd=True),))
    qtbot.addWidget(form)
    form.editor("size").setValue(8)
    assert form.values()["size"] == 9
    form.editor("size").setValue(31)
    assert form.values()["size"] == 31


def test_seed_randomise_changes_the_seed(qtbot):
    form = ParamForm((Seed("seed", 0),))
    qtbot.addWidget(form)
    button = form.findChild(QToolButton, "randomise_seed")
    seen = set()
    for _ in range(5):
        button.click()
        seen.add(form.values()["seed"])
    assert len(seen) >= 4 and all(0 <= seed < 2**31 for seed in seen)


def test_set_values_ignores_unknown_and_invalid(qtbot):
    form = ParamForm((Int("size", 5, minimum=3, maximum=31, odd=True),))
    qtbot.addWidget(form)
    form.set_values({"size": 4, "nonsense": 1})
    assert form.values() == {"size": 5}
