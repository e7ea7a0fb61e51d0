"""One process at a time per deployment workspace, and a record of who that is.

The lock is an exclusive ``flock`` on ``<root>/<name>.lock``. Terraform children inherit the
locked descriptor, so the lock stays held while any Terraform of that workspace still runs, even
if the agent that started it was killed. The file's content is a :class:`HolderRecord` (pid,
host, operation, Terraform's pid and command); it is emptied on a clean release, so a record
found by the next holder means the previous one crashed, and tells :mod:`.state_lock` whose
Terraform state lock may be stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType

from flowllama.errors import ProviderError

_POLL_S = 0.2


class WorkspaceBusy(ProviderError):
    """Another process is working on this deployment's workspace; retry later."""


@dataclass(frozen=True)
class HolderRecord:
    """Who holds (or last held, if it crashed) a workspace."""

    pid: int
    host: str
    operation: str
    started_at: float
    terraform_pid: int | None = None
    command: str | None = None


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An orphan killed in a container whose init never reaps stays a zombie forever.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class WorkspaceLock:
    """Exclusive, crash-safe ownership of one workspace (a context manager).

    ``previous`` is the record a crashed holder left, if any. ``fd`` must be passed to Terraform
    children. ``release(remove=True)`` deletes the lock file while still holding it; a waiter
    that then gets the old file notices the file was replaced and tries again.
    """

    def __init__(self, path: Path, operation: str, wait_s: float) -> None:
        self.path = path
        self.operation = operation
        self.wait_s = wait_s
        self.previous: HolderRecord | None = None
        self._fd: int | None = None
        self._record: HolderRecord | None = None

    @property
    def fd(self) -> int:
        """The locked descriptor (valid while held)."""
        if self._fd is None:
            raise RuntimeError("workspace lock is not held")
        return self._fd

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Wait up to ``wait_s`` for the lock; :class:`WorkspaceBusy` if it stays taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + self.wait_s
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if self._try_lock(fd):
                self._fd = fd
                break
            os.close(fd)
            if time.monotonic() >= deadline:
                busy = f"workspace {self.path.stem} is busy{_who(self.path)}"
                raise WorkspaceBusy(f"{busy}; retry later")
            time.sleep(_POLL_S)
        self.previous = _parse_record(_read_fd(self.fd))
        self._record = HolderRecord(os.getpid(), socket.gethostname(), self.operation,
                                    time.time())
        self._write(self._record)

    def _try_lock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # The file may have been deleted (and maybe recreated) while we waited for it.
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return same

    def set_terraform_pid(self, pid: int, command: str) -> None:
        """Record the Terraform child (and its command label) now running under this lock."""
        if self._record is not None:
            self._record = replace(self._record, terraform_pid=pid, command=command)
            self._write(self._record)

    def release(self, *, remove: bool = False) -> None:
        """Unlock; with ``remove`` delete the file first.

        A clean release clears the record, except that an unresolved crash record
        (``previous`` not reset to ``None``) is kept for the next holder: it is the only evidence
        that a state lock left behind belongs to a dead process.
        """
        if self._fd is None:
            return
        try:
            if remove:
                self.path.unlink(missing_ok=True)
            elif self.previous is not None:
                self._write(self.previous)
            else:
                os.ftruncate(self.fd, 0)
        finally:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, record: HolderRecord) -> None:
        data = json.dumps(asdict(record)).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _who(path: Path) -> str:
    holder = _read_record(path)
    return f" (pid {holder.pid}, {holder.operation}/{holder.command})" if holder else ""


def _read_record(path: Path) -> HolderRecord | None:
    try:
        return _parse_record(path.read_bytes())
    except OSError:
        return None


def _parse_record(data: bytes) -> HolderRecord | None:
    if not data.strip():
        return None
    try:
        return HolderRecord(**json.loads(data))
    except (ValueError, TypeError):
        return None
