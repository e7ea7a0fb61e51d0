"""Per-workspace exclusive lock and the record a crashed holder leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowllama.providers.terraform.workspace_lock import (
    HolderRecord,
    WorkspaceBusy,
    WorkspaceLock,
    pid_alive,
)


def test_second_holder_waits_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "fl-a.lock"
    with WorkspaceLock(path, "create", wait_s=5), pytest.raises(WorkspaceBusy, match="busy"):
        WorkspaceLock(path, "destroy", wait_s=0.3).acquire()


def test_waiter_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "fl-a.lock"
    first = WorkspaceLock(path, "create", wait_s=1)
    first.acquire()
    threading.Timer(0.3, first.release).start()
    with WorkspaceLock(path, "destroy", wait_s=5) as second:
        assert second.previous is None  # a clean release leaves no record


def test_a_killed_holder_leaves_a_record_and_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "fl-a.lock"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from flowllama.providers.terraform.workspace_lock import WorkspaceLock\n"
        "lock = WorkspaceLock(Path(sys.argv[1]), 'create', 5)\n"
        "lock.acquire(); lock.set_terraform_pid(12345, 'apply'); print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"held\n"
    child.kill()
    child.wait()

    with WorkspaceLock(path, "create", wait_s=5) as lock:
        assert lock.previous is not None
        assert lock.previous.pid == child.pid
        assert (lock.previous.terraform_pid, lock.previous.command) == (12345, "apply")
        lock.previous = None  # resolved
    assert path.read_text() == ""


def test_inherited_descriptor_keeps_the_lock_after_the_parent_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "fl-a.lock"
    lock = WorkspaceLock(path, "create", wait_s=1)
    lock.acquire()
    child = subprocess.Popen(["sleep", "1"], pass_fds=(lock.fd,))
    fd, lock._fd = lock.fd, None
    os.close(fd)  # the parent "crashes": its descriptor closes without an unlock
    started = time.monotonic()
    with WorkspaceLock(path, "create", wait_s=10):
        assert time.monotonic() - started > 0.5  # waited for the child
    child.wait()


def test_release_with_remove_deletes_the_file_and_waiters_retry(tmp_path: Path) -> None:
    path = tmp_path / "fl-a.lock"
    first = WorkspaceLock(path, "destroy", wait_s=1)
    first.acquire()
    threading.Timer(0.3, lambda: first.release(remove=True)).start()
    with WorkspaceLock(path, "create", wait_s=5):
        assert path.exists()  # a fresh file, not the deleted one
    assert json.loads(path.read_text() or "null") is None


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    process = subprocess.Popen(["true"])
    process.wait()
    assert not pid_alive(process.pid)
    zombie = subprocess.Popen(["true"])
    time.sleep(0.3)  # exited, not yet reaped
    assert not pid_alive(zombie.pid)
    zombie.wait()


def test_record_shape() -> None:
    record = HolderRecord(1, "h", "create", 0.0)
    assert record.terraform_pid is None and record.command is None
