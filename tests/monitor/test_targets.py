"""Claiming due instances: each is checked once per interval even with several monitors."""

from __future__ import annotations

import threading

from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.monitor.targets import claim_due

from .conftest import serving_deployment


def test_an_instance_is_claimed_once_per_interval(database: Database) -> None:
    serving_deployment(database, "http://127.0.0.1:1/v1", instances=3)
    first = claim_due(database, interval_s=60)
    assert len(first) == 3
    assert {t.server_url for t in first} == {"http://127.0.0.1:1"}
    assert {t.health_path for t in first} == {"/v1/models"}
    assert claim_due(database, interval_s=60) == []
    assert len(claim_due(database, interval_s=0.0001)) == 3


def test_concurrent_monitors_split_the_work(database: Database) -> None:
    serving_deployment(database, "http://127.0.0.1:1/v1", instances=40)
    claimed: list[list[str]] = []

    def monitor() -> None:
        claimed.append([t.instance_id for t in claim_due(database, interval_s=60)])

    threads = [threading.Thread(target=monitor) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [instance for batch in claimed for instance in batch]
    assert len(every) == 40 and len(set(every)) == 40


def test_only_serving_deployments_are_watched(database: Database) -> None:
    deployment_id, _ = serving_deployment(database, "http://127.0.0.1:1/v1")
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.status = "stopping"
    assert claim_due(database, interval_s=60) == []


def test_ollama_targets_use_its_health_path(database: Database) -> None:
    serving_deployment(database, "http://10.0.0.5:11434/v1", model="llama3.1:8b", cloud="aws")
    [target] = claim_due(database, interval_s=60)
    assert (target.runtime, target.health_path, target.expects_gpu) == ("ollama", "/api/tags",
                                                                        True)
    assert target.server_url == "http://10.0.0.5:11434"
