"""private_schema: a fresh schema used through the URL, gone afterwards; a clear error when the
server is not there."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from conftest import POSTGRES_URL
from flowllama.devtools.postgres import PostgresUnavailable, private_schema


def _schemas() -> set[str]:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT schema_name FROM information_schema.schemata"))
                       .scalars())
    finally:
        engine.dispose()


def test_tables_land_in_the_private_schema_which_is_dropped_afterwards() -> None:
    try:
        with private_schema(POSTGRES_URL, "fl_probe") as url:
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE probe (n int)"))
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            engine.dispose()
            assert schema.startswith("fl_probe_") and schema in _schemas()
    except PostgresUnavailable:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL is not reachable")
    assert schema not in _schemas()


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(PostgresUnavailable) as refused, \
            private_schema("postgresql+psycopg://u:hunter2@127.0.0.1:9/x", "fl_probe"):
        pass
    assert "127.0.0.1:9" in str(refused.value) and "hunter2" not in str(refused.value)
