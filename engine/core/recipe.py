"""Recipes: the op (or ops, in order) and params that made a result, as JSON.

One step, as every layer made in the editor keeps it::

    {"op": "median", "params": {"size": 5}, "engine": "0.1.0"}

Several steps, as a restoration or a batch run applies them one after another::

    {"name": "Restore old photo",
     "steps": [{"op": "detect_defects", "params": {}},
               {"op": "inpaint", "params": {}, "mask": "proposal"},
               {"op": "denoise", "params": {"strength": 0.8}, "mask": "none"}],
     "engine": "0.1.0"}

A step's ``mask`` says which mask it works on (:data:`MASK_SOURCES`); each step takes the image
the previous one returned. Running a recipe is :mod:`engine.ops.pipeline`; the recipes that
ship with PixelMend are in ``resources/recipes`` (:func:`shipped_recipes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.resources import resources_dir
from engine.version import __version__

__all__ = ["MASK_SOURCES", "Recipe", "RecipeError", "Step", "load_recipe", "shipped_recipes"]

MASK_SOURCES = ("auto", "none", "input", "proposal")
"""Which mask a step works on.

``auto``
    The latest mask a step proposed (a detector's), else the mask given with the run.
``none``
    No mask: the step works on the whole image.
``input``
    The mask given with the run (none if none was given).
``proposal``
    The latest mask a step proposed; the step fails when no step proposed one.
"""


class RecipeError(ValueError):
    """A recipe file or string cannot be read."""


@dataclass(frozen=True)
class Step:
    """One op of a recipe, its params and the mask it works on."""

    op: str
    params: Mapping[str, Any] = field(default_factory=dict)
    mask: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (``mask`` only when it is not ``auto``)."""
        data: dict[str, Any] = {"op": self.op, "params": dict(self.params)}
        if self.mask != "auto":
            data["mask"] = self.mask
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "a recipe") -> Step:
        """Build from a dict, checking its shape; ``where`` names it in errors."""
        if not isinstance(data, Mapping) or not isinstance(data.get("op"), str):
            raise RecipeError(f'{where} is a JSON object with an "op" name and "params"')
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise RecipeError(f'{where}: "params" must be a JSON object')
        mask = data.get("mask", "auto")
        if mask not in MASK_SOURCES:
            raise RecipeError(f'{where}: "mask" must be one of {", ".join(MASK_SOURCES)}, '
                              f"not {mask!r}")
        return cls(op=data["op"], params=dict(params), mask=mask)


@dataclass(frozen=True, init=False)
class Recipe:
    """The steps of a recipe, its name and the engine version that wrote it.

    ``Recipe("median", {"size": 5})`` is a one-step recipe; ``Recipe(steps=[...], name=...)``
    has several.
    """

    steps: tuple[Step, ...]
    name: str
    engine: str

    def __init__(self, op: str | None = None, params: Mapping[str, Any] | None = None,
                 engine: str = __version__, *, steps: Iterable[Step] | None = None,
                 name: str = "") -> None:
        if (op is None) == (steps is None):
            raise TypeError("a recipe has either one op or a list of steps")
        chosen = (Step(op, dict(params or {})),) if op is not None else tuple(steps or ())
        if not chosen:
            raise RecipeError("a recipe needs at least one step")
        object.__setattr__(self, "steps", chosen)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "engine", engine)

    @property
    def single(self) -> bool:
        """Whether the recipe is one op with the automatic mask (the layer form)."""
        return len(self.steps) == 1 and self.steps[0].mask == "auto"

    @property
    def op(self) -> str:
        """The op of a one-step recipe."""
        return self._only().op

    @property
    def params(self) -> Mapping[str, Any]:
        """The params of a one-step recipe."""
        return self._only().params

    def _only(self) -> Step:
        if len(self.steps) != 1:
            raise AttributeError(f"the recipe has {len(self.steps)} steps, not one op")
        return self.steps[0]

    def title(self) -> str:
        """A short human name: its own name, or its ops joined by arrows."""
        return self.name or " → ".join(step.op for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON: the one-step form when it is one, else ``steps``."""
        if self.single and not self.name:
            return {"op": self.op, "params": dict(self.params), "engine": self.engine}
        data: dict[str, Any] = {"steps": [step.to_dict() for step in self.steps],
                                "engine": self.engine}
        if self.name:
            data["name"] = self.name
        return data

    def to_json(self) -> str:
        """Compact JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build from a dict of either form, checking its shape."""
        if not isinstance(data, Mapping):
            raise RecipeError('a recipe is a JSON object with an "op" name and "params", or '
                              'with "steps"')
        engine = str(data.get("engine", ""))
        name = data.get("name", "")
        if not isinstance(name, str):
            raise RecipeError('a recipe\'s "name" must be text')
        if "steps" in data:
            raw = data["steps"]
            if not isinstance(raw, list) or not raw:
                raise RecipeError('a recipe\'s "steps" must be a non-empty JSON list')
            steps = [Step.from_dict(step, f"step {index} of the recipe")
                     for index, step in enumerate(raw, 1)]
            return cls(steps=steps, name=name, engine=engine)
        step = Step.from_dict(data)
        return cls(steps=[step], name=name, engine=engine)

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
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not a recipe (the file is not UTF-8 text)") from None
    try:
        return Recipe.from_json(text)
    except RecipeError as error:
        raise RecipeError(f"{path}: {error}") from None


def shipped_recipes(folder: Path | None = None) -> dict[str, Path]:
    """The recipes that ship with PixelMend, by file stem (``restore-old-photo`` ...).

    Parameters
    ----------
    folder : Path, optional
        Where to look; ``resources/recipes`` by default.
    """
    folder = folder or resources_dir() / "recipes"
    if not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.glob("*.json"))}
