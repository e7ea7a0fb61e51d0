"""Run a runtime in a private network namespace: ``python -m flowllama.providers.local.isolation``.

Usage (built by :func:`wrap`, run by the supervisor)::

    python -m flowllama.providers.local.isolation --socket RUNTIME.sock \\
        --egress-socket EGRESS.sock --port N -- RUNTIME ARGS...
    python -m flowllama.providers.local.isolation --probe

Why: Ollama has no API keys, so on a shared host any local process could call its loopback port
and skip the gateway's keys, limits and metering. Here the runtime gets a network namespace of
its own (with a user namespace, so no privilege is needed), whose only interface is its own
``lo``: its TCP port exists only inside, and nothing on this host can connect to it. This
process, inside the namespace, brings ``lo`` up (``SIOCSIFFLAGS``, no ``ip`` binary needed),
then forks a bridge and execs the runtime (so the supervisor's child *is* the runtime):

* Unix socket ``--socket`` → ``127.0.0.1:N`` inside: the supervisor's keyed front
  (:mod:`.keyed_front`) reaches the runtime only this way. The socket lives in the
  provisioner's 0700 directory, so other users cannot open it.
* ``127.0.0.1:<egress port>`` inside → Unix socket ``--egress-socket``: the runtime's
  ``HTTPS_PROXY``/``HTTP_PROXY``, served by the supervisor, so model pulls still work.

The user namespace maps only this user onto itself: the runtime runs as the same user, with no
capabilities on this host. Socket paths may be relative (to the supervisor's working directory,
the provisioner's root), which keeps them under the 108-byte limit of Unix socket addresses.
``--probe`` enters a namespace and exits: 0 when isolation works on this machine.

Standard library only, like the supervisor.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from flowllama.providers.local import keyed_front

MODULE = "flowllama.providers.local.isolation"
CLONE_NEWUSER = 0x10000000  # <linux/sched.h>
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913  # <linux/sockios.h>
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
PR_SET_PDEATHSIG = 1
EXIT_CANNOT_ISOLATE = 126
PROBE_TIMEOUT_S = 15.0
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY",
                   "no_proxy", "ALL_PROXY", "all_proxy")
TAG = "[flowllama-isolation]"
FAILURE_TTL_S = 60.0  # how long a failed probe is believed (see unavailable_reason)

_probe_lock = threading.Lock()
_isolatable: set[str] = set()  # interpreters whose probe succeeded
_failures: dict[str, tuple[float, str]] = {}  # interpreter -> (monotonic time, reason)


def wrap(python: str, runtime_socket: str, egress_socket: str, port: int,
         command: Sequence[str]) -> list[str]:
    """The argument list that runs ``command`` (listening on ``127.0.0.1:port``) isolated."""
    return [python, "-m", MODULE, "--socket", runtime_socket, "--egress-socket", egress_socket,
            "--port", str(port), "--", *command]


def unavailable_reason(python: str) -> str | None:
    """Why runtimes cannot be isolated on this machine, or None when they can.

    A child enters a namespace and exits. A success is remembered for the life of this process;
    a failure only for ``FAILURE_TTL_S`` (it may be transient: the probe timed out on a loaded
    host), so it does not refuse every launch until FlowLlama restarts.
    """
    with _probe_lock:
        if python in _isolatable:
            return None
        failed = _failures.get(python)
        if failed is not None and time.monotonic() - failed[0] < FAILURE_TTL_S:
            return failed[1]
        reason = _probe(python)
        if reason is None:
            _isolatable.add(python)
            _failures.pop(python, None)
        else:
            _failures[python] = (time.monotonic(), reason)
        return reason


def _probe(python: str) -> str | None:
    """Run ``--probe`` with ``python``: None when it succeeds, else why it failed."""
    try:
        probe = subprocess.run(  # noqa: S603 - our own module, no shell
            [python, "-m", MODULE, "--probe"], capture_output=True, text=True,
            timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("FLOWLLAMA_")})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the isolation probe could not run: {exc}"
    if probe.returncode == 0:
        return None
    lines = (probe.stderr or probe.stdout).strip().splitlines()
    return lines[-1] if lines else f"the isolation probe exited with code {probe.returncode}"


def enter_private_network() -> None:
    """Move this (single-threaded) process into new user and network namespaces, map this
    user onto itself, and bring the namespace's ``lo`` up. Raises ``OSError`` with the reason."""
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"unprivileged user namespaces are unavailable here "
                            f"(unshare: {os.strerror(code)})")
    _write("/proc/self/setgroups", "deny")  # required before an unprivileged gid_map
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write(text)


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (exits at once if it already has)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(EXIT_CANNOT_ISOLATE)


