"""Recipes: the op and params that made a result, as JSON.

``{"op": name, "params": {...}, "engine": version}``. A layer keeps the recipe that made it,
and the command line runs a recipe file on a folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.version import __version__

__all__ = ["Recipe", "RecipeError", "load_recipe"]


class RecipeError(ValueError):
    """A recipe file or string cannot be read."""


@dataclass(frozen=True)
class Recipe:
    """An op name, its parameters, and the engine version that ran it."""

    op: str
    params: Mapping[str, Any] = field(default_factory=dict)
    engine: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"op": self.op, "params": dict(self.params), "engine": self.engine}

    def to_json(self) -> str:
        """Compact JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build from a dict, checking its shape."""
        if not isinstance(data, Mapping) or not isinstance(data.get("op"), str):
            raise RecipeError('a recipe is a JSON object with an "op" name and "params"')
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise RecipeError('a recipe\'s "params" must be a JSON object')
        return cls(op=data["op"], params=dict(params), engine=str(data.get("engine", "")))

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Parse JSON text."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as error:
            raise RecipeError(f"not valid JSON: {error}") from None


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe file; raise :class:`RecipeError` naming the file on failure."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecipeError(f"{path}: cannot read recipe ({error.strerror or error})") from None
    try:
        return Recipe.from_json(text)
    except RecipeError as error:
        raise RecipeError(f"{path}: {error}") from None
