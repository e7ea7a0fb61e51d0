"""Migrations: the schema matches the models, and down/up round-trips, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Base
from flowllama.devtools.postgres import private_schema

REQUIRED_TABLES = {
    "users", "refresh_tokens", "password_reset_tokens", "api_keys", "deployments",
    "instances", "deployment_events", "jobs", "usage_daily", "webhooks", "webhook_deliveries",
}


def test_schema_has_required_tables_and_matches_models(database: Database) -> None:
    assert set(inspect(database.engine).get_table_names()) >= REQUIRED_TABLES
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_foreign_keys_and_indexes(database: Database) -> None:
    inspector = inspect(database.engine)
    deployment_fks = {fk["referred_table"] for fk in inspector.get_foreign_keys("deployments")}
    assert deployment_fks == {"users"}
    job_indexes = {ix["name"] for ix in inspector.get_indexes("jobs")}
    assert {"ix_jobs_ready", "ix_jobs_user_status"} <= job_indexes


def test_downgrade_and_upgrade_round_trip(db_url: str) -> None:
    migrate.downgrade(db_url, "base")
    db = Database(db_url)
    try:
        assert "users" not in inspect(db.engine).get_table_names()
    finally:
        db.dispose()
    migrate.upgrade(db_url)
    db = Database(db_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= REQUIRED_TABLES
    finally:
        db.dispose()


# Each process imports first, then waits for the start file, so all of them migrate at once.
_RACER = """
import sys, time, pathlib
from flowllama.db import migrate
start = pathlib.Path(sys.argv[2])
while not start.exists():
    time.sleep(0.005)
migrate.upgrade(sys.argv[1])
"""


def test_replicas_migrating_a_fresh_schema_together_all_succeed(
        db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        context: AbstractContextManager[str] = nullcontext(url)
    else:
        context = private_schema(db_url.split("?", maxsplit=1)[0], "fl_migrate_race")
    with context as fresh:
        start = tmp_path / "start"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        racers = [subprocess.Popen([sys.executable, "-c", _RACER, fresh, str(start)],
                                   env=env, stderr=subprocess.PIPE, text=True)
                  for _ in range(5)]
        time.sleep(2)  # let every racer finish importing (not an assertion on timing)
        start.touch()
        results = [(racer.wait(timeout=120), racer.communicate()[1]) for racer in racers]
        assert [code for code, _ in results] == [0] * 5, [err for _, err in results]
        db = Database(fresh)
        try:
            assert set(inspect(db.engine).get_table_names()) >= REQUIRED_TABLES
        finally:
            db.dispose()
