"""Migrations: the schema matches the models, and down/up round-trips, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Base

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
