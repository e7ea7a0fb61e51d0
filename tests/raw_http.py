"""Reading a server's raw answer off a plain socket, for tests of connection deadlines."""

from __future__ import annotations

import socket


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket's timeout; a close
    with our bytes still unread arrives as a reset, which may swallow the answer)."""
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data
