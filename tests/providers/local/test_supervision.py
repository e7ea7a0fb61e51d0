"""The provisioner's side of supervision: spawn, find by command line, stop whole sessions."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowllama.providers.local import procfs, supervision
from flowllama.providers.local.supervision import Supervised, Watched
from tiny_model import free_port

Spawn = Callable[..., Supervised]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Spawn supervisors under ``tmp_path/root`` around a runtime command; all are stopped."""
    root = tmp_path / "root"
    root.mkdir()
    spawned: list[Supervised] = []

    def run(deployment_id: str, runtime: list[str], *, under: Path = root) -> Supervised:
        command = supervision.supervisor_command(
            python=sys.executable, root=under, deployment_id=deployment_id,
            log_file=tmp_path / f"{deployment_id}.log", max_bytes=1 << 20, backups=1,
            runtime_command=runtime,
        )
        started = supervision.spawn(deployment_id, command, {"PATH": "/usr/bin:/bin"}, root)
        spawned.append(started)
        return started

    yield run
    supervision.terminate([(s.pid, s.start_time) for s in spawned], 1.0, 5.0)


def _runtime_started(found: Supervised) -> bool:
    return len(procfs.session_members(found.pid, found.start_time)) >= 2


def test_the_command_wraps_the_runtime() -> None:
    command = supervision.supervisor_command(
        python="/py", root=Path("/data/local"), deployment_id="d1", log_file=Path("/l/d1.log"),
        max_bytes=2048, backups=3, runtime_command=["ollama", "serve"],
    )
    assert command == [
        "/py", "-m", "flowllama.providers.local.supervisor", "--root", "/data/local",
        "--deployment", "d1", "--log-file", "/l/d1.log", "--log-max-bytes", "2048",
        "--log-backups", "3", "--", "ollama", "serve",
    ]


def test_a_spawned_supervisor_is_alive_and_found_by_its_root(
    spawn: Spawn, tmp_path: Path
) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    mine = spawn("d1", ["sleep", "60"])
    theirs = spawn("d2", ["sleep", "60"], under=other_root)
    assert supervision.alive(mine.pid, mine.start_time)
    assert procfs.session_members(mine.pid, mine.start_time)[0].session == mine.pid
    assert supervision.find_supervisors(tmp_path / "root") == [mine]
    assert supervision.find_supervisors(other_root) == [theirs]


def test_only_valid_deployment_ids_are_taken_from_command_lines(spawn: Spawn,
                                                                 tmp_path: Path) -> None:
    spawn("../escape", ["sleep", "60"])
    assert supervision.find_supervisors(tmp_path / "root") == []


def test_terminate_stops_the_whole_session_and_leaves_no_zombie(spawn: Spawn) -> None:
    found = spawn("d1", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    assert _wait(lambda: len(procfs.session_members(found.pid, found.start_time)) == 4)
    assert supervision.terminate([(found.pid, found.start_time)], 5.0, 5.0) == [True]
    assert procfs.session_members(found.pid, found.start_time) == []
    assert procfs.read_process(found.pid) is None  # reaped, not a zombie
    assert supervision.terminate([(found.pid, found.start_time)], 5.0, 5.0) == [True]


def test_a_runtime_ignoring_sigterm_gets_sigkill_after_the_grace(spawn: Spawn) -> None:
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "time.sleep(60)")
    found = spawn("d1", [sys.executable, "-c", stubborn])
    other = spawn("d2", ["sleep", "60"])
    assert _wait(lambda: _runtime_started(found) and _runtime_started(other))
    started = time.monotonic()
    targets = [(found.pid, found.start_time), (other.pid, other.start_time)]
    assert supervision.terminate(targets, 0.5, 5.0) == [True, True]
    assert time.monotonic() - started < 5.0  # both at once: one grace period, not two
    assert procfs.session_members(found.pid, found.start_time) == []


def test_a_reused_pid_is_never_signalled() -> None:
    me = procfs.read_process(sys.modules["os"].getpid())
    assert me is not None
    # This process's pid with another start time is "someone else": nothing to stop.
    assert supervision.terminate([(me.pid, me.start_time + 1)], 0.1, 0.1) == [True]
    assert not supervision.alive(me.pid, me.start_time + 1)


def test_watched_reports_the_exit_status_of_our_supervisor(spawn: Spawn) -> None:
    found = spawn("d1", ["sh", "-c", "exit 7"])
    watched = Watched(found.pid, found.start_time)
    assert _wait(lambda: watched.poll() is not None)
    assert watched.poll() in (7, -1)  # the real status, or -1 once it has been reaped
    assert Watched(found.pid, found.start_time + 1).poll() == -1


def test_ports() -> None:
    port = free_port()
    assert supervision.port_is_free(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert not supervision.port_is_free(port)
        started = time.monotonic()
        assert not supervision.wait_port_free(port, 0.3)
        assert time.monotonic() - started < 3
    assert supervision.wait_port_free(port, 1.0)
    assert supervision.port_is_free(supervision.free_port())


def _wait(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
