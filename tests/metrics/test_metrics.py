"""``/metrics``: valid exposition on every role's app, route templates (never raw ids),
deployments by status and queue depth read at scrape time, job and webhook outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from factories import bearer, register_and_login
from flowllama.api.app import create_app
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.metrics import REGISTRY
from flowllama.metrics.collectors import PlatformCollector
from flowllama.metrics.jobs import CountingQueue
from flowllama.platform import Platform
from flowllama.queue.base import LeaseLost

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):  # also validates the text
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_http_requests_are_labelled_by_route_template(client: TestClient) -> None:
    headers = bearer(register_and_login(client))
    route = "/api/deployments/{deployment_id}"
    before = value("flowllama_http_requests_total", method="GET", route=route, status="404")
    for _ in range(3):
        client.get("/api/deployments/0123456789abcdef", headers=headers)
    client.get("/no/such/path/42")
    text = client.get("/metrics").text
    assert "0123456789abcdef" not in text and "/no/such/path/42" not in text
    samples = scrape(client)
    key = (("method", "GET"), ("route", route), ("status", "404"))
    assert samples[("flowllama_http_requests_total", key)] == before + 3
    assert ("flowllama_http_request_seconds_count", (("method", "GET"), ("route", route))) in (
        samples)
    assert any(("route", "unmatched") in labels for (_name, labels) in samples)


def test_deployments_by_status_and_queue_depth_at_scrape_time(
        client: TestClient, platform: Platform) -> None:
    with platform.db.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        for number, status in enumerate(["running", "running", "failed", "pending"]):
            session.add(Deployment(user_id=user.id, name=f"d{number}", model="m",
                                   context_size=2048, status=status))
    platform.queue.enqueue(user.id, "reconcile", {})
    samples = scrape(client)
    assert samples[("flowllama_deployments", (("status", "running"),))] == 2
    assert samples[("flowllama_deployments", (("status", "failed"),))] == 1
    assert samples[("flowllama_deployments", (("status", "unhealthy"),))] == 0
    assert samples[("flowllama_queue_jobs", (("state", "ready"),))] == 1
    assert samples[("flowllama_queue_jobs", (("state", "dead"),))] == 0
    assert samples[("flowllama_metrics_source_up", (("source", "queue"),))] == 1


def test_spend_and_queue_age_at_scrape_time(client: TestClient, platform: Platform) -> None:
    with platform.db.session() as session:
        user = User(email="spend@example.com", password_hash="x")
        session.add(user)
        session.flush()
        deployment = Deployment(user_id=user.id, name="d", model="m", context_size=2048,
                                status="running")
        session.add(deployment)
        session.flush()
        session.add_all([
            Instance(deployment_id=deployment.id, provider="terraform", price_per_hour=1.25),
            Instance(deployment_id=deployment.id, provider="terraform", price_per_hour=0.5),
            Instance(deployment_id=deployment.id, provider="local", price_per_hour=None),
            Instance(deployment_id=deployment.id, provider="terraform", price_per_hour=9.0,
                     terminated_at=utcnow()),
        ])
    platform.queue.enqueue(user.id, "reconcile", {})
    samples = scrape(client)
    assert samples[("flowllama_billed_usd_per_hour", (("provider", "terraform"),))] == 1.75
    assert samples[("flowllama_billed_usd_per_hour", (("provider", "local"),))] == 0
    assert samples[("flowllama_queue_oldest_ready_age_seconds", ())] >= 0


def test_monitor_instruments_are_exported(client: TestClient) -> None:
    text = client.get("/metrics").text
    for name in ("flowllama_health_checks_total", "flowllama_health_check_seconds",
                 "flowllama_heal_attempts_total", "flowllama_webhook_deliveries_total",
                 "flowllama_jobs_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text


@pytest.mark.parametrize("roles", [["api"], ["gateway"], ["api", "gateway", "agent"]])
def test_every_role_serves_metrics_and_apps_do_not_collide(platform: Platform,
                                                           roles: list[str]) -> None:
    for _ in range(2):  # a second app in the same process registers nothing twice
        with TestClient(create_app(platform, roles)) as client:
            assert ("flowllama_metrics_source_up", (("source", "deployments"),)) in scrape(
                client)


def test_a_failing_source_is_reported_not_fatal(tmp_path: Any, platform: Platform) -> None:
    broken = Database(f"sqlite:///{tmp_path}/missing/dir/x.db")
    families = {f.name: f for f in PlatformCollector(broken, platform.queue).collect()}
    assert "flowllama_deployments" not in families
    up = {s.labels["source"]: s.value for s in families["flowllama_metrics_source_up"].samples}
    assert up == {"deployments": 0.0, "queue": 1.0, "spend": 0.0}
    broken.dispose()


def test_job_outcomes_are_counted(database: Database, platform: Platform) -> None:
    with database.session() as session:
        user = User(email="jobs@example.com", password_hash="x")
        session.add(user)
    queue = CountingQueue(platform.queue)
    kind = "metrics-test"
    start = {o: value("flowllama_jobs_total", kind=kind, outcome=o)
             for o in ("acked", "retried", "dead_lettered", "lease_lost")}
    for _ in range(3):
        queue.enqueue(user.id, kind, {}, max_attempts=1 if _ == 2 else 3)
    first = queue.lease()
    assert first is not None
    queue.ack(first)
    with pytest.raises(LeaseLost):
        queue.ack(first)
    second = queue.lease()
    assert second is not None
    queue.retry(second, "try again")
    third = queue.lease()
    assert third is not None
    queue.dead_letter(third, "permanent")
    delta = {o: value("flowllama_jobs_total", kind=kind, outcome=o) - start[o] for o in start}
    assert delta == {"acked": 1, "retried": 1, "dead_lettered": 1, "lease_lost": 1}
    assert queue.depth().dead == 1


def test_metrics_only_listener_for_roles_without_an_app(platform: Platform) -> None:
    import httpx

    from flowllama.metrics.exposition import serve_metrics

    server = serve_metrics(platform.db, platform.queue, "127.0.0.1", 0, platform.loops)
    try:
        port = server.server_address[1]
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        server.stop()
    assert response.status_code == 200
    assert "flowllama_queue_jobs" in response.text
    assert "flowllama_health_checks" in response.text
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_stopping_the_metrics_listener_closes_its_socket(platform: Platform) -> None:
    """``serve agent`` stops the listener with ``stop()``: the port is free afterwards (a
    ``shutdown()`` alone would leave the socket listening until the process exits)."""
    import socket

    from flowllama.metrics.exposition import serve_metrics

    server = serve_metrics(platform.db, platform.queue, "127.0.0.1", 0, platform.loops)
    port = server.server_address[1]
    server.stop()
    assert server.socket.fileno() == -1
    with socket.create_server(("127.0.0.1", port)):  # the same port binds again
        pass


def test_the_listener_is_not_ready_while_a_loop_of_its_process_is_dead(
        platform: Platform) -> None:
    """``serve agent`` and ``serve monitor`` have no HTTP app: their probes call ``/ready`` on
    this listener, which must see the process's loops as the HTTP roles' ``/ready`` does."""
    import httpx

    from flowllama.metrics.exposition import serve_metrics

    working = platform.loops.register("agent-worker-1")
    working.succeeded()
    server = serve_metrics(platform.db, platform.queue, "127.0.0.1", 0, platform.loops)
    url = f"http://127.0.0.1:{server.server_address[1]}/ready"
    try:
        ready = httpx.get(url, timeout=5)
        platform.loops.register("agent-sweeper").died()
        dead = httpx.get(url, timeout=5)
        failing = platform.loops.register("monitor")
        failing.stale_after_s = 0
        failing.failed(RuntimeError("connection to db.internal:5432 refused"))
        operators = httpx.get(url, timeout=5)
    finally:
        server.stop()
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "database": "ok", "loops": ["agent-worker-1"]}
    assert dead.status_code == 503 and dead.headers["retry-after"] == "5"
    assert dead.json()["error"]["code"] == "not_ready"
    assert dead.json()["error"]["loops"] == {"agent-sweeper": "stopped unexpectedly"}
    # An operators' port: the listener shows a failing loop's error text, not just its class.
    assert "RuntimeError: connection to db.internal:5432 refused" in operators.json()[
        "error"]["loops"]["monitor"]
