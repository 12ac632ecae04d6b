"""How much memory opening an image needs, and how much this process may still use.

The loader compares the two before it decodes anything (:func:`engine.io.load`), so an image
that cannot fit is refused with a message that says so, instead of failing deep inside a decoder.

The budget is the least of what the system can give:

* ``MemAvailable`` (plus free swap) from ``/proc/meminfo`` on Linux; elsewhere the physical
  memory the system reports, or :data:`FALLBACK_BUDGET` when it reports nothing;
* the room left under the process's control group limit (cgroup v2 ``memory.max``, v1
  ``memory.limit_in_bytes``), as containers and job schedulers set;
* the room left under the process's address-space limit (``ulimit -v``, ``RLIMIT_AS``).

``PIXELMEND_MAX_MEMORY`` replaces the budget (``8G``, ``512M``, a number of bytes; ``0``: no
limit), for a person who knows better, e.g. with a lot of swap.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

__all__ = ["FALLBACK_BUDGET", "MEMORY_ENV", "format_size", "memory_budget", "parse_size",
           "size_hint"]

MEMORY_ENV = "PIXELMEND_MAX_MEMORY"
FALLBACK_BUDGET = 8 << 30
"""The budget where the platform says nothing about its memory (8 GiB)."""
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``"8G"``, ``"512M"``, ``"1.5GiB"``, ``"300k"`` or ``"123456"`` (binary units).

    Raises
    ------
    ValueError
        The text is not a size.
    """
    match = _SIZE.match(str(text).replace("_", ""))
    if match is None:
        raise ValueError(f"{text!r} is not a size; write it as 8G, 512M or a number of bytes")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(count: float) -> str:
    """``"1.9 GiB"``, ``"350 MiB"``, ``"12 KiB"``: three significant figures at most."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(count)} bytes"


def size_hint(count: int) -> str:
    """A value for ``PIXELMEND_MAX_MEMORY`` just above ``count`` bytes: ``"7G"``, ``"600M"``."""
    if count >= 1 << 30:
        return f"{math.ceil(count / (1 << 30))}G"
    return f"{max(1, math.ceil(count / (1 << 20) / 100)) * 100}M"


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def _meminfo() -> int | None:
    """MemAvailable + SwapFree from ``/proc/meminfo``, in bytes (None off Linux)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    fields = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0)


def _physical() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit (the tightest level), if any."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    root = Path("/sys/fs/cgroup")
    rooms: list[int] = []
    for line in lines:
        _, controllers, relative = line.split(":", 2)
        if controllers == "":  # cgroup v2
            files, base = ("memory.max", "memory.current"), [root, root / "unified"]
        elif "memory" in controllers.split(","):
            files, base = ("memory.limit_in_bytes", "memory.usage_in_bytes"), [root / "memory"]
        else:
            continue
        for mount in base:
            if not (mount / files[0]).exists() and not (mount / relative.lstrip("/")).is_dir():
                continue
            folder = mount / relative.lstrip("/")
            while True:  # the group and each group above it (inside this mount)
                limit, used = (_read_number(folder / name) for name in files)
                if limit is not None and used is not None and limit < 1 << 60:
                    rooms.append(max(0, limit - used))
                if folder == mount:
                    break
                folder = folder.parent
    return min(rooms) if rooms else None


def _address_space_room() -> int | None:
    """Bytes left under the address-space limit (``RLIMIT_AS``), if one is set."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return soft  # the size in use is unknown here: the limit itself is the bound


def memory_budget() -> tuple[int | None, str]:
    """The bytes an image may take now, and what set that figure.

    Returns
    -------
    budget : int or None
        None: no limit (``PIXELMEND_MAX_MEMORY=0``).
    source : str
        ``"PIXELMEND_MAX_MEMORY"``, ``"available memory"``, ``"the memory limit of this
        process's control group"`` or ``"this process's address-space limit"``.

    Raises
    ------
    ValueError
        ``PIXELMEND_MAX_MEMORY`` is not a size.
    """
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            value = parse_size(text)
        except ValueError as error:
            raise ValueError(f"{MEMORY_ENV}: {error}") from None
        return (value or None), MEMORY_ENV
    system = _meminfo()
    candidates = [(system if system is not None else _physical() or FALLBACK_BUDGET,
                   "available memory"),
                  (_cgroup_room(), "the memory limit of this process's control group"),
                  (_address_space_room(), "this process's address-space limit")]
    budget, source = min(((value, name) for value, name in candidates if value is not None),
                         key=lambda pair: pair[0])
    return budget, source
