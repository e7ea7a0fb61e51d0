"""Gateway load reports: the in-memory counter, the rows a report writes (upserted per gateway
and instance, a quiet round keeping the last request, aged-out rows deleted) and the reader
(fresh rows only for load, every row for the last request); and through a real gateway."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import openai
from sqlalchemy import select

from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.session import Database
from flowllama.gateway.balancer import Balancer
from flowllama.gateway.load_report import LoadCounter, LoadRow, write_report
from flowllama.gateway.routes import Upstream
from flowllama.services import gateway_load
from gateway.conftest import RunningGateway, add_deployment, make_owner
from gateway.fake_upstream import fake_upstream

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _upstream(instance_id: str, deployment_id: str) -> Upstream:
    return Upstream(instance_id=instance_id, deployment_id=deployment_id, deployment_name="d",
                    model="m", base_url="http://127.0.0.1:1/v1", price_per_hour=None)


def test_counter_reports_touched_and_busy_instances_once_each() -> None:
    balancer = Balancer(30)
    clock = iter([NOW, NOW + timedelta(seconds=1)])
    counter = LoadCounter(balancer, clock=lambda: next(clock))
    a, b = _upstream("a", "dep"), _upstream("b", "dep")
    balancer.acquire("a")
    counter.opened(a)
    counter.first_token(a, 0.2)
    counter.opened(a)
    counter.first_token(a, 0.4)
    rows = {row.instance_id: row for row in counter.take()}
    assert rows == {"a": LoadRow("a", "dep", 1, 2, 300.0, NOW + timedelta(seconds=1))}
    balancer.release("a")
    # "a" was busy at the previous report: reported once more, now idle; "b" never touched.
    assert counter.take() == [LoadRow("a", "dep", 0, 0, None, None)]
    assert counter.take() == []
    del b


def test_counter_restores_a_failed_report_and_reports_idle_at_stop() -> None:
    balancer = Balancer(30)
    counter = LoadCounter(balancer, clock=lambda: NOW)
    upstream = _upstream("a", "dep")
    balancer.acquire("a")
    counter.opened(upstream)
    counter.restore(counter.take())
    counter.opened(upstream)
    (row,) = counter.take(idle=True)
    assert (row.requests, row.in_flight, row.last_request_at) == (2, 0, NOW)


def test_reports_upsert_keep_last_request_and_age_out(database: Database) -> None:
    deployment_id = add_deployment(database, make_owner(database, "ada@example.com"), "d",
                                   "m", []).id
    write_report(database, "gw-1", [LoadRow("i1", deployment_id, 3, 10, 120.0, NOW)], now=NOW)
    write_report(database, "gw-2", [LoadRow("i1", deployment_id, 1, 4, 60.0,
                                            NOW - timedelta(seconds=1))], now=NOW)
    later = NOW + timedelta(seconds=2)
    write_report(database, "gw-1", [LoadRow("i1", deployment_id, 2, 0, None, None)], now=later)
    with database.session() as session:
        rows = session.scalars(select(GatewayLoad).order_by(GatewayLoad.gateway_id)).all()
        assert [(r.gateway_id, r.in_flight, r.requests, r.last_request_at) for r in rows] == [
            ("gw-1", 2, 0, NOW), ("gw-2", 1, 4, NOW - timedelta(seconds=1))]
        assert gateway_load.in_flight(session, "i1", now=later) == 3
        load = gateway_load.deployment_load(session, deployment_id, now=later)
        assert (load.in_flight, load.requests_per_s, load.ttft_ms) == (3, 2.0, 60.0)
        assert gateway_load.last_request_at(session, deployment_id) == NOW
        # Stale rows (3 intervals without a report) count nothing in flight ...
        stale = later + timedelta(seconds=7)
        assert gateway_load.in_flight(session, "i1", now=stale) == 0
        assert gateway_load.deployment_load(session, deployment_id, now=stale).in_flight == 0
    # ... and rows nobody updated for an hour go, unless their last request is recent enough
    # for idle sleep to need it.
    write_report(database, "gw-3", [LoadRow("i2", deployment_id, 0, 0, None, None)],
                 now=NOW - timedelta(hours=2))
    write_report(database, "gw-4", [], now=NOW + timedelta(hours=2))
    with database.session() as session:
        assert sorted(session.scalars(select(GatewayLoad.gateway_id)).all()) == ["gw-1", "gw-2"]
        assert gateway_load.last_request_at(session, "nothing") is None


def test_a_gateway_reports_what_it_served(running_gateway: RunningGateway,
                                          database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    with fake_upstream() as fake:
        deployment = add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
        client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="bot",
                                           messages=[{"role": "user", "content": "hi"}])
        deadline = time.monotonic() + 20  # reports every 2 s
        while True:
            with database.session() as session:
                rows = session.scalars(select(GatewayLoad).where(
                    GatewayLoad.deployment_id == deployment.id)).all()
            if rows and rows[0].requests:
                break
            assert time.monotonic() < deadline, "no load report"
            time.sleep(0.1)
    (row,) = rows
    assert row.requests == 3 and row.in_flight == 0
    assert row.last_request_at is not None
    assert row.gateway_id == running_gateway.gateway.load_reporter.gateway_id