def _egress_listener(avoid: int) -> socket.socket:
    """A loopback listener inside the namespace on any port but the runtime's."""
    while True:
        listener = keyed_front.tcp_listener("127.0.0.1", 0)
        if listener.getsockname()[1] != avoid:
            return listener
        listener.close()


def _bridge_in(port: int) -> keyed_front.Handler:
    """Unix connection (from the front) → the runtime's port inside the namespace."""
    def handle(conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", port))
        except OSError:  # the runtime is not listening yet
            keyed_front.answer(conn, "503 Service Unavailable", "the runtime is not ready")
            return
        keyed_front.relay(conn, upstream)

    return handle


def _bridge_out(egress_socket: str) -> keyed_front.Handler:
    """TCP connection (the runtime's proxy requests) → the supervisor's egress socket."""
    def handle(conn: socket.socket) -> None:
        upstream = keyed_front.connect_unix(egress_socket)
        if upstream is None:
            keyed_front.answer(conn, "502 Bad Gateway", "no way out of the namespace")
            return
        keyed_front.relay(conn, upstream)

    return handle


def run_isolated(runtime_socket: str, egress_socket: str, port: int,
                 command: Sequence[str]) -> int:
    """Enter the namespace, start the bridges in a child, exec ``command``; returns only on
    failure (an exit code)."""
    parent = os.getppid()
    try:
        enter_private_network()
        inbound = keyed_front.unix_listener(runtime_socket)
        outbound = _egress_listener(avoid=port)
    except OSError as exc:
        print(f"{TAG} cannot isolate the runtime: {exc}", file=sys.stderr, flush=True)
        return EXIT_CANNOT_ISOLATE
    egress_port = outbound.getsockname()[1]
    bridge = os.fork()  # single-threaded here: safe
    if bridge == 0:
        _die_with_parent(os.getppid())  # the parent is about to become the runtime
        threads = [keyed_front.serve(inbound, _bridge_in(port), "bridge-in"),
                   keyed_front.serve(outbound, _bridge_out(egress_socket), "bridge-out")]
        for thread in threads:
            thread.join()
        os._exit(0)
    inbound.close()
    outbound.close()
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    proxy = f"http://127.0.0.1:{egress_port}"
    env.update(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, https_proxy=proxy, http_proxy=proxy)
    _die_with_parent(parent)  # the supervisor; re-armed, entering the namespace may clear it
    try:
        os.execvpe(command[0], list(command), env)  # noqa: S606 - the runtime, no shell
    except OSError as exc:
        print(f"{TAG} cannot start {command[0]}: {exc}", file=sys.stderr, flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(bridge, signal.SIGKILL)
    return EXIT_CANNOT_ISOLATE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--probe"]:
        try:
            enter_private_network()
        except OSError as exc:
            print(f"{TAG} {exc}", file=sys.stderr)
            return EXIT_CANNOT_ISOLATE
        return 0
    if "--" not in args or args.index("--") == len(args) - 1:
        raise SystemExit(f"{TAG} usage: ... -- RUNTIME [ARGS...]")
    split = args.index("--")
    parser = argparse.ArgumentParser(prog="flowllama-isolation")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--egress-socket", required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(args[:split])
    return run_isolated(options.socket, options.egress_socket, options.port, args[split + 1:])


if __name__ == "__main__":
    sys.exit(main())
