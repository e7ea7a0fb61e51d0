"""/proc reads: process identity (pid + start time), zombies, sessions, command lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from flowllama.providers.local import procfs

pytestmark = pytest.mark.skipif(not procfs.PROC.is_dir(), reason="Linux /proc only")


def _wait_for(condition: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def session_leader() -> Iterator[subprocess.Popen[bytes]]:
    """A shell in a session of its own, with a background grandchild in that session."""
    process = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        yield process
    finally:
        if procfs.read_process(process.pid) is not None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_this_process_reads_as_alive_with_its_start_time() -> None:
    me = procfs.read_process(os.getpid())
    assert me is not None and me.running
    assert (me.pid, me.ppid, me.pgid, me.session) == (
        os.getpid(), os.getppid(), os.getpgrp(), os.getsid(0))
    assert procfs.is_alive(me.pid, me.start_time)
    assert not procfs.is_alive(me.pid, me.start_time + 1)  # same number, another process


def test_a_missing_pid_reads_as_none() -> None:
    assert procfs.read_process(2**22 + 12345) is None
    assert procfs.command_line(2**22 + 12345) is None
    assert not procfs.is_alive(2**22 + 12345, 1)


def test_a_command_name_with_spaces_and_parentheses_is_parsed() -> None:
    # PR_SET_NAME (15) renames the thread: /proc/<pid>/stat then shows "(a) b (c)".
    script = ("import ctypes, time; ctypes.CDLL(None).prctl(15, b'a) b (c', 0, 0, 0); "
              "print('ready', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        info = procfs.read_process(process.pid)
        assert info is not None and info.ppid == os.getpid() and info.running
        assert procfs.command_line(process.pid) == [sys.executable, "-c", script]
    finally:
        process.kill()
        process.wait(10)


def test_a_zombie_counts_as_gone() -> None:
    process = subprocess.Popen(["true"])
    start_time = procfs.read_process(process.pid).start_time  # type: ignore[union-attr]
    try:
        assert _wait_for(lambda: not procfs.is_alive(process.pid, start_time))
        info = procfs.read_process(process.pid)
        assert info is not None and info.state == "Z"  # not reaped yet: still in /proc
        assert procfs.command_line(process.pid) is None
    finally:
        process.wait(10)


def test_session_members_follow_the_leader_and_its_children(
    session_leader: subprocess.Popen[bytes],
) -> None:
    leader = procfs.read_process(session_leader.pid)
    assert leader is not None
    assert _wait_for(lambda: len(procfs.session_members(leader.pid, leader.start_time)) == 2)
    members = procfs.session_members(leader.pid, leader.start_time)
    assert {m.session for m in members} == {leader.pid}
    assert procfs.session_members(leader.pid, leader.start_time - 1) == []  # not that process
    assert procfs.resident_bytes([m.pid for m in members]) > 0
    os.killpg(leader.pid, signal.SIGKILL)
    assert _wait_for(lambda: procfs.session_members(leader.pid, leader.start_time) == [])


def test_members_left_by_a_dead_leader_are_still_found(
    session_leader: subprocess.Popen[bytes],
) -> None:
    leader = procfs.read_process(session_leader.pid)
    assert leader is not None
    assert _wait_for(lambda: len(procfs.session_members(leader.pid, leader.start_time)) == 2)
    os.kill(leader.pid, signal.SIGKILL)  # the shell dies, its sleep lives on in the session
    session_leader.wait(10)
    left = procfs.session_members(leader.pid, leader.start_time)
    assert len(left) == 1 and left[0].pid != leader.pid
    os.kill(left[0].pid, signal.SIGKILL)
    assert _wait_for(lambda: procfs.session_members(leader.pid, leader.start_time) == [])


def test_boot_id_and_process_listing() -> None:
    assert len(procfs.boot_id()) >= 32
    assert os.getpid() in {info.pid for info in procfs.all_processes()}
    assert procfs.resident_bytes([2**22 + 12345]) == 0  # vanished pids are skipped
