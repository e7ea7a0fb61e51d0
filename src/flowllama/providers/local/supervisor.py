"""The per-deployment supervisor process: ``python -m flowllama.providers.local.supervisor``.

Usage (built by :mod:`.supervision`, never by hand)::

    python -m flowllama.providers.local.supervisor --root ROOT --deployment ID \\
        --log-file PATH --log-max-bytes N --log-backups K -- RUNTIME ARGS...

Why a supervisor between FlowLlama and the runtime, rather than the runtime as a direct child:

* **It outlives FlowLlama.** The provisioner starts it in a session of its own, so stopping or
  killing ``flowllama up`` (even with SIGKILL) leaves the model serving; the next start adopts
  it from its record instead of loading a second copy.
* **It owns the runtime's output.** A pipe into FlowLlama would break when FlowLlama exits (and
  the runtime's next write would kill it with SIGPIPE); a plain file would grow without bound.
  The supervisor copies each line (at most 64 KiB) into a size-capped, rotated log file.
* **It fronts an isolated runtime.** With ``--front-port`` (and the key in the environment
  variable ``FLOWLLAMA_RUNTIME_KEY``, removed before the runtime starts), the runtime runs in a
  private network namespace (:mod:`.isolation`) and the supervisor serves its keyed front and
  its egress (:mod:`.keyed_front`, :mod:`.egress`). The front's port is bound before the
  runtime starts, so a taken port fails the start at once.
* **It is never an orphan keeper.** It forwards SIGTERM, SIGINT and SIGHUP to the runtime and
  exits with the runtime's status as soon as the runtime exits, so "supervisor alive" means
  "runtime alive". The runtime gets ``PR_SET_PDEATHSIG`` = SIGKILL, so a SIGKILLed supervisor
  takes its runtime with it; when the runtime exits, whatever it left in the process group is
  sent SIGTERM. Every supervisor is either recorded or found by its command line
  (:func:`.supervision.find_supervisors`) and stopped.

Standard library only: it starts in milliseconds and holds no FlowLlama state or secrets (but
the runtime key of the runtime it fronts).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from types import FrameType
from typing import IO

from flowllama.providers.local import egress, keyed_front
from flowllama.providers.local.supervision import FrontSpec

LINE_LIMIT = 64 * 1024
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# After the runtime exits: how long its last output may take to reach the log.
DRAIN_TIMEOUT_S = 2.0
EXIT_CANNOT_START = 127
TAG = "[flowllama-supervisor]"


@dataclass(frozen=True, slots=True)
class Arguments:
    """The parsed command line."""

    root: str
    deployment: str
    log_file: str
    log_max_bytes: int
    log_backups: int
    command: list[str]
    front: FrontSpec | None = None  # the keyed front of an isolated runtime, if it has one


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """Options before ``--``, the runtime's argument list after it."""
    args = list(argv)
    if "--" not in args or args.index("--") == len(args) - 1:
        raise SystemExit(f"{TAG} usage: ... -- RUNTIME [ARGS...]")
    split = args.index("--")
    parser = argparse.ArgumentParser(prog="flowllama-supervisor")
    parser.add_argument("--root", required=True)
    parser.add_argument("--deployment", required=True)
    # Which of the deployment's servers this is (``DeploymentSpec.slot``); "" for the first.
    parser.add_argument("--slot", default="")
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--log-max-bytes", type=int, required=True)
    parser.add_argument("--log-backups", type=int, required=True)
    # The keyed front of an isolated runtime (see the module docstring); all three or none.
    parser.add_argument("--front-port", type=int)
    parser.add_argument("--front-socket")
    parser.add_argument("--egress-socket")
    options = parser.parse_args(args[:split])
    parts = (options.front_port, options.front_socket, options.egress_socket)
    if options.front_port is not None and options.front_socket and options.egress_socket:
        front = FrontSpec(port=options.front_port, runtime_socket=options.front_socket,
                          egress_socket=options.egress_socket)
    elif parts == (None, None, None):
        front = None
    else:
        parser.error("--front-port, --front-socket and --egress-socket go together")
    return Arguments(
        root=options.root, deployment=options.deployment, log_file=options.log_file,
        log_max_bytes=options.log_max_bytes, log_backups=options.log_backups,
        command=args[split + 1:], front=front,
    )


