"""The one place where a compute device is chosen.

Order of preference: CUDA, then Apple MPS, then the CPU. ``PIXELMEND_DEVICE=cpu|cuda|mps``
overrides the choice. torch is imported lazily so that listing ops or starting the editor does
not pay for it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICE_ENV",
    "DeviceError",
    "available_devices",
    "describe_device",
    "is_out_of_memory",
    "select_device",
    "use_half_precision",
]

DEVICE_ENV = "PIXELMEND_DEVICE"
_KNOWN = ("cuda", "mps", "cpu")


class DeviceError(RuntimeError):
    """The requested device does not exist on this machine."""


@lru_cache(maxsize=1)
def available_devices() -> tuple[str, ...]:
    """Device kinds usable here, best first (``"cpu"`` is always last)."""
    import torch

    kinds = []
    if torch.cuda.is_available():
        kinds.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        kinds.append("mps")
    kinds.append("cpu")
    return tuple(kinds)


def select_device(preferred: str | None = None) -> torch.device:
    """Return the torch device to run on.

    Parameters
    ----------
    preferred : str, optional
        ``"cuda"``, ``"mps"``, ``"cpu"`` or ``"auto"``. When omitted, the ``PIXELMEND_DEVICE``
        environment variable decides, and otherwise the best available device.

    Raises
    ------
    DeviceError
        If the requested kind is unknown or not present on this machine.
    """
    import torch

    wanted = (preferred or os.environ.get(DEVICE_ENV, "") or "auto").strip().lower()
    if wanted == "auto":
        return torch.device(available_devices()[0])
    kind = wanted.split(":", 1)[0]
    if kind not in _KNOWN:
        raise DeviceError(f"unknown device {wanted!r}; use one of: auto, {', '.join(_KNOWN)}")
    if kind not in available_devices():
        raise DeviceError(
            f"device {wanted!r} is not available here (available: "
            f"{', '.join(available_devices())}); unset {DEVICE_ENV} or choose another device"
        )
    return torch.device(wanted)


def describe_device(device: torch.device | str | None = None) -> str:
    """A short human name for a device: the GPU's name, or ``"CPU"``."""
    import torch

    device = torch.device(device) if device is not None else select_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({os.cpu_count() or 1} cores)"


def use_half_precision(device: torch.device | str) -> bool:
    """Whether networks run in float16 on ``device`` (CUDA only)."""
    import torch

    return torch.device(device).type == "cuda"


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an accelerator out-of-memory error."""
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
