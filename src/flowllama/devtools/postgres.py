"""A private, throw-away schema on a PostgreSQL server, for tests and benchmarks.

Each run gets its own schema (so runs on one shared database never see each other's rows) and
a URL whose connections use it as their ``search_path``; the schema is dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, make_url, text


class PostgresUnavailable(Exception):
    """The server could not be reached (the message names it, without a password)."""


@contextmanager
def private_schema(server_url: str, prefix: str) -> Iterator[str]:
    """A URL on ``server_url`` whose connections use a fresh schema ``<prefix>_<random>``,
    dropped when the ``with`` ends; raises ``PostgresUnavailable`` when the server is not
    reachable. The schema starts empty (run the migrations on the URL)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # OperationalError of whichever driver
        admin.dispose()
        shown = make_url(server_url).render_as_string(hide_password=True)
        raise PostgresUnavailable(f"PostgreSQL not reachable at {shown}: "
                                  f"{str(exc).splitlines()[0]}") from exc
    try:
        sep = "&" if "?" in server_url else "?"
        yield f"{server_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
