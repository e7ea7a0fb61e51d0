"""A TCP proxy in front of the test PostgreSQL that a test can cut and restore: "the database
went away" without stopping the machine's real server (which other test runs share).

While cut, every open connection is closed and new ones are accepted and closed at once, as a
restarting server does. Registered for the whole suite in the root conftest
(``pytest_plugins``); ``outage_db_url`` is a migrated private schema reached through it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, suppress

import pytest
from sqlalchemy.engine import make_url

from flowllama.db import migrate
from flowllama.devtools.postgres import PostgresUnavailable, private_schema

POSTGRES_URL = os.environ.get(
    "FLOWLLAMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` until :meth:`cut`, again after :meth:`restore`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._closing = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """The database is gone: drop every connection, refuse new ones."""
        self._up.clear()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closing = True
        self.cut()
        _close(self._listener)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        for sock in (source, target):
            _close(sock)
            with self._lock:
                self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@pytest.fixture
def pg_proxy() -> Iterator[CuttableProxy]:
    url = make_url(POSTGRES_URL)
    proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def outage_db_url(pg_proxy: CuttableProxy) -> Iterator[str]:
    """A migrated private schema on the test PostgreSQL, reached through ``pg_proxy``."""
    with ExitStack() as stack:
        try:  # created and dropped on the server itself, used through the proxy
            direct = stack.enter_context(private_schema(POSTGRES_URL, "fl_outage"))
        except PostgresUnavailable as exc:
            if os.environ.get("CI"):
                raise RuntimeError(f"PostgreSQL is required under CI: {exc}") from exc
            pytest.skip(str(exc))
        url = make_url(direct).set(host="127.0.0.1", port=pg_proxy.port)
        proxied = url.render_as_string(hide_password=False)
        migrate.upgrade(proxied)
        yield proxied
