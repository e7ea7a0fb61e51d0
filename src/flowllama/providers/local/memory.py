"""How much memory this machine has, and how much a new process could use right now.

``MemAvailable`` from ``/proc/meminfo`` is the kernel's own estimate of what can be allocated
without swapping (free memory plus reclaimable cache), which is what a model load competes for.
Inside a container, ``/proc/meminfo`` shows the host, so a cgroup memory limit (v2
``memory.max``, or v1 ``memory.limit_in_bytes``) lowers both numbers when it is smaller.
Without ``/proc`` (not Linux), ``os.sysconf`` gives total and free pages. No psutil: these reads
are all it would do here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC_MEMINFO = Path("/proc/meminfo")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KIB = 1024
# cgroup v1 reports "no limit" as a huge number near 2**63.
_UNLIMITED = 1 << 60


@dataclass(frozen=True, slots=True)
class MemorySnapshot:
    """Total and currently available memory, in bytes, and where the numbers came from."""

    total_bytes: int
    available_bytes: int
    source: str


def read_memory(meminfo: Path = PROC_MEMINFO, cgroup_root: Path = CGROUP_ROOT) -> MemorySnapshot:
    """This machine's memory now: ``/proc/meminfo`` capped by a cgroup limit, else sysconf."""
    snapshot = _from_meminfo(meminfo) or _from_sysconf()
    limit = _cgroup_limit(cgroup_root)
    if limit is None or limit[0] >= snapshot.total_bytes:
        return snapshot
    total, available = limit
    return MemorySnapshot(
        total_bytes=total,
        available_bytes=min(snapshot.available_bytes, available),
        source=f"{snapshot.source} capped by the cgroup memory limit",
    )


def _from_meminfo(path: Path) -> MemorySnapshot | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * KIB  # /proc/meminfo counts in KiB
    if "MemTotal" not in values or "MemAvailable" not in values:
        return None
    return MemorySnapshot(values["MemTotal"], values["MemAvailable"], "/proc/meminfo")


def _from_sysconf() -> MemorySnapshot:
    page = os.sysconf("SC_PAGE_SIZE")
    total = os.sysconf("SC_PHYS_PAGES") * page
    # Free pages only: an underestimate (no reclaimable cache), the safe side for a refusal.
    free = os.sysconf("SC_AVPHYS_PAGES") * page
    return MemorySnapshot(total, free, "sysconf")


def _cgroup_limit(root: Path) -> tuple[int, int] | None:
    """(limit, limit - usage + reclaimable file cache) of this container's cgroup, if limited."""
    v2 = (root / "memory.max", root / "memory.current", root / "memory.stat", "inactive_file")
    v1_dir = root / "memory"
    v1 = (v1_dir / "memory.limit_in_bytes", v1_dir / "memory.usage_in_bytes",
          v1_dir / "memory.stat", "total_inactive_file")
    for limit_file, usage_file, stat_file, cache_key in (v2, v1):
        limit = _read_int(limit_file)
        usage = _read_int(usage_file)
        if limit is None or usage is None or limit >= _UNLIMITED:
            continue
        reclaimable = _stat_value(stat_file, cache_key)
        return limit, max(0, limit - usage + reclaimable)
    return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # v2 writes "max" when unlimited


def _stat_value(path: Path, key: str) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0
