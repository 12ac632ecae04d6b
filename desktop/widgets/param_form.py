"""A form built from an op's parameter specs: one editor per spec, nothing written per op.

Float → spin box (plus a slider when both bounds are finite), Int → spin box (step 2 for odd
kernel sizes), Bool → check box, Choice → combo box, Seed → spin box with a "randomise" button.
Tooltips come from each spec's ``help``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from engine.core.params import Bool, Choice, Float, Int, Param, Seed

__all__ = ["ParamForm"]

_SLIDER_STEPS = 1000
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_FLOAT_LIMIT = 1e9


def _decimals(step: float, default: float) -> int:
    """Enough decimals to show one step and the default exactly (at most 6)."""
    places = 3 if step <= 0 or not math.isfinite(step) else 1 - math.floor(math.log10(step))
    text = f"{float(default):.6f}".rstrip("0")
    needed = len(text.partition(".")[2])
    return min(6, max(1, places, needed))


class _Field:
    """One spec's editor: the widget to place, a getter, a setter and a change hook."""

    def __init__(self, widget: QWidget, get: Callable[[], Any], put: Callable[[Any], None]):
        self.widget = widget
        self.get = get
        self.put = put


class ParamForm(QWidget):
    """Editors for a tuple of parameter specs.

    Signals
    -------
    changed() : any value was edited.
    """

    changed = Signal()

    def __init__(self, specs: Iterable[Param] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._specs: tuple[Param, ...] = ()
        self._fields: dict[str, _Field] = {}
        self.set_specs(specs)

    @property
    def specs(self) -> tuple[Param, ...]:
        """The specs the form currently edits."""
        return self._specs

    def editor(self, name: str) -> QWidget:
        """The widget that edits parameter ``name`` (for tests and focus)."""
        return self._fields[name].widget

    def set_specs(self, specs: Iterable[Param]) -> None:
        """Replace all editors with ones for ``specs``, showing their defaults."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._specs = tuple(specs)
        self._fields = {}
        for spec in self._specs:
            field = self._build(spec)
            field.widget.setToolTip(spec.help)
            field.widget.setObjectName(f"param_{spec.name}")
            field.put(spec.default)
            self._fields[spec.name] = field
            self._layout.addRow(spec.label, field.widget)
            label = self._layout.labelForField(field.widget)
            if label is not None:
                label.setToolTip(spec.help)

    def values(self) -> dict[str, Any]:
        """The current value of every parameter, validated by its spec."""
        return {spec.name: spec.validate(self._fields[spec.name].get()) for spec in self._specs}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values``; names the form does not know and invalid values are skipped."""
        for spec in self._specs:
            if spec.name not in values:
                continue
            try:
                value = spec.validate(values[spec.name])
            except ValueError:
                continue
            self._fields[spec.name].put(value)

    def reset(self) -> None:
        """Show every parameter's default again."""
        self.set_values({spec.name: spec.default for spec in self._specs})

    # -- builders -------------------------------------------------------------------------

    def _build(self, spec: Param) -> _Field:
        if isinstance(spec, Seed):
            return self._seed(spec)
        if isinstance(spec, Int):
            return self._int(spec)
        if isinstance(spec, Float):
            return self._float(spec)
        if isinstance(spec, Bool):
            box = QCheckBox()
            box.toggled.connect(self.changed)
            return _Field(box, box.isChecked, lambda value: box.setChecked(bool(value)))
        if isinstance(spec, Choice):
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.currentIndexChanged.connect(self.changed)
            return _Field(combo, combo.currentText,
                          lambda value: combo.setCurrentIndex(combo.findText(str(value))))
        raise TypeError(f"no editor for parameter kind {spec.kind!r} ({spec.name})")

    def _int_box(self, spec: Int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(max(spec.minimum, _INT_MIN), min(spec.maximum, _INT_MAX))
        box.setSingleStep(2 if spec.odd else max(1, spec.step))
        box.setKeyboardTracking(False)
        box.valueChanged.connect(self.changed)
        return box

    def _int(self, spec: Int) -> _Field:
        box = self._int_box(spec)

        def get() -> int:
            value = box.value()
            if spec.odd and value % 2 == 0:  # typed even: take the next odd value inside bounds
                value = value + 1 if value + 1 <= spec.maximum else value - 1
                box.setValue(value)
            return value

        return _Field(box, get, lambda value: box.setValue(int(value)))

    def _seed(self, spec: Seed) -> _Field:
        box = self._int_box(spec)
        button = QToolButton()
        button.setText("Randomise")
        button.setToolTip("Pick a new random seed")
        button.setObjectName(f"randomise_{spec.name}")
        button.clicked.connect(
            lambda: box.setValue(random.randint(box.minimum(), min(box.maximum(), 2**31 - 1))))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box, 1)
        layout.addWidget(button)
        row.setFocusProxy(box)
        return _Field(row, box.value, lambda value: box.setValue(int(value)))

    def _float(self, spec: Float) -> _Field:
        box = QDoubleSpinBox()
        box.setDecimals(_decimals(spec.step, spec.default))
        box.setRange(max(spec.minimum, -_FLOAT_LIMIT), min(spec.maximum, _FLOAT_LIMIT))
        box.setSingleStep(spec.step)
        box.setKeyboardTracking(False)
        box.valueChanged.connect(self.changed)
        if not (math.isfinite(spec.minimum) and math.isfinite(spec.maximum)):
            return _Field(box, box.value, lambda value: box.setValue(float(value)))

        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, _SLIDER_STEPS)
        span = spec.maximum - spec.minimum or 1.0

        def to_slider(value: float) -> None:
            slider.blockSignals(True)
            slider.setValue(round((value - spec.minimum) / span * _SLIDER_STEPS))
            slider.blockSignals(False)

        box.valueChanged.connect(to_slider)
        slider.valueChanged.connect(
            lambda step: box.setValue(spec.minimum + span * step / _SLIDER_STEPS))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(slider, 2)
        layout.addWidget(box, 1)
        row.setFocusProxy(box)
        slider.setToolTip(spec.help)
        box.setToolTip(spec.help)

        def put(value: float) -> None:
            box.setValue(float(value))
            to_slider(box.value())

        return _Field(row, lambda: round(box.value(), box.decimals()), put)