class _UtcFormatter(logging.Formatter):
    """ISO 8601 UTC timestamps with milliseconds: comparable across machines and time zones."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def build_logger(args: Arguments) -> logging.Logger:
    """A logger writing ``<UTC time> <line>`` to the rotated, size-capped log file."""
    handler = RotatingFileHandler(
        args.log_file, maxBytes=args.log_max_bytes, backupCount=args.log_backups,
        encoding="utf-8",
    )
    handler.setFormatter(_UtcFormatter("%(asctime)s %(message)s"))
    logger = logging.getLogger(f"flowllama.supervisor.{args.deployment}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


class SignalForwarder:
    """Passes termination signals on to the runtime, or holds them until it exists."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._handle)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.pending:
            child.send_signal(signum)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.child is None:
            self.pending.append(signum)
        else:
            self.child.send_signal(signum)


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn`` making the runtime get SIGKILL when this supervisor dies.

    The kernel sends it when the *thread* that forked the runtime exits; that is the main
    thread, which lives until the supervisor exits.
    """
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls it

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the supervisor died before the signal was armed
            os._exit(EXIT_CANNOT_START)

    return arm


def copy_output(stream: IO[bytes], logger: logging.Logger) -> None:
    """Copy the runtime's output into the log, line by line (long lines split), until EOF."""
    while chunk := stream.readline(LINE_LIMIT):
        logger.info("%s", chunk.decode("utf-8", "replace").rstrip("\r\n"))


def end_leftovers() -> None:
    """SIGTERM whatever the runtime left in this process group (not this process itself)."""
    if os.getpgrp() != os.getpid():
        return  # started by hand inside someone else's group: not ours to signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGTERM)


class Front:
    """The keyed front and the egress of an isolated runtime: bound by :meth:`open` (before the
    runtime starts, while this process has one thread), served by :meth:`start` (after)."""

    def __init__(self, spec: FrontSpec) -> None:
        self.spec = spec
        self.key = os.environ.pop(keyed_front.KEY_ENV, "")  # the runtime never sees it
        self.listeners: list[socket.socket] = []

    def open(self) -> None:
        """Bind both listeners; raises ``OSError`` (port taken) or ``ValueError`` (no key)."""
        if not self.key:
            raise ValueError(f"no runtime key in {keyed_front.KEY_ENV}")
        self.listeners = [keyed_front.tcp_listener("127.0.0.1", self.spec.port),
                          keyed_front.unix_listener(self.spec.egress_socket)]

    def start(self) -> None:
        """Serve both (after :meth:`open`). Keyed connections are not capped here: the gateway
        caps its own (see :mod:`.keyed_front`)."""
        front, egress_listener = self.listeners
        keyed_front.serve_heads(
            front, keyed_front.front_handler(self.spec.runtime_socket, self.key), "front",
            limit=None)
        proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
        keyed_front.serve_heads(egress_listener, egress.egress_handler(proxy), "egress")


def supervise(args: Arguments) -> int:
    """Run the runtime until it exits; the exit status mirrors its (128+N for signal N)."""
    logger = build_logger(args)
    forwarder = SignalForwarder()
    forwarder.install()
    front = Front(args.front) if args.front is not None else None
    if front is not None:
        try:
            front.open()
        except (OSError, ValueError) as exc:
            logger.error("%s cannot open the runtime's front on port %s: %s", TAG,
                         front.spec.port, exc)
            return EXIT_CANNOT_START
    try:
        # preexec_fn is unsafe only when other threads may hold locks at fork time; the
        # supervisor is still single-threaded here (the output reader starts after), and no
        # other way arms PR_SET_PDEATHSIG between fork and exec.
        child = subprocess.Popen(  # noqa: S603 - the provisioner's argument list, no shell
            args.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, close_fds=True,
            preexec_fn=die_with_parent(os.getpid()),  # noqa: PLW1509
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.error("%s cannot start %s: %s", TAG, args.command[0], exc)
        return EXIT_CANNOT_START
    forwarder.attach(child)
    if front is not None:
        front.start()
    logger.info("%s deployment %s: runtime started, pid %d", TAG, args.deployment, child.pid)
    assert child.stdout is not None
    reader = threading.Thread(target=copy_output, args=(child.stdout, logger), daemon=True)
    reader.start()
    code = child.wait()
    # Leftovers first: they may hold the output pipe open, which would stall the drain.
    end_leftovers()
    reader.join(DRAIN_TIMEOUT_S)
    how = f"signal {-code}" if code < 0 else f"code {code}"
    logger.info("%s runtime exited with %s", TAG, how)
    return 128 - code if code < 0 else code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    return supervise(parse_arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
