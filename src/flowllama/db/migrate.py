"""Apply Alembic migrations programmatically (``flowllama db upgrade`` and start-up).

Every process migrates when it starts, so replicas starting together would race to create the
same tables. The runner therefore holds a lock for the whole upgrade: a PostgreSQL advisory
lock (keyed by the schema, so separate schemas on one server do not wait on each other) on the
connection the migrations run on, or an exclusive file lock next to a SQLite database. The
first process migrates; the others wait, then find the schema at head and do nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from flowllama.db.session import build_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LOCK_NAME = "flowllama.migrate."


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would eat '%' in passwords.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (creating SQLite's folder if needed),
    holding the migration lock so concurrent callers run one after the other."""
    if url.startswith("sqlite"):
        with _sqlite_lock(url):
            command.upgrade(alembic_config(url), revision)
        return
    _locked_upgrade(url, revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _locked_upgrade(url: str, revision: str) -> None:
    """Run the upgrade on one connection that holds a session-level advisory lock."""
    engine = build_engine(url)
    key = text("SELECT hashtext(:name || current_schema())").bindparams(name=LOCK_NAME)
    try:
        with engine.connect() as connection:
            lock_id = connection.execute(key).scalar_one()
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()
            try:
                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
    finally:
        engine.dispose()


@contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate.lock`` (none for in-memory databases)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        yield
        return
    database = Path(path)
    database.parent.mkdir(parents=True, exist_ok=True)
    lock_path = database.with_name(database.name + ".migrate.lock")
    with os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
