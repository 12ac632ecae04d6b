"""The op registry: every operation is a class registered by name.

An op declares its name, title, category, parameter specs, how it uses a mask and which devices
it supports; its :meth:`Op.run` takes the image, the mask and the resolved params and returns an
:class:`OpResult`. The desktop and the command line only ever go through :func:`run_op`, which
validates inputs, resolves params, keeps the input untouched and confines the change to the mask.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from engine.core.device import op_device
from engine.core.masks import as_bool_mask, blend_inside
from engine.core.params import Param, resolve_params
from engine.core.pixels import check_image
from engine.core.progress import CancelToken, Progress, null_progress

__all__ = [
    "Op",
    "OpError",
    "OpResult",
    "all_ops",
    "get_op",
    "op_names",
    "register",
    "run_op",
]

MaskUse = Literal["blend", "feather", "hole", "ignore"]
"""How an op uses a mask.

``blend``: the op filters the whole image and only masked pixels take the result (hard edge).
``feather``: as ``blend`` with a ramp of ``feather_px`` inside the mask's edge.
``hole``: the mask marks pixels to fill; the op reads the mask itself; outside stays identical.
``ignore``: the op does not take a mask (detectors that propose one).
"""


class OpError(ValueError):
    """An op cannot run on these inputs; the message says what to change."""


@dataclass
class OpResult:
    """What an op returns.

    Attributes
    ----------
    image : ndarray or None
        The new pixels (float32 H×W×C in [0, 1]); None for ops that only propose a mask.
    mask : ndarray of bool or None
        A mask proposal (defect detection, template matching) the person can edit.
    layers : dict of str to ndarray
        Extra named images (edge maps, response maps) worth showing as layers.
    info : dict
        Facts about the run: timings, estimates, fallbacks taken, counts found.
    """

    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    layers: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Op(ABC):
    """Base class of every operation. Subclass, set the class attributes, implement ``run``."""

    name: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str] = "Filters"
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    mask_use: ClassVar[MaskUse] = "blend"
    needs_mask: ClassVar[bool] = False
    feather_px: ClassVar[float] = 2.0
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    channels: ClassVar[tuple[int, ...]] = (1, 3)
    models: ClassVar[tuple[str, ...]] = ()
    """Shipped models (manifest names) the op cannot run without; the editor shows the op as
    unavailable while one of them is missing or damaged."""
    generates: ClassVar[bool] = False
    """True for ops that create a new image whose size the params set (texture generation):
    their result may differ in size from the input, and they apply a mask themselves."""

    @abstractmethod
    def run(self, image: np.ndarray, mask: np.ndarray | None, params: Mapping[str, Any],
            progress: Progress, cancel: CancelToken, device: str | None) -> OpResult:
        """Compute the result; inputs are validated and must not be modified."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The op and its params as plain JSON-able data (``pixelmend ops --json``)."""
        return {
            "name": cls.name,
            "title": cls.title,
            "category": cls.category,
            "description": cls.description,
            "mask": cls.mask_use,
            "needs_mask": cls.needs_mask,
            "devices": list(cls.devices),
            "generates": cls.generates,
            "params": [spec.to_json() for spec in cls.params],
        }


_REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator that adds an op to the registry; a duplicate name is an error."""
    name = getattr(cls, "name", None)
    if not name or not isinstance(name, str):
        raise TypeError(f"{cls.__name__} has no 'name'")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"op {name!r} is already registered by {_REGISTRY[name].__qualname__}")
    seen: set[str] = set()
    for spec in cls.params:
        if spec.name in seen:
            raise ValueError(f"op {name!r} declares parameter {spec.name!r} twice")
        seen.add(spec.name)
        spec.validate(spec.default)
    _REGISTRY[name] = cls
    return cls


def _load_builtin_ops() -> None:
    # Importing the package registers every built-in op module.
    import engine.ops  # noqa: F401


def get_op(name: str) -> type[Op]:
    """Look up an op by name; raise :class:`OpError` listing the known names if absent."""
    _load_builtin_ops()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise OpError(f"unknown op {name!r}; known ops: {', '.join(op_names())}") from None


def op_names() -> list[str]:
    """Names of all registered ops, sorted."""
    _load_builtin_ops()
    return sorted(_REGISTRY)


def all_ops(*, builtin_only: bool = False) -> list[type[Op]]:
    """All registered ops, sorted by category then name.

    ``builtin_only`` keeps the ops that ship in ``engine.ops`` (not ones a plug-in or a test
    registered at run time).
    """
    _load_builtin_ops()
    ops = [op for op in _REGISTRY.values()
           if not builtin_only or op.__module__.startswith("engine.ops.")]
    return sorted(ops, key=lambda op: (op.category, op.name))


def run_op(name: str, image: np.ndarray, mask: np.ndarray | None = None,
           params: Mapping[str, Any] | None = None, *, progress: Progress | None = None,
           cancel: CancelToken | None = None, device: str | None = None) -> OpResult:
    """Run a registered op under the engine's contracts.

    Parameters
    ----------
    name : str
        Registered op name.
    image : ndarray
        float32 H×W×C (C = 1 or 3) in [0, 1]; never modified.
    mask : ndarray of bool, optional
        True where the op may change pixels. Outside it the result is bit-identical to ``image``.
    params : mapping, optional
        Parameter values; missing ones take their defaults.
    progress, cancel, device
        Progress callback, cancel token, device (``None`` lets the engine choose). The op runs on
        the CPU when it cannot use the chosen device
        (:func:`engine.core.device.op_device`), so ops receive a device they support.

    Returns
    -------
    OpResult

    Raises
    ------
    OpError
        Unknown op, a mask where none is taken, or a missing or empty mask where one is needed.
    engine.core.params.ParamError
        A parameter value out of bounds.
    engine.core.progress.Cancelled
        The run was cancelled.
    engine.core.device.DeviceError
        ``device`` is unknown or not present on this machine.
    """
    op_cls = get_op(name)
    check_image(image)
    if image.shape[2] not in op_cls.channels:
        raise OpError(f"{name} works on {' or '.join(map(str, op_cls.channels))}-channel images,"
                      f" not {image.shape[2]}")
    resolved = resolve_params(op_cls.params, params)
    try:
        mask = as_bool_mask(mask, image.shape[:2])
    except ValueError as error:
        raise OpError(str(error)) from None
    if mask is not None and op_cls.mask_use == "ignore":
        mask = None
    if op_cls.needs_mask and (mask is None or not mask.any()):
        raise OpError(f"{name} needs a mask: paint over the area to repair first")
    if mask is not None and not mask.any():
        raise OpError("the mask is empty: paint over the area to change, or clear the mask to "
                      "apply the op to the whole image")

    progress = progress or null_progress
    cancel = cancel or CancelToken()
    device = op_device(device, op_cls.devices)
    # A read-only view, not a copy: the op cannot write into the caller's pixels, and a 24 MP
    # image does not cost another 288 MB per run.
    frozen = image.view()
    frozen.flags.writeable = False
    started = time.perf_counter()
    result = op_cls().run(frozen, mask, resolved, progress, cancel, device)
    cancel.raise_if_cancelled()
    if result.image is not None:
        check_image(result.image, name=f"{name} result")
        if result.image.shape[:2] != image.shape[:2] and not op_cls.generates:
            raise RuntimeError(f"{name} returned {result.image.shape}, expected {image.shape}")
        # Generating ops make a new image; in their fill mode they paste inside the mask
        # themselves (their tests hold them to keeping the outside bit-identical).
        if (mask is not None and op_cls.mask_use in ("blend", "feather", "hole")
                and not op_cls.generates):
            feather = op_cls.feather_px if op_cls.mask_use == "feather" else 0.0
            result.image = blend_inside(image, result.image, mask, feather)
    result.info.setdefault("seconds", time.perf_counter() - started)
    progress(1.0, "done")
    return result
