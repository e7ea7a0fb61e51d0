"""Telling "the database is unreachable right now" apart from every other database error.

While PostgreSQL restarts (or the network to it drops) requests must answer 503 with
``Retry-After`` — the client may simply try again — not a 500 that says the server is broken.
The pool's pre-ping replaces dead connections once the server is back, so nothing else is
needed to recover. SQLite has no server to lose: only a busy or unopenable file counts.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from flowllama.errors import ServiceUnavailable

RETRY_AFTER_S = 5
_SQLITE_TRANSIENT = ("database is locked", "unable to open", "disk i/o error")


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached; the request can be retried after ``Retry-After``."""

    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("The database is unavailable; retry shortly",
                         headers={"Retry-After": str(RETRY_AFTER_S)})


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (from SQLAlchemy) means the database is unreachable or refusing work
    for now, as opposed to a bad query or a constraint violation."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        return any(text in str(exc.orig).lower() for text in _SQLITE_TRANSIENT)
    return True
