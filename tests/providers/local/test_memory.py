"""Memory available to a model load: /proc/meminfo, capped by a cgroup limit, else sysconf."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.providers.local.memory import read_memory

GIB = 1024**3


@pytest.fixture
def meminfo(tmp_path: Path) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(
        "MemTotal:       16777216 kB\n"  # 16 GiB
        "MemFree:         1048576 kB\n"
        "MemAvailable:    8388608 kB\n"  # 8 GiB
        "HugePages_Total:       0\n"
    )
    return path


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_meminfo_without_a_cgroup_limit(tmp_path: Path, meminfo: Path) -> None:
    memory = read_memory(meminfo, tmp_path / "no-cgroup")
    assert (memory.total_bytes, memory.available_bytes) == (16 * GIB, 8 * GIB)
    assert memory.source == "/proc/meminfo"


def test_a_cgroup_v2_limit_caps_total_and_available(tmp_path: Path, meminfo: Path) -> None:
    root = _cgroup(tmp_path, {
        "memory.max": f"{4 * GIB}\n", "memory.current": f"{3 * GIB}\n",
        "memory.stat": f"anon 123\ninactive_file {GIB // 2}\n",
    })
    memory = read_memory(meminfo, root)
    # limit - usage + reclaimable page cache
    assert (memory.total_bytes, memory.available_bytes) == (4 * GIB, GIB + GIB // 2)
    assert "cgroup" in memory.source


def test_an_unlimited_cgroup_changes_nothing(tmp_path: Path, meminfo: Path) -> None:
    v2 = _cgroup(tmp_path / "v2", {"memory.max": "max\n", "memory.current": "1\n"})
    v1 = _cgroup(tmp_path / "v1", {"memory/memory.limit_in_bytes": f"{2**63 - 4096}\n",
                                   "memory/memory.usage_in_bytes": "1\n"})
    big = _cgroup(tmp_path / "big", {"memory.max": f"{64 * GIB}\n", "memory.current": "1\n"})
    for root in (v2, v1, big):
        assert read_memory(meminfo, root).total_bytes == 16 * GIB


def test_a_cgroup_v1_limit(tmp_path: Path, meminfo: Path) -> None:
    root = _cgroup(tmp_path, {
        "memory/memory.limit_in_bytes": f"{2 * GIB}\n",
        "memory/memory.usage_in_bytes": f"{GIB}\n",
        "memory/memory.stat": "total_inactive_file 0\n",
    })
    memory = read_memory(meminfo, root)
    assert (memory.total_bytes, memory.available_bytes) == (2 * GIB, GIB)


def test_without_meminfo_sysconf_answers(tmp_path: Path) -> None:
    memory = read_memory(tmp_path / "missing", tmp_path / "no-cgroup")
    assert memory.source == "sysconf"
    assert 0 < memory.available_bytes <= memory.total_bytes


def test_this_machine() -> None:
    memory = read_memory()
    assert 0 < memory.available_bytes <= memory.total_bytes
