"""Typed parameter specs for ops.

Every knob of an op is declared once as a frozen spec with its default, bounds and help text.
The desktop builds its forms from these specs and the command line builds its ``--set`` parser
from them, so nobody writes a dialog or a flag by hand.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Bool",
    "Choice",
    "Float",
    "Int",
    "Param",
    "ParamError",
    "Seed",
    "parse_param_text",
    "resolve_params",
]


class ParamError(ValueError):
    """A parameter value is unknown, of the wrong type or out of bounds."""


@dataclass(frozen=True)
class Param(ABC):
    """Base of all parameter specs.

    Parameters
    ----------
    name : str
        Identifier used in recipes and on the command line (``--set name=value``).
    default : Any
        Value used when none is given.
    title : str
        Short label for forms; derived from ``name`` when empty.
    help : str
        One sentence that tells a person what the knob does.
    """

    name: str
    default: Any
    title: str = ""
    help: str = ""
    kind: str = field(default="param", init=False)

    @property
    def label(self) -> str:
        """Human-readable label."""
        return self.title or self.name.replace("_", " ").capitalize()

    @abstractmethod
    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this spec's type, or raise :class:`ParamError`."""

    def parse(self, text: str) -> Any:
        """Parse a command-line string and validate it."""
        return self.validate(text)

    def to_json(self) -> dict[str, Any]:
        """Describe the spec as plain JSON-able data."""
        return {"name": self.name, "kind": self.kind, "title": self.label, "help": self.help,
                "default": self.default}

    def _fail(self, value: Any, why: str) -> ParamError:
        return ParamError(f"parameter '{self.name}': {value!r} {why}")


@dataclass(frozen=True)
class Float(Param):
    """A real number in ``[minimum, maximum]``."""

    minimum: float = -math.inf
    maximum: float = math.inf
    step: float = 0.1
    kind: str = field(default="float", init=False)

    def validate(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self._fail(value, "is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(value, "is not a number") from None
        if not math.isfinite(number):
            raise self._fail(value, "is not a finite number")
        if not self.minimum <= number <= self.maximum:
            raise self._fail(value, f"is outside [{self.minimum:g}, {self.maximum:g}]")
        return number

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "minimum": self.minimum, "maximum": self.maximum,
                "step": self.step}


@dataclass(frozen=True)
class Int(Param):
    """An integer in ``[minimum, maximum]``; ``odd=True`` demands an odd value (kernel sizes)."""

    minimum: int = -(2**31)
    maximum: int = 2**31 - 1
    step: int = 1
    odd: bool = False
    kind: str = field(default="int", init=False)

    def validate(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self._fail(value, "is not an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise self._fail(value, "is not an integer")
            value = int(value)
        try:
            number = int(str(value).strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise self._fail(value, "is not an integer") from None
        if not self.minimum <= number <= self.maximum:
            raise self._fail(value, f"is outside [{self.minimum}, {self.maximum}]")
        if self.odd and number % 2 == 0:
            raise self._fail(value, "must be odd")
        return number

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "minimum": self.minimum, "maximum": self.maximum,
                "step": self.step, "odd": self.odd}


@dataclass(frozen=True)
class Seed(Int):
    """A random seed: a non-negative integer; the same seed gives the same result."""

    minimum: int = 0
    maximum: int = 2**31 - 1
    kind: str = field(default="seed", init=False)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Bool(Param):
    """A switch."""

    kind: str = field(default="bool", init=False)

    def validate(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self._fail(value, "is not true or false")


@dataclass(frozen=True)
class Choice(Param):
    """One of a fixed set of strings."""

    choices: tuple[str, ...] = ()
    kind: str = field(default="choice", init=False)

    def validate(self, value: Any) -> str:
        text = str(value).strip()
        if text not in self.choices:
            raise self._fail(value, f"is not one of: {', '.join(self.choices)}")
        return text

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "choices": list(self.choices)}


def resolve_params(specs: Iterable[Param], values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``values`` against ``specs`` and fill in defaults.

    Parameters
    ----------
    specs : iterable of Param
        The op's declared parameters.
    values : mapping or None
        Values given by a person, a recipe or the command line.

    Returns
    -------
    dict
        One validated value for every spec, in spec order.

    Raises
    ------
    ParamError
        For a name no spec declares, or a value a spec rejects.
    """
    specs = tuple(specs)
    values = dict(values or {})
    known = {spec.name for spec in specs}
    unknown = sorted(set(values) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise ParamError(f"unknown parameter {', '.join(map(repr, unknown))} (known: {names})")
    return {
        spec.name: spec.validate(values[spec.name]) if spec.name in values else spec.default
        for spec in specs
    }


def parse_param_text(specs: Iterable[Param], assignment: str) -> tuple[str, Any]:
    """Parse one ``NAME=VALUE`` string from the command line against ``specs``."""
    name, sep, text = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ParamError(f"expected NAME=VALUE, got {assignment!r}")
    by_name = {spec.name: spec for spec in specs}
    if name not in by_name:
        names = ", ".join(sorted(by_name)) or "none"
        raise ParamError(f"unknown parameter {name!r} (known: {names})")
    return name, by_name[name].parse(text)
