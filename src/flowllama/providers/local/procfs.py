"""What Linux's ``/proc`` says about processes: alive or not, since when, in which session.

A pid alone is not an identity: once a process exits, the kernel may hand its number to a new
one. The local provisioner therefore records a process as (boot id, pid, start time), the start
time being field 22 of ``/proc/<pid>/stat`` (clock ticks after boot, so only meaningful within
one boot), and treats a pid with any other start time, or from another boot, as gone. A zombie
(exited, not yet reaped) counts as gone too: it holds no port and runs nothing. Linux only;
every read tolerates a process vanishing half-way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
BOOT_ID = PROC / "sys" / "kernel" / "random" / "boot_id"
# States of a process that has exited: zombie, dead.
_GONE_STATES = frozenset({"Z", "X", "x"})
# /proc/<pid>/stat fields after the parenthesised command name start at field 3.
_FIRST_FIELD = 3
_STATE, _PPID, _PGID, _SESSION, _START_TIME = 3, 4, 5, 6, 22
# Far above any real process table; only bounds the scan.
MAX_PROCESSES = 1_000_000


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One process as ``/proc/<pid>/stat`` describes it."""

    pid: int
    state: str
    ppid: int
    pgid: int
    session: int
    start_time: int

    @property
    def running(self) -> bool:
        """Whether it still runs (neither a zombie nor dead)."""
        return self.state not in _GONE_STATES


def read_process(pid: int) -> ProcessInfo | None:
    """The process ``pid``, or ``None`` if there is none (or it cannot be read)."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may itself contain spaces and ')': split after the last one.
    fields = raw.rpartition(b")")[2].split()

    def field(number: int) -> bytes:
        return fields[number - _FIRST_FIELD]

    try:
        return ProcessInfo(
            pid=pid, state=field(_STATE).decode("ascii"), ppid=int(field(_PPID)),
            pgid=int(field(_PGID)), session=int(field(_SESSION)),
            start_time=int(field(_START_TIME)),
        )
    except (IndexError, ValueError):
        return None


def boot_id() -> str:
    """This boot's random id; ``""`` if unreadable (every record then counts as this boot's)."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def is_alive(pid: int, start_time: int) -> bool:
    """Whether the process recorded as (``pid``, ``start_time``) still runs."""
    info = read_process(pid)
    return info is not None and info.running and info.start_time == start_time


def all_processes() -> Iterator[ProcessInfo]:
    """Every readable process on the machine (a snapshot; processes come and go meanwhile)."""
    try:
        entries = os.scandir(PROC)
    except OSError:
        return
    with entries:
        for count, entry in enumerate(entries):
            if count >= MAX_PROCESSES:
                return
            if entry.name.isdigit():
                info = read_process(int(entry.name))
                if info is not None:
                    yield info


def session_members(leader_pid: int, leader_start_time: int) -> list[ProcessInfo]:
    """The running processes of the session that (``leader_pid``, start time) created.

    A session's id is its leader's pid, and Linux does not reuse a pid while a process of that
    session exists. So if the leader still exists with another start time, the number now
    belongs to someone else's session and nothing is ours; if the leader is gone, the members
    it left behind (started no earlier than it) are still ours.
    """
    leader = read_process(leader_pid)
    if leader is not None and leader.start_time != leader_start_time:
        return []
    return [
        info for info in all_processes()
        if info.session == leader_pid and info.running and info.start_time >= leader_start_time
    ]


def resident_bytes(pids: list[int]) -> int:
    """Resident memory of ``pids`` together (``/proc/<pid>/statm``), skipping vanished ones."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            resident_pages = int((PROC / str(pid) / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident_pages * page
    return total


def command_line(pid: int) -> list[str] | None:
    """The argument list of ``pid`` (``/proc/<pid>/cmdline``), or ``None`` if unreadable."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None  # kernel threads and zombies have none
    return [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")]
