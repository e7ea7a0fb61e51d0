"""Monitor rounds against loopback servers: a healthy instance, one that is gone, and one whose
health path answers while generation hangs (caught by the deep probe)."""

from __future__ import annotations

from flowllama.db.session import Database
from flowllama.db.tables import Instance
from flowllama.monitor.probes import Target
from flowllama.monitor.service import Monitor, MonitorOptions
from flowllama.monitor.verdicts import HealPolicy
from flowllama.queue import DatabaseQueue
from flowllama.security.runtime_keys import RuntimeKeys
from tiny_model import free_port

from .conftest import FakeServer, serving_deployment


def _monitor(database: Database, keys: RuntimeKeys | None = None, **options: float
             ) -> Monitor:
    settings = {"interval_s": 0.0001, "timeout_s": 1.0, "deep_timeout_s": 0.5, **options}
    return Monitor(database, DatabaseQueue(database), MonitorOptions(**settings),
                   HealPolicy(failures_before_unhealthy=1), runtime_keys=keys)


def _instance(database: Database, instance_id: str) -> Instance:
    with database.session() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return row


def test_a_round_checks_every_instance_and_records_it(database: Database,
                                                      fake_server: FakeServer) -> None:
    _, [alive] = serving_deployment(database, f"{fake_server.url}/v1")
    _, [gone] = serving_deployment(database, f"http://127.0.0.1:{free_port()}/v1")
    seen: list[tuple[Target, bool]] = []
    monitor = _monitor(database)
    monitor.on_result = lambda target, _result, deep: seen.append((target, deep))
    report = monitor.run_round()
    assert (report.checked, report.unhealthy) == (2, 1)
    assert _instance(database, alive).status == "healthy"
    assert _instance(database, alive).last_latency_ms is not None
    assert _instance(database, gone).status == "unhealthy"
    assert "connection refused" in (_instance(database, gone).last_error or "")
    assert sorted(deep for _, deep in seen) == [False, True]  # a new instance is probed deep


def test_probes_carry_the_deployments_runtime_key(database: Database,
                                                 fake_server: FakeServer) -> None:
    keys = RuntimeKeys("platform-secret-for-tests")
    deployment, [instance] = serving_deployment(database, f"{fake_server.url}/v1")
    fake_server.api_key = keys.key(deployment)
    assert _monitor(database, keys).run_round().unhealthy == 0  # health and deep probe pass
    assert _instance(database, instance).status == "healthy"
    assert fake_server.requests == ["GET /v1/models", "POST /v1/chat/completions"]
    # The runtime refuses whoever lacks the key: the same probes without it fail.
    assert _monitor(database).run_round().unhealthy == 1
    assert "HTTP 401" in (_instance(database, instance).last_error or "")


def test_a_hung_generation_is_caught_by_the_deep_probe(database: Database,
                                                       fake_server: FakeServer) -> None:
    fake_server.hang_s = 3.0
    _, [instance_id] = serving_deployment(database, f"{fake_server.url}/v1")
    _monitor(database).run_round()
    row = _instance(database, instance_id)
    assert row.status == "unhealthy" and "generation hangs" in (row.last_error or "")


def test_deep_probes_wait_for_their_interval(database: Database,
                                             fake_server: FakeServer) -> None:
    serving_deployment(database, f"{fake_server.url}/v1")
    monitor = _monitor(database, deep_interval_s=3600)
    monitor.run_round()
    monitor.run_round()
    generations = [r for r in fake_server.requests if r.startswith("POST")]
    assert len(generations) == 1
