"""The provisioner's side of supervision: start a supervisor, find it again, stop it for sure.

A supervisor (:mod:`.supervisor`) is started in a new session, so its pid is also its session
and process-group id and everything it starts shares them; stopping a deployment signals that
group, then checks ``/proc`` until no process of the session runs. Supervisors carry their root
and deployment id on their command line, so one without a record (FlowLlama killed between
spawning it and writing the record) is still found and stopped. The provisioner keeps its
children's ``Popen`` objects here and reaps them, so they leave no zombies behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flowllama.providers.local import procfs
from flowllama.providers.naming import NAME_PREFIX, deployment_id_from_name

SUPERVISOR_MODULE = "flowllama.providers.local.supervisor"
POLL_INTERVAL_S = 0.05

# The supervisors this process started, by (pid, start time), until reaped.
_children: dict[tuple[int, int], subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Supervised:
    """A supervisor process: its identity, the deployment it serves and its slot."""

    pid: int
    start_time: int
    deployment_id: str
    slot: str = ""

    @property
    def server_key(self) -> str:
        """``DeploymentSpec.server_key`` of the server it runs (what records are keyed on)."""
        return f"{self.deployment_id}-{self.slot}" if self.slot else self.deployment_id


@dataclass(frozen=True, slots=True)
class FrontSpec:
    """Where a supervisor fronts an isolated runtime: the advertised loopback ``port``, and the
    Unix sockets (relative to the supervisor's working directory, the root) of the runtime and
    of its egress."""

    port: int
    runtime_socket: str
    egress_socket: str


def supervisor_command(
    *, python: str, root: Path, deployment_id: str, log_file: Path, max_bytes: int,
    backups: int, runtime_command: Sequence[str], slot: str = "",
    front: FrontSpec | None = None,
) -> list[str]:
    """The supervisor's argument list, wrapping ``runtime_command``; with ``front``, it serves
    the keyed front of an isolated runtime (:mod:`.keyed_front`)."""
    # The slot is passed only when set, so the first server's command line is as before.
    slot_option = ["--slot", slot] if slot else []
    front_options = [] if front is None else [
        "--front-port", str(front.port), "--front-socket", front.runtime_socket,
        "--egress-socket", front.egress_socket]
    return [
        python, "-m", SUPERVISOR_MODULE, "--root", str(root), "--deployment", deployment_id,
        *slot_option, "--log-file", str(log_file), "--log-max-bytes", str(max_bytes),
        "--log-backups", str(backups), *front_options, "--", *runtime_command,
    ]


def spawn(
    deployment_id: str, command: Sequence[str], env: Mapping[str, str], cwd: Path,
    slot: str = "",
) -> Supervised:
    """Start the supervisor ``command`` in its own session; returns once its identity is known.

    ``Popen`` returns after the ``exec``, so the process already shows its own command line.
    """
    process = subprocess.Popen(  # noqa: S603 - an argument list built here, no shell
        list(command), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
        start_new_session=True,
    )
    # Read before registering it for reaping: until reaped, /proc keeps its entry even if it
    # has already exited, so its start time is always known.
    info = procfs.read_process(process.pid)
    start_time = info.start_time if info is not None else 0
    with _children_lock:
        _children[(process.pid, start_time)] = process
    return Supervised(pid=process.pid, start_time=start_time, deployment_id=deployment_id,
                      slot=slot)


def exit_code(pid: int, start_time: int) -> int | None:
    """The exit status of a supervisor this process started, or None if unknown or running."""
    with _children_lock:
        process = _children.get((pid, start_time))
    return None if process is None else process.poll()


def reap_children() -> None:
    """Collect every exited supervisor this process started (no zombies)."""
    with _children_lock:
        for key, process in list(_children.items()):
            if process.poll() is not None:
                del _children[key]


def find_supervisors(root: Path) -> list[Supervised]:
    """Running supervisors started for ``root`` (by any process), from their command lines."""
    found = []
    for info in procfs.all_processes():
        if not info.running:
            continue
        argv = procfs.command_line(info.pid)
        server = _server_of(argv, root) if argv else None
        if server is not None:
            found.append(Supervised(info.pid, info.start_time, *server))
    return found


def _server_of(argv: list[str], root: Path) -> tuple[str, str] | None:
    """(deployment id, slot) from a supervisor's command line under ``root``, else None."""
    if argv[1:3] != ["-m", SUPERVISOR_MODULE] or "--" not in argv:
        return None
    options = argv[3:argv.index("--")]
    values = dict(zip(options[::2], options[1::2], strict=False))
    if values.get("--root") != str(root):
        return None
    deployment, slot = values.get("--deployment", ""), values.get("--slot", "")
    key = f"{deployment}-{slot}" if slot else deployment
    # Only ids that can name a record: anything else is not one of ours (and must never
    # reach a file name).
    if not deployment_id_from_name(NAME_PREFIX + deployment) or not deployment_id_from_name(
            NAME_PREFIX + key):
        return None
    return deployment, slot


def alive(pid: int, start_time: int) -> bool:
    """Whether the supervisor (pid, start time) still runs."""
    reap_children()
    return procfs.is_alive(pid, start_time)


def terminate(
    targets: Sequence[tuple[int, int]], grace_s: float, kill_wait_s: float
) -> list[bool]:
    """Stop the sessions of the supervisors ``targets`` = [(pid, start time)]; all at once.

    SIGTERM to each process group, up to ``grace_s`` to exit, then SIGKILL to whatever of the
    session is left and up to ``kill_wait_s`` more. Returns, per target, whether no process of
    its session runs any more.
    """
    for pid, start_time in targets:
        _signal_session(pid, start_time, signal.SIGTERM)
    if _wait_all_gone(targets, grace_s):
        reap_children()  # the last one may have exited after the previous reap: no zombie
        return [True] * len(targets)
    for pid, start_time in targets:
        _signal_session(pid, start_time, signal.SIGKILL)
    _wait_all_gone(targets, kill_wait_s)
    results = [not _session_left(pid, start_time) for pid, start_time in targets]
    reap_children()
    return results


def _signal_session(pid: int, start_time: int, signum: int) -> None:
    members = procfs.session_members(pid, start_time)
    if not members:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    for member in members:  # a runtime may have moved some children to a group of their own
        if member.pgid != pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member.pid, signum)


def _session_left(pid: int, start_time: int) -> bool:
    reap_children()
    return bool(procfs.session_members(pid, start_time))


def _wait_all_gone(targets: Sequence[tuple[int, int]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if not any(_session_left(pid, start) for pid, start in targets):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)


def free_port() -> int:
    """A loopback TCP port that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server could bind ``127.0.0.1:port`` now (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_port_free(port: int, timeout_s: float) -> bool:
    """Poll until ``port`` is free, for at most ``timeout_s``; whether it is."""
    deadline = time.monotonic() + timeout_s
    while not port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


class Watched:
    """A recorded supervisor seen through ``poll()``, as ``wait_healthy`` expects a process.

    For a supervisor this process started, ``poll()`` is its real exit status; for one adopted
    from a record it is -1 once the process is gone.
    """

    def __init__(self, pid: int, start_time: int) -> None:
        self.pid = pid
        self.start_time = start_time

    def poll(self) -> int | None:
        code = exit_code(self.pid, self.start_time)
        if code is not None:
            return code
        return None if alive(self.pid, self.start_time) else -1
