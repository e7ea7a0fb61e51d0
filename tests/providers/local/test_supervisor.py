"""The supervisor process: runs the runtime, logs its output rotated, dies with it, and takes it
along when killed. Runtimes here are small Python scripts, so every test takes a second or two."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowllama.providers.local import procfs, supervisor
from flowllama.providers.local.keyed_front import KEY_ENV
from flowllama.providers.local.logs import read_log_tail
from flowllama.providers.local.supervision import FrontSpec, free_port, supervisor_command

Start = Callable[..., subprocess.Popen[bytes]]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _python(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "d1.log"


@pytest.fixture
def start(tmp_path: Path, log_path: Path) -> Iterator[Start]:
    """Start a supervisor around a runtime command, in a session of its own; all are killed
    (whole sessions) at the end."""
    started: list[subprocess.Popen[bytes]] = []
    log_path.parent.mkdir(exist_ok=True)

    def run(runtime: list[str], *, max_bytes: int = 1024 * 1024, backups: int = 2,
            front: FrontSpec | None = None, env: dict[str, str] | None = None,
            ) -> subprocess.Popen[bytes]:
        command = supervisor_command(
            python=sys.executable, root=tmp_path, deployment_id="d1", log_file=log_path,
            max_bytes=max_bytes, backups=backups, runtime_command=runtime, front=front,
        )
        process = subprocess.Popen(command, start_new_session=True, cwd=tmp_path,
                                   env={**os.environ, **(env or {})})
        started.append(process)
        return process

    yield run
    for process in started:
        info = procfs.read_process(process.pid)
        if info is not None:
            for member in procfs.session_members(process.pid, info.start_time):
                os.kill(member.pid, signal.SIGKILL)
        process.wait(10)


def _runtime_pid(supervisor_pid: int) -> int:
    """The runtime: the supervisor's child, once it has started."""
    def child() -> int | None:
        found = [p.pid for p in procfs.all_processes()
                 if p.ppid == supervisor_pid and p.running]
        return found[0] if found else None

    assert _wait_for(lambda: child() is not None)
    pid = child()
    assert pid is not None
    return pid


def test_arguments_split_at_the_double_dash() -> None:
    args = supervisor.parse_arguments([
        "--root", "/r", "--deployment", "d1", "--log-file", "/r/d1.log", "--log-max-bytes",
        "2048", "--log-backups", "3", "--", "ollama", "serve", "--deployment", "x",
    ])
    assert (args.root, args.deployment, args.log_file) == ("/r", "d1", "/r/d1.log")
    assert (args.log_max_bytes, args.log_backups) == (2048, 3)
    assert args.command == ["ollama", "serve", "--deployment", "x"]
    for broken in (["--root", "/r"], ["--root", "/r", "--"]):
        with pytest.raises(SystemExit):
            supervisor.parse_arguments(broken)


def test_front_options_go_together() -> None:
    base = ["--root", "/r", "--deployment", "d1", "--log-file", "/r/d1.log",
            "--log-max-bytes", "2048", "--log-backups", "3"]
    args = supervisor.parse_arguments([*base, "--front-port", "8080", "--front-socket", "s",
                                       "--egress-socket", "e", "--", "ollama", "serve"])
    assert args.front == FrontSpec(port=8080, runtime_socket="s", egress_socket="e")
    assert supervisor.parse_arguments([*base, "--", "ollama", "serve"]).front is None
    for partial in (["--front-port", "8080"], ["--front-socket", "s", "--egress-socket", "e"],
                    ["--front-port", "8080", "--front-socket", "", "--egress-socket", "e"]):
        with pytest.raises(SystemExit):
            supervisor.parse_arguments([*base, *partial, "--", "ollama", "serve"])


def test_the_runtime_key_never_reaches_the_runtime(start: Start, log_path: Path) -> None:
    front = FrontSpec(port=free_port(), runtime_socket="r.sock", egress_socket="e.sock")
    process = start(_python(f"import os; print('key:', os.environ.get({KEY_ENV!r}))"),
                    front=front, env={KEY_ENV: "secret-key"})
    assert process.wait(30) == 0
    assert "key: None" in [TIMESTAMP.sub("", line) for line in read_log_tail(log_path, 5)]


