"""Fixtures for the local provisioner: provisioners on a temporary root that always stop every
process they started, the tiny model's directory as the models dir, fake ``ollama`` programs."""

from __future__ import annotations

import contextlib
import socket
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flowllama.providers.local import LocalOptions, LocalProvisioner, supervision
from flowllama.runtimes import LlamaCppRuntime, OllamaRuntime

FAKE_OLLAMA_SCRIPT = Path(__file__).resolve().parents[2] / "runtimes" / "fake_ollama.py"

# One thread per runtime (the suite may run beside other work) and short, bounded waits.
FAST = LocalOptions(threads=1, health_timeout_s=60, prepare_timeout_s=60, probe_timeout_s=10,
                    stop_grace_s=5, kill_wait_s=5, port_wait_s=5)

MakeProvisioner = Callable[..., LocalProvisioner]
# ``reply(conn, head)``: what a test server sends once it has read a connection's request head.
Reply = Callable[[socket.socket, bytes], None]
HeadServer = Callable[[socket.socket, Reply], list[bytes]]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return (tmp_path / "local").resolve()


@pytest.fixture
def models_dir(tiny_model_file: Path) -> Path:
    """Serves ``local/tiny``."""
    return tiny_model_file.parent


@pytest.fixture
def llamacpp() -> None:
    """Skip unless llama-cpp-python's server can run here."""
    runtime = LlamaCppRuntime()
    if not runtime.is_installed():
        pytest.skip(f"llama.cpp runtime not installed: {runtime.install_hint}")


@pytest.fixture
def make_provisioner(root: Path, models_dir: Path) -> Iterator[MakeProvisioner]:
    """``make(options=FAST, root=..., **kwargs)``; afterwards every runtime under every root used
    is stopped, and the test fails if a supervisor survived."""
    roots: set[Path] = set()

    def make(*, options: LocalOptions = FAST, root: Path = root, models_dir: Path = models_dir,
             **kwargs: Any) -> LocalProvisioner:
        roots.add(root)
        return LocalProvisioner(root, models_dir, options, **kwargs)

    yield make
    for used in roots:
        LocalProvisioner(used, models_dir, FAST).shutdown()
        assert supervision.find_supervisors(used.resolve()) == []


@pytest.fixture
def fake_ollama_executable(tmp_path: Path) -> Path:
    """An executable that serves the fake Ollama API (``ollama serve`` on ``$OLLAMA_HOST``)."""
    return _executable(tmp_path / "fake-bin" / "ollama",
                       f"#!{sys.executable}\nimport runpy\n"
                       f"runpy.run_path({str(FAKE_OLLAMA_SCRIPT)!r}, run_name='__main__')\n")


@pytest.fixture
def dying_ollama_executable(tmp_path: Path) -> Path:
    """An ``ollama`` that prints a few lines and exits 1, as a runtime failing at start does."""
    return _executable(tmp_path / "dying-bin" / "ollama",
                       "#!/bin/sh\necho 'loading config'\n"
                       "echo 'Error: could not create blob directory: permission denied' >&2\n"
                       "exit 1\n")


@pytest.fixture
def fast() -> LocalOptions:
    """Short, bounded waits and one thread per runtime."""
    return FAST


@pytest.fixture
def ollama_options() -> Callable[..., LocalOptions]:
    """``ollama_options(executable, **changes)``: FAST with ``ollama`` at ``executable``."""
    def build(executable: Path, **changes: Any) -> LocalOptions:
        return replace(FAST, runtimes={"ollama": OllamaRuntime(str(executable))}, **changes)

    return build


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def head_server() -> Iterator[HeadServer]:
    """``head_server(listener, reply)``: accept on ``listener`` in a thread, one connection at a
    time; read each one's request head, record it, ``reply(conn, head)``, close. Returns the
    list of heads received; the listeners are closed after the test."""
    started: list[tuple[socket.socket, threading.Thread]] = []

    def start(listener: socket.socket, reply: Reply) -> list[bytes]:
        received: list[bytes] = []

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    head = b""
                    while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
                        head += chunk
                    received.append(head)
                    reply(conn, head)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((listener, thread))
        return received

    yield start
    for listener, thread in started:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        thread.join(5)
