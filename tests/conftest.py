"""Shared fixtures. Every database test runs on SQLite and on the machine's PostgreSQL.

PostgreSQL comes from ``FLOWLLAMA_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database
``test``, trust auth). Each test session migrates a private schema there, so parallel runs
never collide. Under CI (``CI=true``) an unreachable PostgreSQL fails the run instead of
skipping, so the PostgreSQL variant cannot silently disappear.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowllama.api.app import create_app
from flowllama.db import migrate
from flowllama.db.session import Database
from flowllama.db.tables import Base
from flowllama.devtools.postgres import PostgresUnavailable, private_schema
from flowllama.platform import Platform, build_platform
from flowllama.server import ALL_ROLES
from flowllama.settings import Settings

pytest_plugins = ["tiny_model", "webhook_receiver", "db_proxy", "log_capture"]

POSTGRES_URL = os.environ.get(
    "FLOWLLAMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_JWT_SECRET = "test-secret-" + "x" * 40



@pytest.fixture(autouse=True, scope="session")
def _no_process_left_after_the_session(tmp_path_factory: pytest.TempPathFactory
                                       ) -> Iterator[None]:
    """The suite fails if anything of ours outlives it (a runtime, a supervisor, an agent)."""
    from processes import descendants_of_ours, left_behind, processes_marked_by

    yield
    base = tmp_path_factory.getbasetemp()
    leaked = left_behind(lambda: processes_marked_by(base) + descendants_of_ours())
    assert not leaked, f"processes left running after the test session: {leaked}"


@pytest.fixture(autouse=True)
def _no_process_left_by_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that leaves a process working in its tmp dir (its ``flowllama up``, a runtime or
    supervisor under its data dir) fails, once its fixtures have stopped what they started."""
    from processes import left_behind, processes_marked_by

    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        leaked = left_behind(lambda: processes_marked_by(tmp))
        assert not leaked, f"the test left processes running: {leaked}"


@pytest.fixture(autouse=True)
def _umask_restored() -> Iterator[None]:
    """A command run in-process (CliRunner) sets umask 077 for the whole process
    (private_files.py); each test gets back the umask it started with."""
    before = os.umask(0o077)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """A migrated database of each kind, shared by the session (tables emptied per test)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'flowllama.db'}"
        migrate.upgrade(url)
        yield url
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(private_schema(POSTGRES_URL, "fl_test"))
        except PostgresUnavailable as exc:
            if os.environ.get("CI"):
                raise RuntimeError(f"PostgreSQL is required under CI: {exc}") from exc
            pytest.skip(str(exc))
        migrate.upgrade(url)
        yield url


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        env="test", data_dir=tmp_path / "data", database_url=db_url,
        auth={"jwt_secret": TEST_JWT_SECRET},  # type: ignore[arg-type]
        # No per-account caps unless a test sets them (tests/services/test_quotas.py).
        quotas={"tiers": {"free": {}}},  # type: ignore[arg-type]
        # No test boots a cloud server: any well-formed checksum does.
        clouds={"aws": {"enabled": True}, "gcp": {"enabled": True},  # type: ignore[arg-type]
                "ollama_sha256": "0" * 64},
    )


@pytest.fixture
def platform(settings: Settings, database: Database) -> Iterator[Platform]:
    built = build_platform(settings, db=database)
    yield built


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, ALL_ROLES)) as test_client:
        yield test_client