def test_a_taken_front_port_fails_before_the_runtime_starts(
    start: Start, log_path: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "runtime-ran"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        front = FrontSpec(port=taken.getsockname()[1], runtime_socket="r.sock",
                          egress_socket="e.sock")
        process = start(_python(f"open({str(marker)!r}, 'w')"), front=front,
                        env={KEY_ENV: "secret-key"})
        assert process.wait(30) == supervisor.EXIT_CANNOT_START
    assert "cannot open the runtime's front" in read_log_tail(log_path, 5)[-1]
    assert not marker.exists()


def test_output_is_logged_with_utc_times_and_the_exit_status_mirrored(
    start: Start, log_path: Path
) -> None:
    process = start(_python("print('hello'); print('x' * 70000); print('bye'); exit(3)"))
    assert process.wait(30) == 3
    lines = read_log_tail(log_path, 100)
    assert all(TIMESTAMP.match(line) for line in lines)
    messages = [TIMESTAMP.sub("", line) for line in lines]
    assert messages[0].startswith("[flowllama-supervisor] deployment d1: runtime started, pid ")
    # A 70,000-character line is split at 64 KiB, so no log line is unbounded.
    assert messages[1:5] == ["hello", "x" * supervisor.LINE_LIMIT,
                             "x" * (70000 - supervisor.LINE_LIMIT), "bye"]
    assert messages[-1] == "[flowllama-supervisor] runtime exited with code 3"


def test_a_runtime_that_cannot_start_is_logged(start: Start, log_path: Path) -> None:
    process = start(["/nonexistent/runtime", "serve"])
    assert process.wait(30) == supervisor.EXIT_CANNOT_START
    assert "cannot start /nonexistent/runtime" in read_log_tail(log_path, 5)[-1]


def test_the_log_rotates_and_stays_capped(start: Start, log_path: Path) -> None:
    process = start(_python("for n in range(2000): print(f'line {n:05d} ' + 'y' * 40)"),
                    max_bytes=4096, backups=2)
    assert process.wait(30) == 0
    files = sorted(path.name for path in log_path.parent.iterdir())
    assert files == ["d1.log", "d1.log.1", "d1.log.2"]
    assert all(path.stat().st_size <= 4096 for path in log_path.parent.iterdir())
    tail = read_log_tail(log_path, 3)
    assert "line 01998" in tail[0] and "line 01999" in tail[1]
    assert "runtime exited with code 0" in tail[2]


def test_sigterm_is_forwarded_and_the_supervisor_exits_with_the_runtime(
    start: Start, log_path: Path
) -> None:
    script = ("import signal, sys, time\n"
              "def stop(signum, frame):\n"
              "    print('runtime got', signal.Signals(signum).name); sys.exit(0)\n"
              "signal.signal(signal.SIGTERM, stop)\n"
              "print('ready')\n"
              "time.sleep(60)\n")
    process = start(_python(script))
    assert _wait_for(lambda: any("ready" in line for line in read_log_tail(log_path, 5)))
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    messages = [TIMESTAMP.sub("", line) for line in read_log_tail(log_path, 2)]
    assert messages == ["runtime got SIGTERM", "[flowllama-supervisor] runtime exited with code 0"]


def test_a_killed_runtime_ends_the_supervisor_with_128_plus_the_signal(start: Start) -> None:
    process = start(["sleep", "60"])
    os.kill(_runtime_pid(process.pid), signal.SIGKILL)
    assert process.wait(30) == 128 + signal.SIGKILL


def test_a_sigkilled_supervisor_takes_its_runtime_along(start: Start) -> None:
    process = start(["sleep", "60"])
    runtime = _runtime_pid(process.pid)
    runtime_start = procfs.read_process(runtime).start_time  # type: ignore[union-attr]
    process.kill()  # no chance to forward anything: only PR_SET_PDEATHSIG can end the runtime
    process.wait(10)
    assert _wait_for(lambda: not procfs.is_alive(runtime, runtime_start), timeout_s=10)


def test_what_the_runtime_leaves_in_its_group_is_ended(start: Start, tmp_path: Path) -> None:
    pid_file = tmp_path / "orphan.pid"
    # The runtime starts a background process in its group and exits at once.
    process = start(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; exit 0"])
    assert process.wait(30) == 0
    orphan = int(pid_file.read_text())
    assert _wait_for(lambda: procfs.read_process(orphan) is None
                     or not procfs.read_process(orphan).running)  # type: ignore[union-attr]


def test_the_supervisor_imports_no_more_than_it_needs() -> None:
    # It starts for every deployment and lives as long as it: the standard library only.
    code = ("import sys, flowllama.providers.local.supervisor as s; "
            "print(sorted(m for m in ('httpx', 'structlog', 'numpy', 'gguf', "
            "'flowllama.catalog', 'flowllama.runtimes') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
