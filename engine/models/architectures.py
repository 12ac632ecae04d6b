"""The architecture registry: a manifest entry's ``architecture`` names the code that builds it.

Each model family declares its architectures once, in its package's ``__init__``::

    register_architecture("denoise_unet_v1", "engine.ops.denoise.net:build_denoiser")

The builder is named as ``"module:function"`` and imported only when a network is built, so
registering costs nothing and importing a family does not import torch. Importing :mod:`engine`
imports :mod:`engine.ops`, which imports every family, so every shipped architecture is
registered before a model can be asked for. A builder takes the
manifest entry's ``config`` dict and returns an untrained ``torch.nn.Module``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["ArchitectureError", "architecture_names", "build_network", "register_architecture"]

Builder = Callable[[Mapping[str, Any]], "torch.nn.Module"]

_ARCHITECTURES: dict[str, str | Builder] = {}


class ArchitectureError(LookupError):
    """No code is registered for an architecture name, or its builder cannot be imported."""


def register_architecture(name: str, builder: str | Builder) -> None:
    """Declare the builder of the architecture ``name``.

    Parameters
    ----------
    name : str
        The name written in the weights manifest (``"architecture"``).
    builder : str or callable
        ``"module:function"`` (imported on first use) or the function itself; it maps the
        entry's ``config`` to an untrained network.

    Raises
    ------
    ValueError
        ``name`` is already registered with another builder.
    """
    known = _ARCHITECTURES.get(name)
    if known is not None and known != builder:
        raise ValueError(f"architecture {name!r} is already registered ({known!r})")
    _ARCHITECTURES[name] = builder


def architecture_names() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(_ARCHITECTURES)


def _resolve(name: str) -> Builder:
    if name not in _ARCHITECTURES:
        known = ", ".join(sorted(_ARCHITECTURES)) or "none"
        raise ArchitectureError(f"architecture {name!r} is not known to this version of "
                                f"PixelMend (known: {known}); reinstall PixelMend")
    builder = _ARCHITECTURES[name]
    if callable(builder):
        return builder
    module, _, function = builder.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as error:
        raise ArchitectureError(f"architecture {name!r}: cannot load {builder} ({error})") \
            from None


def build_network(architecture: str, config: Mapping[str, Any]) -> torch.nn.Module:
    """An untrained network of the registered ``architecture`` built from ``config``.

    Raises
    ------
    ArchitectureError
        The architecture is not registered or its builder cannot be imported.
    """
    return _resolve(architecture)(config)
