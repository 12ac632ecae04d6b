"""The one place where a compute device is chosen, and the one out-of-memory fallback.

Order of preference: CUDA, then Apple MPS, then the CPU. ``PIXELMEND_DEVICE=cpu|cuda|mps``
overrides the choice; :func:`op_device` narrows it to the devices an op supports (the op
registry does this for every op). When an accelerator runs out of memory, :class:`Fallback`
retries with smaller tiles, then on the CPU, and records each step under the result info's
``fallbacks`` key. torch is imported lazily so that listing ops or starting the editor does not
pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICE_ENV",
    "DeviceError",
    "Fallback",
    "available_devices",
    "describe_device",
    "is_out_of_memory",
    "op_device",
    "select_device",
    "use_half_precision",
]

DEVICE_ENV = "PIXELMEND_DEVICE"
_KNOWN = ("cuda", "mps", "cpu")
T = TypeVar("T")


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


def op_device(preferred: str | None, supported: Sequence[str]) -> str:
    """The device an op runs on: ``preferred`` (or the engine's choice) when the op supports its
    kind, else the CPU.

    Parameters
    ----------
    preferred : str or None
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; None lets
        :func:`select_device` decide.
    supported : sequence of str
        The device kinds the op can use (``Op.devices``).

    Returns
    -------
    str
        A device name torch understands (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Raises
    ------
    DeviceError
        ``preferred`` names an unknown device or one missing on this machine.
    """
    if tuple(supported) == ("cpu",) and preferred in (None, "", "auto", "cpu"):
        return "cpu"  # CPU-only ops never pay for importing torch
    chosen = select_device(preferred)
    return str(chosen) if chosen.type in supported else "cpu"


@dataclass
class Fallback:
    """The out-of-memory fallback every accelerated op shares: smaller tiles, then the CPU.

    :meth:`run` calls ``work(self)`` and reads :attr:`device` and :attr:`tile` from it; when
    ``work`` runs out of accelerator memory, :meth:`step` halves the tile (while it stays at or
    above ``min_tile``), or else moves to the CPU at the first tile size, and ``work`` runs
    again. Each step is written to :attr:`notes`, which :meth:`info` returns under
    ``fallbacks`` for the op's result.

    Parameters
    ----------
    device : str or torch.device
        Where to run first.
    tile : int, optional
        Tile edge of the first try; None for work that is not tiled (then the only step is
        the CPU).
    min_tile : int
        Smallest tile tried on the accelerator.
    """

    device: Any
    tile: int | None = None
    min_tile: int = 128
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import torch

        self.device = torch.device(self.device)
        self.first_tile = self.tile

    def run(self, work: Callable[[Fallback], T]) -> T:
        """``work(self)``, retried after each out-of-memory step until it succeeds.

        Raises
        ------
        Exception
            Whatever ``work`` raises other than running out of memory, and an out-of-memory
            error on the CPU.
        """
        while True:
            try:
                return work(self)
            except (RuntimeError, MemoryError) as error:
                if not is_out_of_memory(error) or self.device.type == "cpu":
                    raise
                self.step()

    def step(self) -> None:
        """Free the accelerator's cache and take the next fallback."""
        import torch

        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self.tile is not None and self.tile // 2 >= self.min_tile:
            self.tile //= 2
            self.notes.append(f"out of memory: tile reduced to {self.tile}")
            return
        self.notes.append(f"out of memory on the accelerator ({self.device.type}): finished on "
                          "the CPU")
        self.device = torch.device("cpu")
        self.tile = self.first_tile

    def info(self) -> dict[str, Any]:
        """``device``, ``fallbacks`` (and ``tile`` when tiled) for an op's result info."""
        facts: dict[str, Any] = {"device": self.device.type, "fallbacks": list(self.notes)}
        if self.tile is not None:
            facts["tile"] = self.tile
        return facts
