"""The load-test API on SQLite and PostgreSQL: a run is queued (202) for a serving deployment,
a second one is a 409, limits are 422s naming the field, another tenant gets 404 everywhere,
a stored run's summary, raw files and dashboard are read through the owner's rows only, and a
schedule is off by default and bounded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from factories import bearer, register_and_login
from flowllama.db.tables import Deployment, LoadtestRun
from flowllama.db.types import utcnow
from flowllama.loadtest.platform_settings import results_url
from flowllama.loadtest.store import open_store
from flowllama.platform import Platform
from flowllama.services import loadtests
from loadtest_runs import write_runs

BODY = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client))


@pytest.fixture
def other(client: TestClient) -> dict[str, str]:
    return bearer(register_and_login(client, email="eve@example.com"))


def _serving(client: TestClient, auth: dict[str, str], platform: Platform) -> str:
    created = client.post("/api/deployments", json=BODY, headers=auth)
    assert created.status_code == 202, created.text
    deployment_id: str = created.json()["id"]
    with platform.db.session() as session:
        session.execute(update(Deployment).where(Deployment.id == deployment_id)
                        .values(status="running"))
    return deployment_id


def _start(client: TestClient, auth: dict[str, str], deployment_id: str, **body: Any) -> Any:
    return client.post(f"/api/deployments/{deployment_id}/loadtests", json=body, headers=auth)


def test_a_run_is_queued_and_a_second_one_is_a_409(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _serving(client, auth, platform)
    first = _start(client, auth, deployment_id, duration_s=30, users=2)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "queued" and first.json()["duration_s"] == 30
    second = _start(client, auth, deployment_id)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "loadtest_running"
    listed = client.get(f"/api/deployments/{deployment_id}/loadtests", headers=auth).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == first.json()["id"]


def test_limits_and_bad_input_are_422s_naming_the_field(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _serving(client, auth, platform)
    limits = platform.settings.loadtest
    for body, field in (({"duration_s": limits.max_duration_s + 1}, "duration_s"),
                        ({"users": limits.max_users + 1}, "users"),
                        ({"users": 0}, "users"), ({"rate": 5}, "rate")):
        response = _start(client, auth, deployment_id, **body)
        assert response.status_code == 422, (body, response.text)
        assert field in str(response.json()["error"]), response.text
    schedule = client.put(f"/api/deployments/{deployment_id}/loadtest-schedule",
                          json={"enabled": True, "interval_s": 60}, headers=auth)
    assert schedule.status_code == 422 and schedule.json()["error"]["field"] == "interval_s"


def test_a_deployment_that_is_not_serving_cannot_be_loaded(
        client: TestClient, auth: dict[str, str]) -> None:
    deployment_id = client.post("/api/deployments", json=BODY, headers=auth).json()["id"]
    response = _start(client, auth, deployment_id)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "deployment_not_running"


def test_another_tenant_gets_404_everywhere(
        client: TestClient, auth: dict[str, str], other: dict[str, str],
        platform: Platform) -> None:
    deployment_id = _serving(client, auth, platform)
    run = _start(client, auth, deployment_id).json()["id"]
    base = f"/api/deployments/{deployment_id}"
    for method, path in (("POST", "/loadtests"), ("GET", "/loadtests"),
                         ("GET", f"/loadtests/{run}"),
                         ("GET", f"/loadtests/{run}/files/stats.csv"),
                         ("GET", "/loadtests/dashboard"), ("GET", "/loadtest-schedule"),
                         ("PUT", "/loadtest-schedule")):
        body = {"enabled": False} if method == "PUT" else {} if method == "POST" else None
        response = client.request(method, base + path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get(f"{base}/loadtests", headers={}).status_code == 401


def _stored_runs(platform: Platform, deployment_id: str, tmp: Path,
                 figures: list[dict[str, Any]]) -> list[str]:
    """Runs written to the configured store, with succeeded rows pointing at them."""
    store = open_store(results_url(platform.settings.loadtest, platform.settings.data_dir))
    refs = write_runs(store, "chat", tmp, figures)
    with platform.db.session() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        rows = [LoadtestRun(user_id=deployment.user_id, deployment_id=deployment_id,
                            status="succeeded", duration_s=60, users=2, target=ref.target,
                            run_id=ref.run_id, created_at=utcnow() + timedelta(seconds=i))
                for i, ref in enumerate(refs)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_summary_files_and_dashboard_of_stored_runs(
        client: TestClient, auth: dict[str, str], other: dict[str, str], platform: Platform,
        tmp_path: Path) -> None:
    deployment_id = _serving(client, auth, platform)
    ids = _stored_runs(platform, deployment_id, tmp_path,
                       [{"latency_ms": 100}, {"latency_ms": 110}, {"latency_ms": 95},
                        {"latency_ms": 400}])
    base = f"/api/deployments/{deployment_id}/loadtests"
    detail = client.get(f"{base}/{ids[-1]}", headers=auth).json()
    assert detail["summary"]["schema_version"] == 1 and "stats.csv" in detail["files"]
    raw = client.get(f"{base}/{ids[-1]}/files/stats.csv", headers=auth)
    assert raw.status_code == 200 and raw.text.startswith("Type,Name")
    assert "attachment" in raw.headers["content-disposition"]
    for name in ("..%2F..%2Fjwt_secret", "summary.json.bak", "stats.csv%00"):
        assert client.get(f"{base}/{ids[-1]}/files/{name}", headers=auth).status_code == 404
    dashboard = client.get(f"{base}/dashboard", headers=auth).json()
    assert dashboard["runs"] == 4
    assert "Regression" in dashboard["html"] and "p95 latency" in dashboard["html"]
    assert "<script" not in dashboard["html"] and "style=" not in dashboard["html"]
    assert "free" in dashboard["html"]  # a zero $/h is shown as free, not as a division
    assert client.get(f"{base}/dashboard", headers=other).status_code == 404


def test_a_schedule_is_off_by_default_and_queues_runs_when_due(
        client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    deployment_id = _serving(client, auth, platform)
    url = f"/api/deployments/{deployment_id}/loadtest-schedule"
    assert client.get(url, headers=auth).json()["enabled"] is False
    saved = client.put(url, json={"enabled": True, "interval_s": 3600, "duration_s": 20},
                       headers=auth)
    assert saved.status_code == 200, saved.text
    assert saved.json()["next_run_at"] is not None
    with platform.db.session() as session:
        assert loadtests.queue_due(session) == 0  # not due yet
        later = utcnow() + timedelta(hours=1, seconds=1)
        assert loadtests.queue_due(session, later) == 1
        assert loadtests.queue_due(session, later + timedelta(hours=1)) == 0  # one active
        run = session.scalars(select(LoadtestRun)).one()
        assert (run.trigger, run.duration_s) == ("schedule", 20)
