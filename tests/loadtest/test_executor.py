"""The load-test executor on SQLite and PostgreSQL: it claims a queued run, hands the run a
short-lived key of the owner (restricted to the deployment, only in the environment) and
revokes it afterwards, records where the results are, keeps a failed run's error without the
key, and fails a run that a dead process left running.

The launcher here stands in for loadtest-core's ``run_loadtest`` (whose real Locust runs are
tested in its own tests): it writes a real run into the real store, as that function does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from factories import bearer, register_and_login
from flowllama.db.tables import ApiKey, Deployment, LoadtestRun
from flowllama.db.types import utcnow
from flowllama.loadtest.executor import Launch, LoadtestExecutor
from flowllama.loadtest.platform_settings import results_url
from flowllama.loadtest.runner import LoadtestFailed
from flowllama.loadtest.store import open_store
from flowllama.platform import Platform
from flowllama.services import api_keys
from loadtest_runs import write_runs

BODY = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}


@pytest.fixture
def queued(client: TestClient, platform: Platform) -> str:
    auth = bearer(register_and_login(client))
    deployment_id: str = client.post("/api/deployments", json=BODY, headers=auth).json()["id"]
    with platform.db.session() as session:
        session.execute(update(Deployment).where(Deployment.id == deployment_id)
                        .values(status="running"))
    run = client.post(f"/api/deployments/{deployment_id}/loadtests",
                      json={"duration_s": 10, "users": 1}, headers=auth)
    assert run.status_code == 202, run.text
    run_pk: str = run.json()["id"]
    return run_pk


def _key_row(platform: Platform, secret: str) -> ApiKey:
    with platform.db.session() as session:
        row = api_keys.find_by_secret(session, secret)
        assert row is not None
        session.expunge(row)
        return row


def test_a_run_gets_a_scoped_key_that_is_revoked_after_it(
        queued: str, platform: Platform, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def launcher(launch: Launch) -> dict[str, Any]:
        secret = launch.config.api_key
        assert secret is not None and secret not in repr(launch)
        seen["secret"], seen["config"] = secret, launch.config
        launch.config.validate()  # what run_loadtest checks first
        row = _key_row(platform, secret)
        assert api_keys.is_usable(row) and row.models == ["chat"]
        assert row.expires_at is not None and row.expires_at < utcnow() + timedelta(hours=1)
        store = open_store(results_url(platform.settings.loadtest, platform.settings.data_dir))
        [ref] = write_runs(store, launch.config.target_name, tmp_path, [{"tps": 42.0}])
        return store.read_summary(ref)

    revoked: list[str] = []
    platform.key_revoked_listeners.append(revoked.append)
    executor = LoadtestExecutor(platform, launcher)
    assert executor.run_once() is True
    config = seen["config"]
    assert config.token_api_url == f"{executor.gateway_url()}/v1" and config.model == "chat"
    assert config.weights["backend"] == 0 and config.duration_s == 10 and config.users == 1
    assert config.target_name.startswith("chat-")  # one folder per deployment, not per name
    assert not api_keys.is_usable(_key_row(platform, seen["secret"]))
    assert revoked == [_key_row(platform, seen["secret"]).key_hash]
    with platform.db.session() as session:
        run = session.get(LoadtestRun, queued)
        assert run is not None and run.status == "succeeded"
        assert run.target == config.target_name
        assert run.run_id and run.totals and run.totals["output_tokens_per_s"] == 42.0
    assert executor.run_once() is False  # nothing left


def test_a_failed_run_keeps_its_error_without_the_key(queued: str, platform: Platform) -> None:
    secrets: list[str] = []

    def launcher(launch: Launch) -> dict[str, Any]:
        secrets.append(str(launch.config.api_key))
        raise LoadtestFailed(f"exit status 1: 401 for key {launch.config.api_key}")

    LoadtestExecutor(platform, launcher).run_once()
    with platform.db.session() as session:
        run = session.get(LoadtestRun, queued)
        assert run is not None and run.status == "failed" and run.error
        assert "exit status 1" in run.error and secrets[0] not in run.error
    assert not api_keys.is_usable(_key_row(platform, secrets[0]))


def test_a_run_left_running_by_a_dead_process_fails(queued: str, platform: Platform) -> None:
    with platform.db.session() as session:
        session.execute(update(LoadtestRun).where(LoadtestRun.id == queued).values(
            status="running", started_at=utcnow() - timedelta(hours=1)))
    assert LoadtestExecutor(platform).fail_stale() == 1
    with platform.db.session() as session:
        run = session.get(LoadtestRun, queued)
        assert run is not None and run.status == "failed" and "interrupted" in (run.error or "")



def test_a_run_of_a_deployment_stopped_meanwhile_fails_without_a_key(
        queued: str, platform: Platform) -> None:
    with platform.db.session() as session:
        session.execute(update(Deployment).values(status="stopped"))
    LoadtestExecutor(platform, lambda launch: pytest.fail("must not run")).run_once()
    with platform.db.session() as session:
        run = session.get(LoadtestRun, queued)
        assert run is not None and run.status == "failed" and "stopped" in (run.error or "")
        assert run.api_key_id is None
