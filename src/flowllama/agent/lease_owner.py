"""Who holds a deployment's lease, recorded so that a lease of a dead holder can be freed at once.

An owner is (host, boot id, pid namespace, pid, process start time): the pid alone is not an
identity (the kernel reuses numbers), the start time makes it one within a boot, and the pid
namespace keeps two containers with one host name apart. From the same host, boot and
namespace, an owner is *provably gone* when no process runs with that pid and start time. From
anywhere else (another host, boot or container) nothing can be proved, and only the lease's
expiry frees it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from flowllama.providers.local import procfs

_FIELDS = 5
_OWNERS: dict[int, LeaseOwner] = {}


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """A process, identified well enough to prove from the same host that it is gone."""

    host: str
    boot_id: str
    pid_namespace: str
    pid: int
    start_time: int

    def encode(self) -> str:
        return f"{self.host} {self.boot_id or '-'} {self.pid_namespace or '-'} {self.pid} " \
               f"{self.start_time}"

    @classmethod
    def parse(cls, text: str | None) -> LeaseOwner | None:
        """The owner written by :meth:`encode`; ``None`` for anything else (never "gone")."""
        parts = (text or "").split()
        if len(parts) != _FIELDS or not parts[3].isdigit() or not parts[4].isdigit():
            return None
        boot, namespace = ("" if part == "-" else part for part in parts[1:3])
        return cls(parts[0], boot, namespace, int(parts[3]), int(parts[4]))

    def is_gone(self, here: LeaseOwner) -> bool:
        """Whether this owner provably no longer runs, as seen from the process ``here``."""
        same_kernel = (self.host, self.boot_id, self.pid_namespace) == (
            here.host, here.boot_id, here.pid_namespace)
        if not same_kernel or not self.boot_id or not self.pid_namespace:
            return False  # another machine, boot or container: only the expiry frees it
        return not procfs.is_alive(self.pid, self.start_time)


def describe(pid: int) -> LeaseOwner:
    """The identity of process ``pid`` on this machine."""
    info = procfs.read_process(pid)
    try:
        namespace = str(os.stat(f"/proc/{pid}/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return LeaseOwner(host=socket.gethostname(), boot_id=procfs.boot_id(),
                      pid_namespace=namespace, pid=pid,
                      start_time=info.start_time if info is not None else 0)


def current_owner() -> LeaseOwner:
    """The identity of the running process (computed once per pid, so a fork gets its own)."""
    pid = os.getpid()
    owner = _OWNERS.get(pid)
    if owner is None:
        owner = _OWNERS[pid] = describe(pid)
    return owner
